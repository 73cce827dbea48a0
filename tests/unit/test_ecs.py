from __future__ import annotations

from logjet.wire import Entry, Source
from processor.ecs import to_document
from processor.parsers import parse_line


def test_tags_and_attrs_become_ecs_fields_and_labels() -> None:
    source = Source("container:h:1:2:ab", "container", "h", "c", "/var/log/x.log",
                    {"container.id": "abc", "kubernetes.pod.name": "web", "team": "shop", "event.id": "forged"})
    entry = Entry(7, 1, "hello", (), {"log.iostream": "stderr", "log.syslog.severity.code": 3})
    _, doc = to_document(source, entry, parse_line(entry.message, 1), "logjet", "default", "now")
    assert doc["container"] == {"id": "abc"} and doc["kubernetes"] == {"pod": {"name": "web"}}
    assert doc["log"]["syslog"] == {"severity": {"code": 3}} and doc["log"]["iostream"] == "stderr"
    assert doc["labels"] == {"team": "shop", "event_id": "forged"}
    assert doc["event"]["id"] != "forged"

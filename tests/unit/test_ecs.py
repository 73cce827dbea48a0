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


def test_fields_shared_by_a_source_are_never_changed_through_one_document() -> None:
    import copy

    from processor.ecs import source_fields

    source = Source("container:h:1:2:ab", "container", "h", "c", "/x.log",
                    {"container.id": "abc", "team": "shop"})
    base = source_fields(source)
    before = copy.deepcopy(base)
    first = Entry(0, 1, "one", (), {"container.runtime": "cri", "stream_x": "1", "log.file.line": 3})
    _, doc1 = to_document(source, first, parse_line("one", 1), "d", "n", "now", base=base)
    _, doc2 = to_document(source, Entry(5, 1, "two"), parse_line("two", 1), "d", "n", "now", base=base)
    assert base == before
    assert doc1["container"] == {"id": "abc", "runtime": "cri"} and doc1["labels"] == {"team": "shop", "stream_x": "1"}
    assert doc2["container"] == {"id": "abc"} and doc2["labels"] == {"team": "shop"}
    assert doc1["log"]["file"] == {"path": "/x.log", "line": 3} and doc2["log"]["file"] == {"path": "/x.log"}

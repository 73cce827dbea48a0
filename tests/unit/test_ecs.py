from __future__ import annotations

import copy

from logjet.wire import Entry, Source
from processor.ecs import source_fields, to_document
from processor.parsers import Parsed, parse_line


def _doc(source: Source, entry: Entry, parsed: Parsed | None = None) -> dict:
    return to_document(source, entry, parsed or parse_line(entry.message, 1), "logjet", "default", "now")[1]


def test_tags_and_attrs_become_ecs_fields_and_labels() -> None:
    source = Source("container:h:1:2:ab", "container", "h", "c", "/var/log/x.log",
                    {"container.id": "abc", "kubernetes.pod.name": "web", "team": "shop", "event.id": "forged"})
    entry = Entry(7, 1, "hello", (), {"log.iostream": "stderr", "log.syslog.severity.code": 3})
    doc = _doc(source, entry)
    assert doc["container"] == {"id": "abc"} and doc["kubernetes"] == {"pod": {"name": "web"}}
    assert doc["log"]["syslog"] == {"severity": {"code": 3}} and doc["log"]["iostream"] == "stderr"
    assert doc["labels"] == {"team": "shop", "event_id": "forged"}
    assert doc["event"]["id"] != "forged"


def test_fields_shared_by_a_source_are_never_changed_through_one_document() -> None:
    source = Source("container:h:1:2:ab", "container", "h", "c", "/x.log",
                    {"container.id": "abc", "team": "shop"})
    base = source_fields(source)
    before = copy.deepcopy(base)
    first = Entry(0, 1, "one", (), {"host.ip": "10.0.0.7", "stream_x": "1", "log.file.line": 3})
    _, doc1 = to_document(source, first, parse_line("one", 1), "d", "n", "now", base=base)
    _, doc2 = to_document(source, Entry(5, 1, "two"), parse_line("two", 1), "d", "n", "now", base=base)
    assert base == before
    assert doc1["host"] == {"name": "h", "ip": "10.0.0.7"} and doc2["host"] == {"name": "h"}
    assert doc1["labels"] == doc2["labels"] == {"team": "shop"} and doc1["json"] == {"stream_x": "1"}
    assert doc1["log"]["file"] == {"path": "/x.log", "line": 3} and doc2["log"]["file"] == {"path": "/x.log"}


def test_content_never_writes_a_scope_field_and_keeps_its_claim_under_json() -> None:
    source = Source("container:n:evil", "container", "n", "n", None,
                    {"kubernetes.namespace": "evil", "container.name": "x-1"})
    line = ('{"msg":"hi","service":"payments","kubernetes":{"namespace":"bank"},"kubernetes.namespace":"bank",'
            '"labels.team":"payments","container":{"labels":{"team":"payments"}}}')
    doc = _doc(source, Entry(0, 1, line, (), {"kubernetes.namespace": "bank", "labels.team": "payments"}))
    assert doc["kubernetes"] == {"namespace": "evil"} and doc["container"] == {"name": "x-1"}
    assert "labels" not in doc
    assert doc["service"] == {"name": "payments"}  # a name, within the namespace the line was written in
    assert doc["json"] == {"kubernetes": {"namespace": "bank"}, "kubernetes.namespace": "bank",
                           "labels.team": "payments", "container": {"labels": {"team": "payments"}}}
    # Whatever a parser returns (a user function's dict, a regex's groups): the same rule.
    parsed = Parsed("m", None, None, {"kubernetes.pod.name": "p", "container.labels.team": "payments",
                                      "labels.team": "payments", "team": "payments", "url.path": "/x"})
    doc = _doc(source, Entry(1, 1, "m"), parsed)
    assert doc["kubernetes"] == {"namespace": "evil"} and "labels" not in doc and doc["url"] == {"path": "/x"}
    assert doc["json"] == {"kubernetes.pod.name": "p", "container.labels.team": "payments",
                           "labels.team": "payments", "team": "payments"}


def test_content_never_overwrites_what_the_source_set() -> None:
    source = Source("file:h:1:2:ab", "file", "node-1", "c-1", "/var/log/pay.log",
                    {"service.name": "payments", "team": "payments"})
    line = '{"msg":"hi","service":{"name":"evil","version":"2.1"},"host.name":"elsewhere"}'
    parsed = parse_line(line, 1)
    parsed.fields.update({"log.file.path": "/etc/passwd", "agent.id": "forged", "json.x": 1, "event.id": "forged"})
    doc = _doc(source, Entry(0, 1, line), parsed)
    assert doc["service"] == {"name": "payments", "version": "2.1"} and doc["labels"] == {"team": "payments"}
    assert doc["host"] == {"name": "node-1"} and doc["log"]["file"] == {"path": "/var/log/pay.log"}
    assert doc["agent"]["id"] == "c-1" and doc["event"]["id"] != "forged"
    assert doc["json"] == {"host.name": "elsewhere", "service.name": "evil", "log.file.path": "/etc/passwd",
                           "agent.id": "forged", "json.x": 1, "event.id": "forged"}


def test_content_puts_only_scalars_at_ecs_paths() -> None:
    source = Source("file:h:1:2:ab", "file", "h", "c", "/x.log", {})
    parsed = Parsed("m", None, None, {"service.name": {}, "http.request.method": ["GET"], "url.path": "/x",
                                      "user.id": None})
    doc = _doc(source, Entry(0, 1, "m"), parsed)
    assert "service" not in doc and "http" not in doc and doc["url"] == {"path": "/x"} and doc["user"] == {"id": None}
    assert doc["json"] == {"service.name": {}, "http.request.method": ["GET"]}

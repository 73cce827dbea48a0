"""The compiled core's whole-batch transform against the Python path it replaces, at batch level.

``Transform.__call__`` (``logjet._core.transform_batch``, with the records it hands back run through the reference in
place) and ``Transform.reference`` (the Python path) get the same records; for every input the documents must be
the same **bytes** in the same order, with the same ids, ``event.hash`` values and origins, and the dead letters the
same kind, reason, original and extra. The records: the benchmark corpus, every Loghub sample and golden line inside
collector records, third-party records (invalid UTF-8, CRLF, empty), records that break the wire format in every
way ``logjet/wire.py`` names, source tags that clash with content fields, attrs, flags, ``keep_original`` and
patterns on and off, generated records, and user-defined parsers that apply to some records of a batch. Where the
core is expected to decide a record itself, the test also checks that it did (``_core.transform_batch``'s
hand-backs), so the comparison is not the reference against itself. The core's documents are its bulk buffer: the
whole bulk body is compared with the one ``encode_bulk`` writes of the reference's documents.
"""

from __future__ import annotations

import fnmatch
import json
from array import array
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import corpus
from logjet import _core
from logjet.config import ElasticsearchSettings, ParserRule, ProcessorSettings
from logjet.timeparse import to_ns
from logjet.wire import Batch, Entry, Source, encode_batch
from processor.parsers.user import UserParsers
from processor.transform import Transform, _wire_header
from shippers.elasticsearch.encoder import BulkDocs, encode_bulk
from tests.unit.test_core_differential import _json_line, _line

GOLDEN = Path(__file__).parent / "golden"
NOW = to_ns(2026, 11, 25, 12, 0, 0)
WIRE = [("logjet-wire", b"1"), ("content-type", b"application/vnd.logjet.batch+json")]


class FakeRecord:
    """The methods of confluent_kafka.Message the transform reads."""

    __slots__ = ("_headers", "_offset", "_partition", "_timestamp", "_topic", "_value")

    def __init__(self, value: bytes | None, headers: list[tuple[str, bytes | None]] | None, offset: int = 0,
                 topic: str | None = "logs", partition: int | None = 0, timestamp: int = 1_795_000_000_000) -> None:
        self._value, self._headers, self._offset = value, headers, offset
        self._topic, self._partition, self._timestamp = topic, partition, timestamp

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes | None]] | None:
        return self._headers

    def topic(self) -> str | None:
        return self._topic

    def partition(self) -> int | None:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp)

    def __repr__(self) -> str:
        return f"FakeRecord({self._value!r:.200}, {self._headers!r})"


def _transform(keep_original: bool = False, patterns: bool = True, parsers: list[ParserRule] | None = None
               ) -> Transform:
    t = Transform(ProcessorSettings(keep_original=keep_original, patterns=patterns, parsers=parsers or []),
                  ElasticsearchSettings())
    t.clock = lambda: 1_800_000_000_123_456_789
    t.topic_ids = {("logs", 3): "q1w2e3"}
    return t


def handed_back(records: list[FakeRecord], parsers: list[ParserRule] | None = None) -> list[int]:
    """The indexes of the records the core leaves to the reference (with ``parsers``: the user rules)."""
    rules = _core.SourceRules(UserParsers(parsers).source_conditions()) if parsers else None
    return _core.transform_batch(
        [r.value() for r in records], [_wire_header(r.headers()) for r in records],
        [r.topic() or "" for r in records], [r.partition() or 0 for r in records], [r.offset() for r in records],
        [r.timestamp()[1] for r in records], [""] * len(records), "d", "n", "i", False, True, rules=rules)[5]


def check(records: list[FakeRecord], keep_original: bool = False, patterns: bool = True,
          parsers: list[ParserRule] | None = None) -> int:
    """Assert the core's transform equals the reference on ``records``; return the number of documents."""
    t = _transform(keep_original, patterns, parsers)
    got, ref = t(records), t.reference(records)
    assert isinstance(got.docs, BulkDocs)
    assert got.docs.body(0, len(got.docs)) == encode_bulk(ref.docs)  # the whole bulk body, byte for byte
    assert len(got.docs) == len(ref.docs)
    for pos, ((gid, gbody), (rid, rbody)) in enumerate(zip(got.docs, ref.docs, strict=True)):
        if gbody != rbody:
            same_json = orjson.loads(gbody) == orjson.loads(rbody)
            pytest.fail(f"document {pos} differs (equal as JSON: {same_json}):\n{gbody!r}\n{rbody!r}\n"
                        f"from {ref.origins[pos]!r}")
        assert gid == rid
    assert list(got.hashes) == ref.hashes
    assert list(got.origins) == ref.origins
    assert [(id(d.record), d.kind, d.reason, d.original, d.extra) for d in got.dead] == \
           [(id(d.record), d.kind, d.reason, d.original, d.extra) for d in ref.dead]
    return len(got.docs)


def _wire(source: Source, entries: list[Entry], offset: int = 0) -> FakeRecord:
    return FakeRecord(encode_batch(Batch(source, entries))[1], list(WIRE), offset)


SOURCES = [
    Source("file:a", "file", "host-a", "col-1", "/var/log/a.log"),
    Source("container:b", "container", "host-b", "col-1", None, {
        "container.id": "c0ffee", "container.name": "shop-1", "kubernetes.namespace": "shop",
        "kubernetes.pod.name": "shop-7d9f", "kubernetes.labels.app": "shop", "team": "payments",
        "service.name": "cart"}),
    Source("syslog:c", "syslog", "", "", None, {"labels.env": "prod", "event.id": "no", "log.level": "tagged",
                                               "host.name": "tag-host", "host": "flat", "log.offset": "99"}),
    Source("kafka/x", "kafka", "h", "", "", {}),
]


def _records_of(lines: list[str], per_record: int = 500, attrs: dict[str, Any] | None = None) -> list[FakeRecord]:
    records = []
    for n, start in enumerate(range(0, len(lines), per_record)):
        source = SOURCES[n % len(SOURCES)]
        entries = [Entry(start + i, NOW + i, line, ("truncated",) if i % 7 == 0 else (), attrs if i % 3 else None)
                   for i, line in enumerate(lines[start:start + per_record])]
        records.append(_wire(source, entries, n))
    return records


def test_benchmark_corpus_byte_for_byte() -> None:
    records = [FakeRecord(value, headers, i) for i, (_, value, headers) in enumerate(corpus.wire_records(6000, 500))]
    assert handed_back(records) == []
    assert check(records) == 6000
    assert check(records[:4], keep_original=True, patterns=False) == 2000


def test_loghub_samples_in_wire_records() -> None:
    lines = corpus.loghub_lines()
    assert len(lines) >= 14_000
    records = _records_of(lines, attrs={"log.syslog.severity.name": "warning", "source.ip": "10.0.0.1"})
    assert handed_back(records) == []
    assert check(records) == len(lines)


def test_golden_lines_in_wire_records() -> None:
    lines = [c["input"] for c in json.loads((GOLDEN / "parsers" / "lines.json").read_text())["cases"]]
    lines += [line for name in ("cri.log", "docker-json.log")
              for line in (GOLDEN / "containers" / name).read_text().splitlines()]
    lines += [c["input"] for c in json.loads((GOLDEN / "syslog" / "messages.json").read_text())]
    records = _records_of(lines, per_record=1)
    assert handed_back(records) == []  # header recognition runs in the core: every golden line is its own
    assert check(records, keep_original=True) == len(lines)


def test_third_party_records() -> None:
    values = [b"plain line", b"crlf line\r\n", b"cr cr\r\r\n", b"\n", b"", None, b"\xff\xfe bad \xc3(", b"ok\n\n",
              b"\xed\xa0\x80 surrogate bytes", b"\xf0\x9f\x98 cut emoji", b'{"msg":"json","level":"warn"}\n',
              b"<13>Nov 25 11:59:00 host app: syslog over kafka", "日本語\n".encode(), b"a\x00b", b"\r"]
    records = [FakeRecord(v, None if i % 2 else [("other", b"x")], 10 + i, "logs", 3 if i % 3 else 0)
               for i, v in enumerate(values)]
    records.append(FakeRecord(b"no topic", [], 5, None, None))
    records.append(FakeRecord(b"header without value", [("logjet-wire", None)], 6))
    assert handed_back(records) == []
    assert check(records) == len(records)


BROKEN = [
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m"]]}', [("logjet-wire", b"2")]),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m"]]}', [("logjet-wire", "1")]),  # a str, not bytes
    (b"", WIRE), (None, WIRE), (b"not json", WIRE), (b"[1]", WIRE), (b'{"v":2}', WIRE), (b'{"v":"1"}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":{}}', WIRE),
    (b'{"v":1,"source":{"id":"s"},"entries":[[1,2,"m"]]}', WIRE),
    (b'{"v":1,"source":[],"entries":[[1,2,"m"]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k","tags":[1]},"entries":[[1,2,"m"]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m",[],{},6]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[["1",2,"m"]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2.0,"m"]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,3]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m",[1]]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m","f"]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m",[],{"":1}]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m",[],{"a":null}]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m",[],{"a":[1]}]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m",[],null]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m"]]} trailing', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"\xff"]]}', WIRE),
    # Accepted by Python in ways the core leaves to it: the same documents either way.
    (b'{"v":1.0,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m"]]}', WIRE),
    (b'{"v":true,"source":{"id":"s","kind":"k","host":7,"tags":{"a.b":1}},"entries":[[1,2,"m"]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[18446744073709551616,2,"m"]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"\\ud800 lone"]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m",[],{"big":99999999999999999999999}]]}', WIRE),
    (b'{"v":1,"source":{"id":"s","kind":"k","tags":0},"entries":[[1,2,"m"]]}', WIRE),
]


def test_broken_wire_records_dead_letter_as_the_reference_does() -> None:
    good = _wire(SOURCES[1], [Entry(1, NOW, "between the broken ones", (), {"a": 1})])
    records = [FakeRecord(v, list(h), i) for i, (v, h) in enumerate(BROKEN)]
    mixed = [x for r in records for x in (good, r)]
    back = handed_back(mixed)
    assert set(back) <= set(range(1, len(mixed), 2)) and len(back) == len(BROKEN) - 1  # all but "tags": 0
    check(mixed)
    assert len(_transform()(records).dead) >= 26  # the broken ones are dead letters, not documents


def test_tags_attrs_and_fields_that_clash() -> None:
    lines = ['{"msg":"m","service":{"name":"from-json"},"kubernetes":{"pod":"x"},"log.level":"warn","labels":"l",'
             '"error":{"code":7},"json":1,"event.hash":"h"}',
             "10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 2326 \"-\" \"curl/8\"",
             '{"log":"{\\"level\\":\\"error\\",\\"trace.id\\":\\"t\\"}\\n","stream":"stderr"}',
             "<13>1 2024-05-01T10:11:12Z h a 1 - [x@1 a=\"b\"] syslog", "plain", "level=warn msg=hi ts=bad a.b=c"]
    attrs = {"log.iostream": "stdout", "container.id": "attr", "kubernetes.x": 1, "labels.y": True, "service.name": 2,
             "log.offset": 3.5, "event.action": "a", "event.id": "x", "host.name.deep": "d", "a": 1e16, "b": -0.0,
             "c": 1e-5, "log.syslog.severity.name": "error", "log.syslog.severity.code": 3}
    records = _records_of(lines * 4, per_record=5, attrs=attrs)
    assert handed_back(records) == []
    for keep, pat in ((False, False), (True, True)):
        check(records, keep_original=keep, patterns=pat)


def test_a_panic_in_the_core_hands_the_record_back() -> None:
    records = _records_of(["one", "two", "three"], per_record=1)
    values = [r.value() for r in records]
    buf, starts, bodies, where, hashes, back = _core.transform_batch(
        values, [b"1"] * 3, ["t"] * 3, [0] * 3, [0, 1, 2], [0] * 3, [""] * 3, "d", "n", "i", False, True, panic_on=1)
    assert back == [1]
    docs = BulkDocs(buf, array("Q", starts), array("Q", bodies))
    assert [orjson.loads(body)["message"] for _, body in docs] == ["one", "three"]
    assert len(where) == 2 * 8 and len(hashes) == 2 * 16


def test_deep_json_is_handed_back_and_dead_letters_as_unencodable() -> None:
    deep = '{"msg":"deep","a":' + "[" * 400 + "]" * 400 + "}"
    records = _records_of([deep, "fine"], per_record=1)
    assert handed_back(records) == [0]
    check(records)
    assert [d.kind for d in _transform()(records).dead] == ["unencodable"]


_TAG_KEYS = st.sampled_from(["host.name", "host", "service.name", "labels.a", "kubernetes.pod.name", "container.id",
                             "log.level", "log.offset", "event.action", "event.id", "a.b", "a", "a.b.c", "x..y",
                             "message", "json.x", "team", "log.file.path", "log.file", "é.ü"])
_ATTR_KEYS = st.one_of(_TAG_KEYS, st.sampled_from(["log.syslog.severity.name", "source.ip", "b", "error.code"]))
_ATTR_VALUES = st.one_of(st.text(max_size=8), st.integers(-(2**63), 2**63 - 1), st.booleans(),
                         st.floats(allow_nan=False, allow_infinity=False),
                         st.sampled_from(["warning", "informational", "debug", 2**63, 2**64 - 1]))


@st.composite
def _record(draw: st.DrawFn) -> FakeRecord:
    kind = draw(st.sampled_from(["wire", "wire", "wire", "third", "broken"]))
    if kind == "third":
        return FakeRecord(draw(st.binary(max_size=40)) + draw(st.sampled_from([b"", b"\n", b"\r\n", b"\r\r\n"])),
                          None, draw(st.integers(0, 2**40)), "logs", draw(st.sampled_from([0, 3])),
                          draw(st.integers(0, 2**42)))
    if kind == "broken":
        value, headers = draw(st.sampled_from(BROKEN))
        return FakeRecord(value, list(headers))
    source = Source(draw(st.text(min_size=1, max_size=8)), draw(st.sampled_from(["file", "container", "syslog"])),
                    draw(st.sampled_from(["", "h"])), draw(st.sampled_from(["", "c"])),
                    draw(st.sampled_from([None, "", "/p"])),
                    draw(st.dictionaries(_TAG_KEYS, st.text(max_size=6), max_size=5)))
    entries = [Entry(draw(st.integers(-(2**63), 2**63 - 1)), draw(st.sampled_from([NOW, 0, 2**62, -5])),
                     draw(st.one_of(_line(), _json_line())),
                     tuple(draw(st.lists(st.sampled_from(["truncated", "malformed", "é"]), max_size=2))),
                     draw(st.one_of(st.none(), st.dictionaries(_ATTR_KEYS, _ATTR_VALUES, max_size=4))))
               for _ in range(draw(st.integers(1, 4)))]
    return _wire(source, entries, draw(st.integers(0, 100)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_record(), min_size=1, max_size=6), st.booleans(), st.booleans())
def test_generated_records(records: list[FakeRecord], keep_original: bool, patterns: bool) -> None:
    check(records, keep_original, patterns)


def shout(message: str) -> dict[str, str] | None:
    """A user function: a claimed line, a line it leaves to the built-in parsers, a line it fails on."""
    if message.startswith("!"):
        return {"message": message[1:].upper(), "level": "WARNING", "labels.loud": "yes"}
    if message == "boom":
        raise RuntimeError("user code failed")
    return None


RULES = [
    ParserRule(name="loud", when={"path": "/var/log/*.log"}, function="tests.unit.test_transform_differential:shout"),
    ParserRule(name="shop", when={"container_name": "shop-*", "kubernetes_namespace": "sh?p",
                                  "container_labels": {"team": "pay*"}},
               regex=r"^(?P<http__request__method>[A-Z]+) (?P<url__path>\S+)$"),
    ParserRule(name="cron", when={"source_kind": "syslog", "appname": "CRON"},
               regex=r"\((?P<user__name>\w+)\) CMD"),
]


def test_user_parsers_take_only_the_records_they_may_apply_to() -> None:
    lines = ["!hey", "quiet", "boom", "GET /cart", "(root) CMD (run-parts)", "plain"]
    cron = {"log.syslog.appname": "CRON"}
    shop_other = Source("container:o", "container", "h", "c", None, {"container.name": "shop-2",
                                                                    "kubernetes.namespace": "shop",
                                                                    "container.labels.team": "ops"})
    records = [
        _wire(SOURCES[0], [Entry(i, NOW, line) for i, line in enumerate(lines)], 0),  # path rule: Python
        _wire(SOURCES[1], [Entry(i, NOW, line) for i, line in enumerate(lines)], 1),  # no container label "team"
        _wire(SOURCES[2], [Entry(0, NOW, lines[4], (), cron), Entry(1, NOW, "x")], 2),  # a CRON entry: Python
        _wire(SOURCES[2], [Entry(0, NOW, lines[4], (), {"log.syslog.appname": "sshd"})], 3),  # no CRON entry
        _wire(SOURCES[3], [Entry(i, NOW, line) for i, line in enumerate(lines)], 4),  # no rule for kafka sources
        _wire(shop_other, [Entry(0, NOW, "GET /x")], 5),  # the label does not match
        _wire(Source("container:s", "container", "h", "c", None, {
            "container.name": "shop-1", "kubernetes.namespace": "shop", "container.labels.team": "payments"}),
            [Entry(0, NOW, "GET /cart"), Entry(1, NOW, "other")], 6),  # every condition: Python
        FakeRecord(b"!third party line", None, 7),  # no path: the path rule does not apply
    ]
    assert handed_back(records, RULES) == [0, 2, 6]
    assert check(records, parsers=RULES) == 6 + 6 + 2 + 1 + 6 + 1 + 2 + 1 - 1  # "boom" is a dead letter
    got = _transform(parsers=RULES)(records)
    assert [(d.kind, d.reason, d.original) for d in got.dead] == [
        ("parser", "parser loud raised RuntimeError: user code failed", "boom")]
    messages = [orjson.loads(body)["message"] for _, body in got.docs]
    assert messages[0] == "HEY" and messages.count("HEY") == 1  # the rule ran on its record only
    shop = [orjson.loads(body) for _, body in got.docs][-3]
    assert shop["http"]["request"]["method"] == "GET" and shop["url"]["path"] == "/cart"


_GLOB_CHARS = st.sampled_from(["a", "b", "-", "*", "?", "[", "]", "!", "/", ".", "\\", "é", "\n", "^", "$", "(", "|"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(_GLOB_CHARS, max_size=6), min_size=1, max_size=3),
       st.lists(st.text(st.sampled_from("ab-/.é\n[]!*?\\^$"), max_size=6), min_size=1, max_size=8))
def test_user_rule_globs_read_as_fnmatch_reads_them(globs: list[str], names: list[str]) -> None:
    rules = [ParserRule(name=f"r{i}", when={"container_name": g}, regex="(?P<x>x)") for i, g in enumerate(globs)]
    records = [_wire(Source("container:g", "container", "h", "c", None, {"container.name": name}),
                     [Entry(0, NOW, "line")]) for name in names]
    expected = [i for i, name in enumerate(names) if any(fnmatch.fnmatchcase(name, g) for g in globs)]
    assert handed_back(records, rules) == expected


def test_user_rule_globs_with_brackets_inside_sets_read_as_fnmatch_reads_them() -> None:
    # A "[" inside a set is a character to fnmatch, a nested or POSIX class to the regex crate.
    globs = ["[a[]*", "[a[:alpha:]]x", "[a[b]]", "[!a[]", "[]]", "[!]]", "[[]", "[^a]", "a[]", "[]", "[!]", "[a-]",
             "[--0]", "[z-a]", "[&&]", "[~~b]", "[a|b]"]
    names = ["a", "[", "[x", "ax", ":x", "b]", "[]", "]", "!", "^", "-", "/", "&", "~", "|", "b", "a[]", "x"]
    for g in globs:
        rules = [ParserRule(name="g", when={"container_name": g}, regex="(?P<x>x)")]
        records = [_wire(Source("container:g", "container", "h", "c", None, {"container.name": name}),
                         [Entry(0, NOW, "line")]) for name in names]
        assert handed_back(records, rules) == [i for i, name in enumerate(names) if fnmatch.fnmatchcase(name, g)], g

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logjet.timeparse import format_ns, rfc3339_ns, to_ns
from processor.parsers import parse_line

NOW = to_ns(2026, 11, 25, 12, 0, 0)


def test_iso_timestamp_with_comma_millis_and_level() -> None:
    p = parse_line("2026-11-25 10:00:01,123 WARN [main] c.e.Service - slow", NOW)
    assert format_ns(p.time_ns) == "2026-11-25T10:00:01.123000000Z"
    assert p.level == "warn"
    assert p.message == "slow"
    assert p.fields == {"process.thread.name": "main", "log.logger": "c.e.Service"}


def test_iso_with_offset_and_nanoseconds() -> None:
    p = parse_line("2026-11-25T10:00:01.123456789+02:00 ERROR boom", NOW)
    assert format_ns(p.time_ns) == "2026-11-25T08:00:01.123456789Z"
    assert p.level == "error"


def test_syslog_timestamp_takes_the_year_of_reception_but_never_the_future() -> None:
    assert format_ns(parse_line("Nov 25 11:59:00 host sshd[1]: ok", NOW).time_ns).startswith("2026-11-25T11:59")
    january = to_ns(2027, 1, 1, 0, 5, 0)
    assert format_ns(parse_line("Dec 31 23:59:59 host cron[2]: x", january).time_ns).startswith("2026-12-31")


def test_json_line_spellings() -> None:
    p = parse_line('{"ts":"2026-11-25T01:02:03Z","lvl":"WARNING","msg":"hello","user":"a"}', NOW)
    assert (p.message, p.level, format_ns(p.time_ns), p.json) == (
        "hello", "warn", "2026-11-25T01:02:03.000000000Z", {"user": "a"})


def test_plain_text_without_timestamp_keeps_everything() -> None:
    p = parse_line("just words, ERROR inside", NOW)
    assert (p.message, p.time_ns, p.level) == ("just words, ERROR inside", None, None)


def test_json_that_is_not_an_object_is_plain_text() -> None:
    assert parse_line("{not json", NOW).message == "{not json"


def test_impossible_or_unindexable_timestamps_fall_back_to_the_collectors_time() -> None:
    for line in ("2024-02-31T10:00:00Z day 31 of February", "2024-02-10T25:99:99Z bad clock",
                 "0001-01-01T00:00:00+01:00 before the epoch", "9999-12-31T23:59:59-01:00 after 2262",
                 "1969-12-31T23:59:59Z one second before the epoch"):
        assert parse_line(line, NOW).time_ns is None, line
    assert parse_line("2262-04-11T23:47:16Z last representable second", NOW).time_ns is not None


GOLDEN = json.loads((Path(__file__).parent / "golden" / "parsers" / "lines.json").read_text())


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["input"][:30] for c in GOLDEN["cases"]])
def test_golden_lines(case: dict) -> None:
    p = parse_line(case["input"], rfc3339_ns(GOLDEN["now"]))
    assert p.message == case["message"]
    assert (format_ns(p.time_ns) if p.time_ns is not None else None) == case["time"]
    assert (p.level, p.fields, p.json) == (case["level"], case["fields"], case["json"])


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200) | st.sampled_from([c["input"] for c in GOLDEN["cases"]]).flatmap(
    lambda s: st.integers(0, len(s)).map(lambda n: s[:n])))
def test_any_text_parses_without_raising(line: str) -> None:
    p = parse_line(line, NOW)
    assert isinstance(p.message, str)
    assert p.time_ns is None or 0 <= p.time_ns < 2**63


def test_json_lifts_only_the_mapped_ecs_fields_and_only_values_of_their_type() -> None:
    p = parse_line('{"msg":"m","service.name":1,"process.pid":"abc","error":{"message":"boom","foo":{"a":1}},'
                   '"log":{"logger":"a.b","origin":{"file":{"line":3,"name":"x.py"}},"extra":true},'
                   '"trace":{"id":{"nested":1}},"span.id":"s1","span.whatever":"w","process.thread.name":"t",'
                   f'"log.origin.file.line":{2**64 - 1}}}', NOW)
    assert p.fields == {"service.name": 1, "error.message": "boom", "log.logger": "a.b",
                        "log.origin.file.line": 3, "log.origin.file.name": "x.py", "span.id": "s1",
                        "process.thread.name": "t"}
    assert p.json == {"process.pid": "abc", "error": {"foo": {"a": 1}}, "log": {"extra": True},
                      "trace": {"id": {"nested": 1}}, "span.whatever": "w", "log.origin.file.line": 2**64 - 1}


def test_json_never_lifts_a_scope_field() -> None:
    line = ('{"msg":"m","kubernetes":{"namespace":"bank"},"kubernetes.namespace":"bank","labels":{"team":"x"},'
            '"container.labels.team":"x","service":"payments"}')
    p = parse_line(line, NOW)
    assert p.fields == {"service.name": "payments"}
    assert p.json == {"kubernetes": {"namespace": "bank"}, "kubernetes.namespace": "bank", "labels": {"team": "x"},
                      "container.labels.team": "x"}


_SCALAR = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8))
_KEYS = st.sampled_from(["service", "name", "service.name", "process", "pid", "process.pid", "log", "origin", "file",
                         "line", "error", "message", "trace", "id", "kubernetes", "namespace", "labels", "x.y", ""])


def _leaves(node: object) -> list[str]:
    if isinstance(node, dict):
        return [leaf for v in node.values() for leaf in _leaves(v)]
    return [repr(node)]


@settings(max_examples=300, deadline=None)
@given(st.recursive(_SCALAR, lambda kids: st.dictionaries(_KEYS, kids, max_size=5), max_leaves=20)
       .filter(lambda v: isinstance(v, dict) and not isinstance(v.get("message", v.get("log")), str)))
def test_json_lifts_nothing_but_mapped_fields_of_their_type_and_loses_no_value(obj: dict) -> None:
    from processor.parsers import _LIFT, _LONG

    p = parse_line(json.dumps({"msg": "m", **obj}), NOW)
    assert p.message == "m"
    for path, value in p.fields.items():
        assert path in _LIFT and path.split(".")[0] not in ("kubernetes", "container", "labels")
        if _LIFT[path] == _LONG:
            assert type(value) is int and -(2**63) <= value < 2**63
        else:
            assert type(value) in (str, int, float, bool)
    assert sorted(_leaves(p.json or {}) + [repr(v) for v in p.fields.values()]) == sorted(_leaves(obj))


def test_syslog_with_pri_fills_the_ecs_host_program_and_pid() -> None:
    p = parse_line("<13>Nov 25 11:00:00 web1 app[4242]: started", NOW)
    assert (p.fields["host.hostname"], p.fields["process.name"], p.fields["process.pid"]) == ("web1", "app", 4242)
    p = parse_line("<165>1 2026-11-25T10:47:00.123Z web1 myapp worker-7 ID47 - payment accepted", NOW)
    assert (p.fields["host.hostname"], p.fields["process.name"], p.message) == ("web1", "myapp", "payment accepted")
    assert "process.pid" not in p.fields  # PROCID "worker-7" is not a number
    assert p.fields["log.syslog.procid"] == "worker-7"


# Header layouts that are not in the layout catalogue (tests/data/layouts), written from each logger's documented
# default: the recogniser's rules are general, so it reads them too. (line, time, level, message, fields)
_UNSEEN = [
    ("2026-11-25 10:00:00.123 [INFO] [worker-1] Processing job 5", "2026-11-25T10:00:00.123000000Z", "info",
     "Processing job 5", {"process.thread.name": "worker-1"}),
    ("[2026-11-25 10:00:00] WARN: disk low", "2026-11-25T10:00:00.000000000Z", "warn", "disk low", {}),
    ("2026-11-25 10:00:00 UTC | INFO | queue drained", "2026-11-25T10:00:00.000000000Z", "info", "queue drained", {}),
    ("<2026-11-25 10:00:00> info: cache warmed", "2026-11-25T10:00:00.000000000Z", "info", "cache warmed", {}),
    ("11/25/2026 10:00:00 AM ERROR upload failed", "2026-11-25T10:00:00.000000000Z", "error", "upload failed", {}),
    ("25.11.2026 10:00:00 INFO Dienst gestartet", "2026-11-25T10:00:00.000000000Z", "info", "Dienst gestartet", {}),
    ("DEBUG 2026-11-25 10:00:00 main.c:12 entering loop", "2026-11-25T10:00:00.000000000Z", "debug", "entering loop",
     {}),
    ("INFO[0003] Starting daemon", None, "info", "Starting daemon", {}),  # logrus on a terminal
    ("2026-11-25T10:00:00.000Z [main] DEBUG c.f.Bar - hello there", "2026-11-25T10:00:00.000000000Z", "debug",
     "hello there", {"process.thread.name": "main", "log.logger": "c.f.Bar"}),
    ("2026-11-25T11:00:00+01:00 myhost myapp: hello", "2026-11-25T10:00:00.000000000Z", None, "hello",
     {"host.hostname": "myhost", "process.name": "myapp"}),
    ("Wed, 25 Nov 2026 10:00:00 GMT - ready", "2026-11-25T10:00:00.000000000Z", None, "ready", {}),
]


@pytest.mark.parametrize("case", _UNSEEN, ids=[c[0][:30] for c in _UNSEEN])
def test_headers_of_layouts_outside_the_catalogue(case: tuple) -> None:
    line, time, level, message, fields = case
    p = parse_line(line, NOW)
    assert ((format_ns(p.time_ns) if p.time_ns is not None else None), p.level, p.message, p.fields) == (
        time, level, message, fields)


@pytest.mark.parametrize("line", [
    "I think this is fine", "A new connection from 10.0.0.1", "Error connecting to database", "10 items processed",
    "level 3 reached", "pool closed after 1234567890 requests", "E: something broke", "Log rotated at midnight",
    "\tat com.example.db.Pool.borrow(Pool.java:118)", "Started GET / for 127.0.0.1",
])
def test_prose_is_not_a_header(line: str) -> None:
    # No level or time read out of ordinary sentences, numbers or stack frames: the whole line stays the message.
    p = parse_line(line, NOW)
    assert (p.message, p.time_ns, p.level, p.fields) == (line, None, None, {})


def test_epoch_numbers_count_only_near_the_receive_time() -> None:
    assert parse_line("1795947560 backup finished", to_ns(2026, 11, 29, 12, 0, 0)).time_ns == 1795947560 * 10**9
    assert parse_line("1234567890 backup finished", to_ns(2026, 11, 29, 12, 0, 0)).time_ns is None  # 2009


def test_times_without_a_date_or_a_year_are_never_read_in_the_future() -> None:
    midnight = to_ns(2026, 11, 26, 0, 10, 0)
    assert format_ns(parse_line("23:59:58.100 [info] late", midnight).time_ns) == "2026-11-25T23:59:58.100000000Z"
    january = to_ns(2027, 1, 1, 0, 5, 0)
    assert format_ns(parse_line("12-31 23:59:59.000  1  2 I Tag: x", january).time_ns).startswith("2026-12-31")

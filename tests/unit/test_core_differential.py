"""The compiled core against the Python reference it replaces: for every line it decides, the same ``Parsed``.

``logjet._core.parse_batch`` returns, per line, either the parsed fields or the reason the reference must parse that
line (JSON content, numbers past 64 bits, ...). A decided line must equal ``python_parse_line`` exactly: message,
time, level, fields and json, with their types and their order. A handed-back line must name one of the known
reasons, never a failure. The inputs: every Loghub sample, the golden files, the benchmark corpus, and generated
lines (envelopes around generated content, invalid UTF-8 replaced, huge and odd lines, receive times of any kind).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from benchmarks import corpus
from logjet import _core
from logjet.timeparse import rfc3339_ns, to_ns
from processor.parsers import Parsed, python_parse_line

NOW = to_ns(2026, 11, 25, 12, 0, 0)
GOLDEN = Path(__file__).parent / "golden"
HANDED_BACK = {"json", "bigint", "receive_time", "regex_limit", "raises", "not_text"}


def _shape(p: Parsed) -> tuple:
    """Everything a Parsed holds, types and key order included (1 and "1" differ; so do two orders)."""
    return (p.message, p.time_ns, p.level, [(k, type(v), v) for k, v in p.fields.items()],
            None if p.json is None else [(k, type(v), v) for k, v in p.json.items()])


def _reference(line: str, now_ns: int) -> Parsed | BaseException:
    try:
        return python_parse_line(line, now_ns)
    except Exception as exc:  # the reference raises on a few lines: the core must hand those back
        return exc


def check(lines: list[str], times: list[int] | None = None) -> dict[str, int]:
    """Assert the core agrees with the reference on every line it decides; count the outcomes."""
    times = times if times is not None else [NOW] * len(lines)
    counts: dict[str, int] = {}
    for line, now_ns, got in zip(lines, times, _core.parse_batch(lines, times), strict=True):
        ref = _reference(line, now_ns)
        if type(got) is tuple:
            assert not isinstance(ref, BaseException), f"reference raises {ref!r} on {line!r}, core decided"
            assert _shape(Parsed(*got)) == _shape(ref), f"differs on {line!r} at {now_ns}"
            counts["decided"] = counts.get("decided", 0) + 1
        else:
            assert got in HANDED_BACK, f"core failed on {line!r}: {got}"
            counts[got] = counts.get(got, 0) + 1
    return counts


def test_loghub_samples_are_all_decided_and_equal() -> None:
    lines = corpus.loghub_lines()
    assert len(lines) >= 14_000
    assert check(lines) == {"decided": len(lines)}


def test_golden_parser_lines() -> None:
    golden = json.loads((GOLDEN / "parsers" / "lines.json").read_text())
    now = rfc3339_ns(golden["now"])
    counts = check([c["input"] for c in golden["cases"]], [now] * len(golden["cases"]))
    assert counts.get("decided", 0) >= len(golden["cases"]) // 2


def test_golden_container_and_syslog_lines() -> None:
    lines = [line for name in ("cri.log", "docker-json.log")
             for line in (GOLDEN / "containers" / name).read_text().splitlines()]
    lines += [c["input"] for c in json.loads((GOLDEN / "syslog" / "messages.json").read_text())]
    counts = check(lines, [rfc3339_ns("2026-11-25T15:00:00Z")] * len(lines))
    assert counts.get("decided", 0) >= len(lines) * 3 // 4


def test_benchmark_corpus() -> None:
    lines = list(corpus.entries(20_000))
    counts = check(lines)
    # Only JSON content goes back to the reference: the corpus's JSON application logs and JSON inside envelopes.
    assert set(counts) <= {"decided", "json"}
    assert counts["decided"] >= len(lines) * 3 // 5


# Generated lines: pieces of every layout the parsers know, glued at random, inside random envelopes.
_PIECES = st.sampled_from([
    "2024-02-29T10:00:00Z", "2024-02-30 10:00:00,123", "2026-11-25 10:00:01.123456789+02:00", "2026-11-25T10:00:01",
    "24/02/29 10:00:00", "2024/13/01 00:00:00", "240229 101010", "991231 235959", "[Sun Dec 04 04:47:44 2005]",
    "Mon Foo 04 04:47:44 2005", "Feb 29 10:00:00", "Dec 31 23:59:59.5", "Jan  1 00:00:00", "Nov 25 11:59:00",
    " ", "  ", "\t", "\n", "\x1c", "\xa0", "\u3000", "-", " - ", ":", ": ", "[", "]", "[main]", "[a[b]c]", "[pool-1]",
    "INFO", "info", "WARN", "Warning", "ERR", "fatal", "ınfo", "Iİnfo", "ſevere", "\u212aill", "ERRORx", "12345",
    "4294967296", "99999999999999999999", "٣٤", "²", "org.apache.Foo:", "dfs.DataNode$PacketResponder:", "a.b@12",
    "host", "sshd(pam_unix)[123]: ", "cron[1]", "prog: ", "=", "k=v", 'msg="a \\" b"', "level=warn", "ts=2024-01-01",
    'q="x\\\\"', 't=Feb 29 10:00:00', "time=bad", "key=", '"', "\\", "\\\n", "{", "}", "{\"a\":1}", "<13>", "<191>",
    "<192>", "<13>1 ", "2024-01-01T00:00:00Z ", "- - - - ", '[id a="1" b="x\\]y"]', '[id@1 a="1"][id@1 a="2"]',
    "\ufeff", "\ufffd", "é", "日本", "\U0001f600", "1.2.3.4", "::1", "fe80::1", '- - [10/Oct/2000:13:55:36 -0700] ',
    '"GET /a b HTTP/1.1" ', "200 ", "2326", '"-" "curl/8"', "\x00", "\r",
])
_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=14).map("".join)
_TIMES = st.one_of(st.just(NOW), st.integers(0, 2**63 - 1), st.integers(-(2**63), 2**63 - 1),
                   st.sampled_from([to_ns(2028, 2, 27, 0, 0, 0), to_ns(2027, 1, 1, 0, 0, 0), 0, -1, 2**64]))


@st.composite
def _line(draw: st.DrawFn) -> str:
    content = draw(_TEXT)
    kind = draw(st.sampled_from(["bare", "cri", "docker", "syslog3164", "syslog5424", "bytes"]))
    if kind == "cri":
        return f"{draw(_PIECES)} {draw(st.sampled_from(['stdout', 'stderr', 'x']))} {draw(st.sampled_from('PFX'))} " \
               f"{content}"
    if kind == "docker":
        obj = {"log": content + draw(st.sampled_from(["", "\n", "\r\n"])),
               "stream": draw(st.sampled_from(["stdout", "stderr", "other"]))}
        if draw(st.booleans()):
            obj["time"] = draw(st.one_of(_PIECES, st.just("2024-05-01T10:11:12.123456789Z")))
        if draw(st.booleans()):
            obj[draw(st.sampled_from(["attrs", "x", "log"]))] = draw(st.one_of(st.text(max_size=5), st.integers()))
        return json.dumps(obj, ensure_ascii=draw(st.booleans()))
    if kind == "syslog3164":
        return f"<{draw(st.integers(0, 200))}>{draw(_PIECES)} {content}"
    if kind == "syslog5424":
        head = " ".join(draw(st.lists(st.one_of(_PIECES, st.just("-")), min_size=0, max_size=6)))
        return f"<{draw(st.integers(0, 200))}>1 {head} {content}"
    if kind == "bytes":  # what the wire decoder makes of invalid UTF-8
        return draw(st.binary(max_size=64)).decode("utf-8", "replace") + content
    return content


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_line(), _TIMES), min_size=1, max_size=40))
@example([("<13>Feb 29 10:00:00 host prog: leap day read two days early", to_ns(2028, 2, 27, 0, 0, 0))])
@example([("Feb 29 10:00:00 host prog: the same in a file", to_ns(2028, 2, 27, 0, 0, 0))])
@example([("<0>Jan  1 00:00:00 ", -9_223_286_400_000_000_001)])  # a receive time whose day start is past i64
@example([("2024-01-01 00:00:00 ınfo [t] a.b: x", NOW), ("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / "
           "HTTP/1.0\" 200 99999999999999999999", NOW)])
def test_generated_lines(batch: list[tuple[str, int]]) -> None:
    lines = [line for line, _ in batch]
    times = [t for _, t in batch]
    try:
        check(lines, times)
    except OverflowError:  # a receive time past 64 bits never reaches the core: the batch call refuses the list
        pytest.fail("parse_batch must hand such a line back, not raise")


@pytest.mark.parametrize("size", [1 << 16, 1 << 20])
def test_huge_lines(size: int) -> None:
    lines = ["2024-01-01 00:00:00 INFO " + "x" * size, "k=v " * (size // 4), "a" * size, "[" * size,
             "2024-01-01 00:00:00 INFO [" + "[a]" * (size // 3), "<13>" + "Nov 25 11:59:00 " + "h" * size,
             '{"log":"' + "2024-01-01 00:00:00 WARN " + "y" * size + '\\n","stream":"stdout"}']
    check(lines)


def test_lone_surrogates_and_odd_objects_are_handed_back() -> None:
    assert _core.parse_batch(["a\udcff b", "ok"], [NOW, NOW])[0] == "not_text"
    assert _core.parse_batch([b"bytes"], [NOW]) == ["not_text"]  # type: ignore[list-item]
    assert _core.parse_batch(["x"], [2**64]) == ["not_text"]
    with pytest.raises(ValueError):
        _core.parse_batch(["x"], [])


def test_parse_lines_settles_every_line_like_the_reference() -> None:
    # The processor's entry point: decided lines from the core, handed-back ones (JSON here) from the reference.
    from processor.parsers import CORE, parse_line, parse_lines

    assert CORE == os.environ.get("LOGJET_CORE", "native")
    lines = list(corpus.entries(2_000, seed=7)) + ["<13>Feb 29 10:00:00 h p: x"]
    times = [NOW] * (len(lines) - 1) + [to_ns(2028, 2, 26, 0, 0, 0)]
    got = [_shape(p) for p in parse_lines(lines[:-1], times[:-1])]
    assert got == [_shape(python_parse_line(line, t)) for line, t in zip(lines[:-1], times[:-1], strict=True)]
    assert _shape(parse_line(lines[0], NOW)) == _shape(python_parse_line(lines[0], NOW))
    # A leap day two days ahead of its receive time: the core hands it back, the reference settles it.
    assert _shape(parse_line(lines[-1], times[-1])) == _shape(python_parse_line(lines[-1], times[-1]))


@pytest.mark.parametrize(("value", "expect"), [("python", "python"), ("native", "native"), ("rust", "ValueError")])
def test_logjet_core_selects_the_implementation_once_at_import(value: str, expect: str) -> None:
    code = "import processor.parsers as p; print(p.CORE, p._parse_batch is None)"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "LOGJET_CORE": value},
                         capture_output=True, text=True, check=False)
    if expect == "ValueError":
        assert out.returncode != 0 and "LOGJET_CORE must be 'native' or 'python'" in out.stderr
    else:
        assert out.stdout.split() == [expect, str(expect == "python")]

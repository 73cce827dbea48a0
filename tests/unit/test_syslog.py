from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.syslog.framing import Framer
from logjet.formats.syslog import parse
from logjet.timeparse import format_ns, rfc3339_ns

CASES = json.loads((Path(__file__).parent / "golden" / "syslog" / "messages.json").read_text())
# Receive time of the golden cases: RFC 3164 has no year, which comes from it.
NOW = rfc3339_ns("2026-11-25T15:00:00Z")


@pytest.mark.parametrize("case", CASES, ids=[c["input"][:40] for c in CASES])
def test_golden(case: dict) -> None:
    p = parse(case["input"].encode(), NOW)
    assert p.message == case["message"]
    assert (format_ns(p.time_ns) if p.time_ns is not None else None) == case["time"]
    assert p.attrs == case["attrs"]
    assert list(p.flags) == case["flags"]


def test_december_message_read_in_january_is_last_year() -> None:
    p = parse(b"<13>Dec 31 23:59:59 h app: late", rfc3339_ns("2027-01-01T00:00:05Z"))
    assert format_ns(p.time_ns) == "2026-12-31T23:59:59.000000000Z"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_parse_without_raising(raw: bytes) -> None:
    p = parse(raw, NOW)
    assert isinstance(p.message, str)
    assert ("malformed" in p.flags) == ("error.message" in p.attrs)


@pytest.mark.parametrize(("raw", "received"), [
    (b"<13>Feb 29 10:00:00 h p: leap day sent by a clock two days ahead", "2028-02-27T12:00:00Z"),  # 2027-02-29: none
    (b"<13>Dec 31 23:59:59 h p: read on the first day of the epoch", "1970-01-01T00:00:05Z"),  # 1969: not held
])
def test_a_yearless_time_whose_year_before_cannot_hold_it_is_malformed_not_a_crash(raw: bytes, received: str) -> None:
    p = parse(raw, rfc3339_ns(received))
    assert "malformed" in p.flags and p.attrs["error.message"].endswith("RFC 3164 timestamp invalid")
    assert p.message == raw.decode()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["Jan", "Feb", "Dec"]), st.integers(1, 31), st.integers(0, 2**63 - 1))
def test_yearless_times_parse_without_raising_whenever_they_are_received(mon: str, day: int, now_ns: int) -> None:
    p = parse(b"<13>%s %2d 10:00:00 h p: x" % (mon.encode(), day), now_ns)
    assert isinstance(p.message, str)
    assert ("malformed" in p.flags) == ("error.message" in p.attrs)


def _frame(messages: list[bytes], octet: list[bool]) -> bytes:
    return b"".join(b"%d %s" % (len(m), m) if o else m + b"\n" for m, o in zip(messages, octet, strict=True))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=120).map(lambda b: b"<13>" + b.replace(b"\n", b" ")), min_size=1,
                max_size=20).flatmap(lambda ms: st.tuples(st.just(ms), st.lists(st.booleans(), min_size=len(ms),
                                                                                max_size=len(ms)))),
       st.integers(1, 50))
def test_framing_round_trips_any_mix_and_any_split(msgs_octet: tuple, step: int) -> None:
    messages, octet = msgs_octet
    stream = _frame(messages, octet)
    framer = Framer(1024)
    got = []
    for i in range(0, len(stream), step):
        got += framer.feed(stream[i:i + step])
    got += framer.finish()
    assert got == [(m, False) for m in messages]


def test_oversized_messages_are_cut_flagged_and_skipped_in_bounded_memory() -> None:
    framer = Framer(600)
    big = b"<13>" + b"x" * 5000
    stream = b"%d %s" % (len(big), big) + b"<13>next\n" + big + b"\n" + b"<13>after\n"
    got = []
    for i in range(0, len(stream), 700):
        got += framer.feed(stream[i:i + 700])
        assert len(framer.buf) <= 600 + 700
    assert got == [(big[:600], True), (b"<13>next", False), (big[:600], True), (b"<13>after", False)]

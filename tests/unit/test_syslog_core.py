"""The compiled core's syslog path held to the Python reference it replaces: the same messages and truncation flags
from ``Framer`` for any stream cut into any reads, and the same wire records, byte for byte, from a drain
(``logjet._core.syslog_drain`` then ``Output.ship_records``) as from the Python path (``logjet.formats.syslog.parse``,
the entries, ``Output.ship`` and its ``_fit``) for generated messages, senders and limits; the same metrics too."""

from __future__ import annotations

import calendar
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import collectors.syslog.server as server
from collectors.metrics import CollectorMetrics
from collectors.output import Output
from collectors.syslog.framing import Framer as PythonFramer
from logjet import _core
from logjet.config import CollectorSettings, SyslogInputSettings
from logjet.wire import decode_record

GOLDEN = [c["input"].encode() for c in
          json.loads((Path(__file__).parent / "golden" / "syslog" / "messages.json").read_text())]
NOW = calendar.timegm((2026, 11, 25, 15, 0, 0)) * 10**9


# -- framing ----------------------------------------------------------------------------------------------------------

_frame_piece = st.one_of(
    # newline-framed messages, some longer than the limit, some empty lines
    st.binary(max_size=90).map(lambda b: b"<13>" + b.replace(b"\n", b" ") + b"\n"),
    st.just(b"\n"),
    # octet-counted messages, right, oversized, and counts that lie or are not counts at all
    st.binary(max_size=90).map(lambda b: b"%d %s" % (len(b), b)),
    st.tuples(st.integers(0, 10**11), st.binary(max_size=40)).map(lambda t: b"%d %s" % t),
    st.sampled_from([b"12a 3", b"99999999999 x\n", b"0 ", b"7", b"123\n", b"1 2 3 4\n", b"00005 hello"]),
    st.binary(max_size=30),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_frame_piece, max_size=25).map(b"".join), st.integers(1, 120),
       st.lists(st.integers(1, 200), max_size=40))
@example(b"%d %s" % (5000, b"x" * 5000) + b"<13>next\n" + b"y" * 3000 + b"\n<13>after", 600, [700] * 20)
def test_the_core_framer_gives_the_python_framers_messages_for_any_stream_and_reads(
        stream: bytes, max_bytes: int, reads: list[int]) -> None:
    python, core = PythonFramer(max_bytes), _core.Framer(max_bytes)
    pos = 0
    for size in [*reads, len(stream)]:  # the rest in one last read
        data = stream[pos:pos + size]
        pos += size
        assert core.feed(data) == python.feed(data)
        assert core.buf == bytes(python.buf)
    assert core.finish() == python.finish()
    assert core.buf == bytes(python.buf) == b""


# -- drain: generated messages ----------------------------------------------------------------------------------------

_word = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="[]:"), min_size=1, max_size=12)
_nil_or = lambda s: st.one_of(st.just("-"), s)  # noqa: E731
_sd_value = st.text(st.characters(codec="utf-8", exclude_characters='"\\]'), max_size=10) | st.sampled_from(
    ['a\\"b', "c\\\\d", "e\\]f", "\u00e9\\x", "line\nbreak", "\x00ctl"])
_sd_name = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='="] '), min_size=1,
                   max_size=8)
_sd = st.one_of(
    st.just("-"),
    st.lists(st.tuples(_sd_name, st.lists(st.tuples(_sd_name, _sd_value), max_size=3)), min_size=1, max_size=3).map(
        lambda els: "".join(f"[{i}" + "".join(f' {k}="{v}"' for k, v in ps) + "]" for i, ps in els)),
    st.sampled_from(["[x", "[a b=c]", "[]", "[a b=\"1\"]junk"]),
)
_stamp = st.one_of(
    st.just("-"),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S") + "Z"),
    st.sampled_from(["2003-10-11T22:14:15.003Z", "2026-11-25T14:02:07.123456789+02:00", "1970-01-01T00:00:00Z",
                     "2024-02-30T00:00:00Z", "yesterday", "2026-11-25T14:02:07", "1969-12-31T23:59:59Z"]),
)
_text = st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
_rfc5424 = st.builds(
    lambda pri, ver, stamp, host, app, pid, mid, sd, bom, msg: (
        f"<{pri}>{ver} {stamp} {host} {app} {pid} {mid} {sd}".encode() + (b" \xef\xbb\xbf" if bom else b" ") + msg),
    st.integers(0, 200), st.sampled_from(["1", "1", "1", "2", "01"]), _stamp, _nil_or(_word), _nil_or(_word),
    _nil_or(_word), _nil_or(_word), _sd, st.booleans(), st.binary(max_size=60) | _text.map(str.encode))
_months = st.sampled_from(["Jan", "Feb", "Mar", "Nov", "Dec", "Foo", "jan"])
_rfc3164 = st.builds(
    lambda pri, mon, day, hms, frac, year, host, tag, pid, colon, msg: (
        f"<{pri}>{mon} {day:>2} {hms}{frac}{year} {host}{tag}{pid}{colon}".encode() + msg),
    st.integers(0, 200), _months, st.integers(0, 32), st.sampled_from(["14:02:07", "00:00:00", "23:59:60", "25:00:00"]),
    st.sampled_from(["", ".5", ".123456789"]), st.sampled_from(["", " 2024", " 1969"]),
    st.sampled_from(["", "node-7 ", "web_1 ", "10.0.0.1 "]), _word, st.sampled_from(["", "[42]", "[]", "[a b]"]),
    st.sampled_from([": ", ":", " ", ""]), st.binary(max_size=60) | _text.map(str.encode))
_iso = st.builds(lambda pri, stamp, rest: f"<{pri}>{stamp} ".encode() + rest, st.integers(0, 191),
                 st.sampled_from(["2026-11-25T14:02:07Z", "2026-11-25 14:02:07.5+01:00", "2026-13-40T00:00:00Z"]),
                 st.binary(max_size=40))
_raw = st.one_of(
    _rfc5424, _rfc3164, _iso, st.sampled_from(GOLDEN),
    st.binary(max_size=80),                                     # anything, no <PRI> mostly
    st.binary(max_size=40).map(lambda b: b"<13>" + b),          # a priority, then anything
    st.sampled_from([b"", b"<13>", b"<999>x", b"<13>1", b"\n\r\x00", b"<13>Nov 25 14:02:07 h a: x\r\n\x00",
                     b"<13>Feb 29 10:00:00 h p: leap", b"\xff\xfe<13>", b"<13>1 - h \xff - - - bad host",
                     b"<13>1 2026-11-25T14:02:07Z host"]),
)
_received = st.tuples(
    _raw,
    st.sampled_from(["127.0.0.1", "10.0.0.2", "::1"]),
    st.one_of(st.just(NOW), st.integers(0, 2**62),
              st.sampled_from([0, 1, -5, calendar.timegm((2024, 1, 10, 0, 0, 0)) * 10**9])),
    st.booleans(),
)


class RecordingShipper:
    """Keeps what it is asked to send, acknowledging each at once (Kafka itself is tested in tests/integration)."""

    in_flight = 0

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []

    def send(self, batch: Any, on_acked: Any, encoded: Any = None) -> None:
        from logjet.wire import encode_batch

        self.sent.append(encoded if encoded is not None else encode_batch(batch))
        on_acked(batch)

    def poll(self, timeout: float = 0) -> None:
        pass


def _metrics(m: CollectorMetrics) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for metric in m.registry.collect()
            for s in metric.samples if not s.name.endswith("_created")}


def _drain(items: list, cs: CollectorSettings, tags: dict[str, str], core: bool,
           monkeypatch: pytest.MonkeyPatch) -> tuple[list, dict]:
    metrics = CollectorMetrics()
    listener = server.SyslogListener(SyslogInputSettings(protocol="udp", port=0, tags=tags, max_senders=2), cs,
                                     metrics, run_id=7)
    listener.port = 5514  # the source ids name the port: both paths' listeners must give the same
    try:
        shipper = RecordingShipper()
        output = Output(cs, shipper, metrics)  # type: ignore[arg-type]
        with monkeypatch.context() as patch:
            patch.setattr(server, "native", _core if core else None)
            listener._udp.extend(items)
            while listener.drain(output):
                pass
        return shipper.sent, _metrics(metrics)
    finally:
        listener.sock.close()


def _decode(value: bytes, headers: list) -> Any:
    return decode_record(value, headers, topic="t", partition=0, offset=0, timestamp_ms=0)


def _same_records(items: list, cs: CollectorSettings, tags: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list:
    python, python_metrics = _drain(items, cs, tags, False, monkeypatch)
    core, core_metrics = _drain(items, cs, tags, True, monkeypatch)
    assert [(k, h) for k, _, h in core] == [(k, h) for k, _, h in python]
    for (_, c, headers), (_, p, _) in zip(core, python, strict=True):
        if c != p:  # the decoded batches first: they say which entry differs
            assert _decode(c, headers) == _decode(p, headers)
        assert c == p
    assert core_metrics == python_metrics
    return core


_limits = st.builds(lambda n, b, r: CollectorSettings(host_name="node-1", batch_max_entries=n, batch_max_bytes=b,
                                                      record_max_bytes=r),
                    st.integers(1, 40), st.sampled_from([1024, 2000, 512 * 1024]),
                    st.sampled_from([65536, 70000, 900_000]))
_tags = st.dictionaries(st.sampled_from(["site", "source.ip", "rack", "é\"x"]), st.text(max_size=8), max_size=3)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(items=st.lists(_received, min_size=1, max_size=40), cs=_limits, tags=_tags)
def test_a_drain_through_the_core_sends_the_python_paths_records_byte_for_byte(
        items: list, cs: CollectorSettings, tags: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    _same_records(items, cs, tags, monkeypatch)


def _big(n: int, fill: bytes) -> bytes:
    return b"<13>Nov 25 14:02:07 node-7 app[1]: " + fill * n


@pytest.mark.parametrize("fill", [b"x", b'"', b"\\\x01", "é".encode(), b"\xff"], ids=["ascii", "quotes", "escapes",
                                                                                  "two-byte", "invalid"])
def test_records_are_split_and_entries_cut_as_the_python_path_does(fill: bytes,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # Messages larger than a record once escaped (one alone is cut down, flagged), and runs that need halving.
    items = [(_big(n, fill), "127.0.0.1", NOW + i, i % 3 == 0) for i, n in enumerate(
        [50_000, 10, 120_000, 30_000, 30_000, 30_000, 5, 64_000, 200_000, 1])]
    cs = CollectorSettings(host_name="node-1", batch_max_entries=2000, batch_max_bytes=1 << 20,
                           record_max_bytes=65536)
    sent = _same_records(items, cs, {}, monkeypatch)
    assert len(sent) > 4 and all(len(value) <= 65536 for _, value, _ in sent)


def test_messages_the_core_leaves_to_the_reference_still_come_out_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # A receive time before the epoch, and a yearless February 29 read in a leap year's January (the year before has
    # no such day): the core hands these to logjet.formats.syslog.parse.
    items = [(b"<13>Dec 29 00:00:00 host app: before the epoch", "127.0.0.1", -5, False),
             (b"<13>Feb 29 10:00:00 h p: leap", "127.0.0.1", calendar.timegm((2024, 1, 10, 0, 0, 0)) * 10**9, True),
             (b"<13>Nov 25 14:02:07 h p: plain", "127.0.0.1", NOW, False)]
    sent = _same_records(items, CollectorSettings(host_name="node-1"), {"site": "lab"}, monkeypatch)
    assert len(sent) == 1


def test_many_senders_share_one_drain_each_with_its_own_records(monkeypatch: pytest.MonkeyPatch) -> None:
    peers = [f"10.0.{i // 250}.{i % 250}" for i in range(300)]
    items = [(b"<14>1 2026-11-25T14:02:07Z h app - - - order %d" % i, peers[i % 300], NOW, False) for i in range(900)]
    sent = _same_records(items, CollectorSettings(host_name="node-1", batch_max_entries=2), {}, monkeypatch)
    assert len({key for key, _, _ in sent}) == 300

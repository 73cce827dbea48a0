from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from logjet import wire
from logjet.errors import WireFormatError
from logjet.wire import HEADER_VERSION, Batch, Entry, Source, decode_record, encode_batch, entry_id

META = {"topic": "t", "partition": 3, "offset": 41, "timestamp_ms": 1_700_000_000_123}


def _roundtrip(batch: Batch) -> Batch:
    key, value, headers = encode_batch(batch)
    assert key == batch.source.id.encode()
    return decode_record(value, headers, **META)


def test_round_trip_keeps_every_field() -> None:
    source = Source("file:h:1:2:ab", "file", host="h", collector="c1", path="/var/log/x.log", tags={"team": "a"})
    entries = [Entry(0, 10, "first"), Entry(6, 11, "second ✓", ("truncated",)), Entry(20, 12, "")]
    assert _roundtrip(Batch(source, entries)) == Batch(source, entries)


@given(
    st.text(min_size=1, max_size=40),
    st.lists(st.tuples(st.integers(0, 2**62), st.integers(0, 2**62), st.text(max_size=200),
                       st.lists(st.sampled_from(["truncated", "invalid_utf8"]), max_size=2)),
             min_size=1, max_size=20),
)
def test_round_trip_property(source_id: str, raw: list[tuple[int, int, str, list[str]]]) -> None:
    batch = Batch(Source(source_id, "file"), [Entry(s, t, m, tuple(f)) for s, t, m, f in raw])
    assert _roundtrip(batch) == batch


def test_foreign_raw_line_gets_kafka_identity() -> None:
    batch = decode_record(b"plain line\n", None, **META)
    assert batch.source.id == "kafka/t/3"
    assert batch.entries == [Entry(41, 1_700_000_000_123_000_000, "plain line")]


def test_foreign_identity_includes_the_topic_id_so_a_recreated_topic_is_another_source() -> None:
    old = decode_record(b"line", None, **META, topic_id="GBgMoBd2SHOzis98juJyRQ")
    new = decode_record(b"line", None, **META, topic_id="tHXiShiZQm6qw62p0k96KA")
    assert old.source.id == "kafka/t/GBgMoBd2SHOzis98juJyRQ/3"
    assert entry_id(old.source.id, 41) != entry_id(new.source.id, 41)
    # a logjet record's identity is its own, whatever the topic
    key, value, headers = encode_batch(Batch(Source("file:h:1", "file"), [Entry(0, 1, "x")]))
    assert decode_record(value, headers, **META, topic_id="GBgMoBd2SHOzis98juJyRQ").source.id == "file:h:1"


def test_foreign_json_object_is_kept_verbatim_for_the_parser() -> None:
    value = orjson.dumps({"message": "hi", "level": "warn"})
    assert decode_record(value, [("other", b"x")], **META).entries[0].message == value.decode()


def test_foreign_invalid_utf8_is_replaced_and_flagged() -> None:
    entry = decode_record(b"bad \xff byte", None, **META).entries[0]
    assert entry.message == "bad \ufffd byte"
    assert entry.flags == ("invalid_utf8",)


@pytest.mark.parametrize(
    "value",
    [b"", b"not json", b"[]", b'{"v":2,"source":{"id":"a","kind":"f"},"entries":[[1,2,"x"]]}',
     b'{"v":1,"source":{"id":"a"},"entries":[[1,2,"x"]]}', b'{"v":1,"source":{"id":"a","kind":"f"},"entries":[]}',
     b'{"v":1,"source":{"id":"a","kind":"f"},"entries":[[1,"2","x"]]}',
     b'{"v":1,"source":{"id":"a","kind":"f"},"entries":[[1,2,"x",[3]]]}'],
)
def test_malformed_logjet_records_raise_wire_format_error(value: bytes) -> None:
    with pytest.raises(WireFormatError):
        decode_record(value, [(HEADER_VERSION, b"1")], **META)


def test_unknown_header_version_is_refused() -> None:
    with pytest.raises(WireFormatError, match="unsupported wire version"):
        decode_record(b"{}", [(HEADER_VERSION, b"2")], **META)


@given(st.binary(max_size=300), st.booleans())
def test_any_bytes_decode_or_raise_wire_format_error(value: bytes, logjet: bool) -> None:
    headers = [(HEADER_VERSION, b"1")] if logjet else None
    try:
        batch = decode_record(value, headers, **META)
    except WireFormatError:
        assert logjet
    else:
        assert batch.entries


def test_entry_id_is_stable_and_distinct() -> None:
    assert entry_id("s", 1) == entry_id("s", 1)
    assert len({entry_id("s", 1), entry_id("s", 2), entry_id("t", 1), entry_id("s1", 0)}) == 4
    assert len(entry_id("s", 1)) == 20


def test_entry_attrs_round_trip_and_are_validated() -> None:
    source = Source("syslog:h:udp:514:10.0.0.1:1", "syslog")
    entry = Entry(3, 5, "msg", (), {"log.syslog.severity.code": 3, "source.ip": "10.0.0.1"})
    key, value, headers = encode_batch(Batch(source, [entry]))
    assert decode_record(value, headers, topic="t", partition=0, offset=0, timestamp_ms=0).entries == [entry]
    bad = value.replace(b'{"log.syslog.severity.code":3', b'{"log.syslog.severity.code":[3]')
    with pytest.raises(WireFormatError, match="attrs"):
        decode_record(bad, headers, topic="t", partition=0, offset=0, timestamp_ms=0)


_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                         st.text(max_size=5))
_entry_like = st.lists(st.one_of(_json_scalar, st.lists(st.one_of(st.text(max_size=3), st.integers()), max_size=2),
                                 st.dictionaries(st.text(max_size=3), _json_scalar, max_size=2)), max_size=6)


_int = st.one_of(st.integers(-(2**66), 2**66), st.booleans(), st.floats(allow_nan=False))
_near_valid = st.tuples(_int, _int, st.one_of(st.text(max_size=5), st.none())).map(list) | st.tuples(
    st.integers(), st.integers(), st.text(max_size=5), st.lists(st.one_of(st.text(max_size=3), st.integers()),
                                                                 max_size=2),
    st.one_of(st.none(), st.dictionaries(st.text(max_size=3), _json_scalar, max_size=2))).map(list)


@settings(max_examples=500)
@given(st.lists(st.one_of(_near_valid, _entry_like, _json_scalar), max_size=4),
       st.sampled_from([1, 2, 1.0, "1", None]))
@example([[2**70, 2, "x"]], 1)
@example([[2**64 - 1, -(2**63), "x", [], {"k": 2**64}]], 1)
def test_fast_decoder_agrees_with_the_checked_one(entries: list, version: object) -> None:
    """Records are decoded by msgspec, falling back to the step-by-step checks on any error: both must accept and
    refuse the same records, with the same result."""
    value = json.dumps({"v": version, "source": {"id": "s", "kind": "file"}, "entries": entries}).encode()
    outcomes = []
    for decode in (wire._decode_logjet, wire._decode_logjet_checked):
        try:
            outcomes.append(decode(value))
        except WireFormatError as exc:
            outcomes.append(type(exc))
    assert outcomes[0] == outcomes[1]


@given(st.text(max_size=40), st.integers(min_value=-(2**63), max_value=2**64))
def test_per_source_ids_equal_entry_id(source_id: str, seq: int) -> None:
    assert wire.entry_ids(source_id)(seq) == entry_id(source_id, seq)

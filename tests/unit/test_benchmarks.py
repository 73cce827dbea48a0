"""The benchmark harness's own logic (no servers): the corpus, B1's two paths, the steady-span arithmetic."""

from __future__ import annotations

import orjson

from benchmarks.corpus import entries, file_lines, syslog_messages, wire_records
from benchmarks.end_to_end import _steady
from benchmarks.hot_path import make_batches, run_floor, run_logjet
from benchmarks.processor import _window
from logjet.wire import decode_record


def test_corpus_is_deterministic_and_mixes_every_kind() -> None:
    first, again = list(entries(200)), list(entries(200))
    assert first == again
    assert any(e.startswith('{"log":') for e in first)  # Docker json-file
    assert any(" stdout F " in e or " stderr F " in e for e in first)  # CRI
    assert any(e.startswith("<") and e[e.index(">") + 1:].startswith("1 ") for e in first)  # RFC 5424
    assert any("\n\tat com.shop." in e for e in first)  # a stack trace as one entry
    assert not any("\n" in line for line in file_lines(200))
    assert all(m.startswith(b"<") for m in syslog_messages(200))


def test_wire_records_carry_exactly_the_entries() -> None:
    records = list(wire_records(2500))
    decoded = [decode_record(v, h, topic="t", partition=0, offset=0, timestamp_ms=0) for _, v, h in records]
    assert [m for b in decoded for m in (e.message for e in b.entries)] == list(entries(2500))
    assert {b.source.kind for b in decoded} == {"file", "container", "syslog"}


def test_b1_paths_count_every_entry_and_logjet_makes_the_workers_documents() -> None:
    batches, size = make_batches(3000)
    assert size == sum(len(r.value()) for b in batches for r in b)
    assert run_logjet(batches, size).entries == 3000
    assert run_floor(batches, size).entries == 3000


def test_b2_window_leaves_out_the_start_and_the_end() -> None:
    # (time, count, cpu): a slow start, then 100 entries a second, then a slow end.
    samples = [(0.0, 1.0, 0.0), (5.0, 10.0, 1.0), (6.0, 20.0, 2.0), (12.0, 80.0, 8.0), (30.0, 100.0, 9.0)]
    run = _window(samples, 100)
    assert (run.entries, run.wall_s, run.cpu_s) == (60, 6.0, 6.0)


def test_b3_steady_rate_is_taken_between_10_and_90_percent() -> None:
    samples = [(0.0, 0.0), (10.0, 10.0), (11.0, 50.0), (12.0, 90.0), (40.0, 100.0)]
    assert _steady(samples, 100) == 40.0


def test_floor_encodes_what_it_decodes() -> None:
    batches, _ = make_batches(1000)
    value = batches[0][0].value()
    assert orjson.loads(value)["entries"]

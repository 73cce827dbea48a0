"""The benchmark harness's own logic (no servers): the corpus, B1's two paths, the steady-span arithmetic, the live
tail's delivery counts and summary."""

from __future__ import annotations

import orjson

from benchmarks.corpus import entries, file_lines, syslog_messages, wire_records
from benchmarks.end_to_end import _steady
from benchmarks.hot_path import CORES, VARIANTS, CoreWorker, floor_body, make_batches, run_floor, run_logjet
from benchmarks.processor import window
from benchmarks.tail_latency import TailRun, delivery, markdown, summarize
from logjet.config import ElasticsearchSettings, ProcessorSettings
from logjet.wire import decode_record
from processor.transform import Transform


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
    run = window(samples, 100)
    assert (run.entries, run.wall_s, run.cpu_s) == (60, 6.0, 6.0)


def test_b3_steady_rate_is_taken_between_10_and_90_percent() -> None:
    samples = [(0.0, 0.0), (10.0, 10.0), (11.0, 50.0), (12.0, 90.0), (40.0, 100.0)]
    assert _steady(samples, 100) == 40.0


def test_floor_encodes_what_it_decodes() -> None:
    batches, size = make_batches(2500)
    want = [e for r in (r for b in batches for r in b) for e in orjson.loads(r.value())["entries"]]
    bodies = [floor_body(b) for b in batches]
    got = [orjson.loads(line) for _, body in bodies for line in body.split(b"\n")]
    assert got == want and sum(n for n, _ in bodies) == len(want) == 2500
    assert run_floor(batches, size).entries == 2500


def test_b1_workers_run_the_core_they_are_started_with_on_the_same_batches() -> None:
    _, size = make_batches(300)
    assert {core for core, _ in VARIANTS.values()} == set(CORES)
    for core, patterns in VARIANTS.values():
        with CoreWorker(core, 300, patterns) as worker:
            assert (worker.core, worker.entries, worker.bytes) == (core, 300, size)
            run = worker.run()
            assert (run.entries, run.bytes) == (300, size) and run.cpu_s > 0


def test_b1_without_patterns_times_documents_without_them() -> None:
    batches, size = make_batches(300)
    docs = {}
    for patterns in (True, False):
        transform = Transform(ProcessorSettings(patterns=patterns), ElasticsearchSettings())
        docs[patterns] = [orjson.loads(body) for batch in batches for _, body in transform(batch).docs]
    assert all("pattern" in d["logjet"] for d in docs[True])
    assert not any("pattern" in d["logjet"] for d in docs[False]) and len(docs[False]) == len(docs[True]) == 300
    assert run_logjet(batches, size, patterns=False).entries == 300


def test_tail_delivery_counts_missed_repeated_foreign_and_order() -> None:
    want = ["a", "b", "c", "d"]
    assert delivery(want, want).exact
    late = delivery(["a", "b", "b", "x", "d"], want)
    assert (late.expected, late.delivered, late.missing, late.repeated, late.unexpected) == (4, 5, 1, 1, 1)
    assert not late.in_order and not late.exact
    swapped = delivery(["b", "a", "c", "d"], want)
    assert (swapped.missing, swapped.repeated, swapped.unexpected, swapped.in_order) == (0, 0, 0, False)


def _tail_run(delays: list[float], got_all: list[str], load: float) -> TailRun:
    want = ["1", "2", "3", "4"]
    return TailRun(rate=100, entries=200, produce_s=2.0, ready_s=1.0, caught_up_s=1.5,
                   delivered={"all": delivery(got_all, want), "alpha": delivery(["2", "4"], ["2", "4"])},
                   delays_ms={"all": delays, "alpha": delays[:1]}, reconnects={"all": 0, "alpha": 0},
                   load_1m=[load, load + 1])


def test_tail_summary_takes_medians_over_runs_and_sums_what_must_be_zero() -> None:
    runs = [_tail_run([float(d) for d in range(1, 101)], ["1", "2", "3", "4"], 1.0),
            _tail_run([10.0] * 50, ["1", "2", "2", "3"], 3.0),
            _tail_run([float(d) for d in range(1, 201)], ["1", "2", "3", "4"], 2.0)]
    tail = summarize(runs, 100, 2)
    # Each run's delays are both tails' together: run 1 is 1..100 plus 1, so its p50 is 50.
    assert [r["delay_ms"]["p50"] for r in tail["details"]] == [50.0, 10.0, 100.0]
    assert tail["delay_ms_p50"] == {"median": 50.0, "min": 10.0, "max": 100.0}
    assert tail["delay_ms_max"] == {"median": 100.0, "min": 10.0, "max": 200.0}
    assert tail["entries_per_s"]["median"] == 100.0
    assert tail["delivered"]["all"] == {"median": 4.0, "min": 4.0, "max": 4.0}
    assert (tail["missing"], tail["repeated"], tail["unexpected"], tail["out_of_order_runs"]) == (1, 1, 0, 1)
    assert tail["load_1m_mean"] == {"median": 2.5, "min": 1.5, "max": 3.5}
    assert tail["settings"]["rate"] == 100 and tail["runs"] == 3

    table = markdown({"details": {"tail": tail}}).splitlines()
    assert "| delivery delay p50, ms | 50 | 10 | 100 |" in table
    assert "| entries delivered to the 'alpha' tail | 2 | 2 | 2 |" in table
    assert table[-1].startswith("| missing / repeated / unexpected / runs out of order")
    assert "| 1 / 1 / 0 / 1 |" in table[-1]


def test_tail_summary_of_a_run_where_nothing_arrived() -> None:
    empty = TailRun(rate=100, entries=200, produce_s=2.0, ready_s=1.0, caught_up_s=60.0,
                    delivered={"all": delivery([], ["1"])}, delays_ms={"all": []}, reconnects={"all": 0})
    tail = summarize([empty], 100, 2)
    assert tail["delay_ms_p50"] is None and tail["details"][0]["delay_ms"] is None and tail["load_1m_mean"] is None
    assert tail["missing"] == 1 and tail["delivered"]["all"]["median"] == 0
    assert "| delivery delay p99, ms | - | - | - |" in markdown({"details": {"tail": tail}}).splitlines()

"""The soak: the stream at half the measured end-to-end throughput for half an hour through the real collector and
two processors on the fault cluster, with the resident memory and the open descriptors of every logjet process
(collector, processor supervisors and their workers) read every 10 s. Every line indexed once, intact; the growth
of each process's memory and descriptors from the first minutes to the last goes to the results file.

The throughput is measured first, on the fault cluster and the machine as they are: ``FAULTS_SOAK_PROBE_LINES``
lines (50,000) written at once, timed from the first document indexed to the last. B3's committed figure (24,843
entries/s, benchmarks/results/20261125T184026Z.json) is a single broker and node with the machine to itself: half
of it outruns a 3 + 3 cluster that replicates every write on the same two cores. ``FAULTS_SOAK_S`` sets the soak's
length (1800 s by default), ``FAULTS_SOAK_RATE`` a rate of its own instead of the measured one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.pipeline import Component, Conservation
from tests.faults.test_faults import LAG

SOAK_S = float(os.environ.get("FAULTS_SOAK_S", "1800"))
SOAK_RATE = os.environ.get("FAULTS_SOAK_RATE")
PROBE_LINES = int(os.environ.get("FAULTS_SOAK_PROBE_LINES", "50000"))
EVERY_S = 10.0
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def group_usage(pgid: int) -> dict[int, tuple[int, int]]:
    """{pid: (resident KiB, open descriptors)} of every live process in process group ``pgid``."""
    out: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
            if int(fields[2]) != pgid or fields[0] == "Z":
                continue
            rss_kb = int(Path(f"/proc/{entry}/statm").read_text().split()[1]) * _PAGE_KB
            out[int(entry)] = (rss_kb, len(os.listdir(f"/proc/{entry}/fd")))
        except (OSError, ValueError, IndexError):
            continue  # gone while read
    return out


def _sample(comps: list[Component], at: float, series: dict[str, list[list[float]]]) -> None:
    for comp in comps:
        for pid, (rss_kb, fds) in group_usage(comp.proc.pid).items():
            # A processor's children: its worker and multiprocessing's resource tracker.
            role = "supervisor" if pid == comp.proc.pid and comp.name != "collector" else (
                "main" if pid == comp.proc.pid else "child")
            series.setdefault(f"{comp.name} {role} {pid}", []).append([round(at, 1), rss_kb, fds])


def drift(samples: list[list[float]], window_s: float) -> dict[str, Any]:
    """Mean RSS and descriptors over the first and the last ``window_s`` of ``samples`` ([t, rss KiB, fds])."""
    first = [s for s in samples if s[0] <= samples[0][0] + window_s]
    last = [s for s in samples if s[0] >= samples[-1][0] - window_s]

    def mean(rows: list[list[float]], i: int) -> float:
        return sum(r[i] for r in rows) / len(rows)

    rss_first, rss_last = mean(first, 1) / 1024, mean(last, 1) / 1024
    return {"rss_mb_first": round(rss_first, 1), "rss_mb_last": round(rss_last, 1),
            "rss_drift_mb": round(rss_last - rss_first, 1), "fds_first": round(mean(first, 2), 1),
            "fds_last": round(mean(last, 2), 1), "fds_drift": round(mean(last, 2) - mean(first, 2), 1),
            "samples": len(samples)}


def _started_idle(check: Conservation) -> None:
    topic = check.create_topics()
    assert topic == {"replication.factor": "3", "min.insync.replicas": "2"}
    check.start(processors=2)


def _measure(check: Conservation) -> tuple[dict[str, Any], float]:
    """Lines per second from file to Elasticsearch: PROBE_LINES written at once, timed from the first document
    indexed to the last (the processors' start-up left out)."""
    with open(check.file, "a", encoding="utf-8") as fh:
        check.write(fh, PROBE_LINES)
    first = last = None
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        count = check.indexed()
        now = time.monotonic()
        if count and first is None:
            first = (now, count)
        if count >= PROBE_LINES:
            last = (now, count)
            break
        time.sleep(0.5)
    assert first is not None and last is not None, f"{PROBE_LINES} lines not indexed in 900 s; {check.logs()}"
    seconds = max(0.5, last[0] - first[0])
    return ({"lines": PROBE_LINES, "seconds": round(seconds, 1)}, (last[1] - first[1]) / seconds)


@pytest.mark.faults_extended
@pytest.mark.timeout(SOAK_S + 1500)  # the soak, then the drain and the check of every line
def test_a_soak_at_half_the_end_to_end_throughput_loses_nothing_and_grows_no_process(
        cluster, conservation: Conservation, results: dict[str, Any]) -> None:  # noqa: ANN001
    check = conservation
    check.rate = 0
    _started_idle(check)
    probe, measured = _measure(check)
    check.delays_from = check.written  # the steady stream's delays, not those of the lines written at once
    check.rate = int(SOAK_RATE) if SOAK_RATE else max(1, int(measured / 2))
    comps = [c for c in (check.collector, *check.processors.values()) if c is not None]
    series: dict[str, list[list[float]]] = {}
    began = time.monotonic()
    while (now := time.monotonic()) - began < SOAK_S:
        _sample(comps, now - began, series)
        for comp in comps:
            assert comp.proc.poll() is None, f"{comp.name} exited {comp.proc.returncode}; {check.logs()}"
        time.sleep(max(0.0, EVERY_S - (time.monotonic() - now)))
    _sample(comps, time.monotonic() - began, series)
    lag = check.peak(check.all_processors(), LAG, since=began)
    written_s = time.monotonic() - began
    result = check.check(timeout=max(400.0, SOAK_S))
    # First 5 minutes against the last 5 (a quarter each of a soak shorter than 20 minutes).
    window = min(300.0, SOAK_S / 4)
    processes = {name: {**drift(rows, window), "series": rows} for name, rows in series.items()}
    results["soak"] = {
        "seconds": round(written_s, 1), "rate_lines_per_s": check.rate,
        "rate_source": "FAULTS_SOAK_RATE" if SOAK_RATE else "half the end-to-end throughput measured first",
        "measured_end_to_end_lines_per_s": round(measured, 1), "measure": probe,
        "lines": result["written"], "lost": result["missing"], "doubled": result["doubled"],
        "altered": result["foreign"], "delay_p50_s": result["delay_p50_s"], "delay_p99_s": result["delay_p99_s"],
        "delay_max_s": result["delay_max_s"], "verified_by": result["verified_by"], "lag_peak": lag,
        "drift_window_s": window, "sample_every_s": EVERY_S, "processes": processes}
    summary = {n: {k: v for k, v in p.items() if k != "series"} for n, p in processes.items()}
    print(f"soak: {result}; lag peak {lag}; {summary}")
    # Every logjet process was sampled: the collector, and each processor's supervisor and children.
    roles = {name.split()[1] for name in series}
    assert {"main", "supervisor", "child"} <= roles, sorted(series)

"""`python -m benchmarks`: run the benchmarks, print a table, write benchmarks/results/<time>.json and latest.json.

Each benchmark is warmed up once (discarded: the first touch of fresh memory is slow on these machines), then run
``--runs`` times; the median is reported with the min and max. Kafka and Elasticsearch are the local stack
(started if needed and stopped again) unless LOGJET_KAFKA_BOOTSTRAP and LOGJET_ELASTICSEARCH_URL point elsewhere.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
from pathlib import Path

import orjson

from benchmarks.collector import run_files
from benchmarks.corpus import LOGHUB_DIR, write_file_corpus

RESULTS = Path(__file__).resolve().parent / "results"
# Keys of latest.json: every benchmark of the plan, measured or null with the reason in notes.
KEYS = ("b1_entries_per_s_core", "b1_ratio_to_floor", "b2_entries_per_s_1_worker", "b2_entries_per_s_2_workers",
        "b3_entries_per_s", "b3_ratio_to_es_ceiling", "b4_files_lines_per_s_core", "b4_ratio_to_rsyslog",
        "b5_ratio_to_rsyslog")
NOT_BUILT = "not built yet: the benchmarks issue (harness beyond B4 files)"


def _machine() -> dict[str, object]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "kernel": platform.release()}


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000, help="corpus size for B4 files")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per benchmark (after one warm-up)")
    parser.add_argument("--corpus-dir", type=Path, default=Path(".logjet/bench"), help="where corpora are kept")
    args = parser.parse_args()

    bootstrap = os.environ.get("LOGJET_KAFKA_BOOTSTRAP")
    stack = None
    if not bootstrap:
        from logjet.config import load_settings
        from logjet.stack import Stack

        stack = Stack(load_settings().stack)
        was_running = stack.kafka.process.pid() is not None and stack.elasticsearch.process.pid() is not None
        stack.up(log=lambda m: print(m, file=sys.stderr))
        bootstrap = stack.kafka_bootstrap
    try:
        args.corpus_dir.mkdir(parents=True, exist_ok=True)
        corpus = args.corpus_dir / "files.log"
        size = write_file_corpus(corpus, args.lines)
        print(f"B4 files: corpus {args.lines:,} lines, {size / 1e6:.1f} MB (Loghub samples from {LOGHUB_DIR})",
              file=sys.stderr)
        warm = run_files(corpus, args.lines, bootstrap)
        print(f"  warm-up: {warm.lines_per_s_core:,.0f} lines/s/core (discarded)", file=sys.stderr)
        runs = []
        for i in range(args.runs):
            r = run_files(corpus, args.lines, bootstrap)
            runs.append(r)
            print(f"  run {i + 1}: {r.lines_per_s_core:,.0f} lines/s/core, {r.lines_per_s:,.0f} lines/s wall, "
                  f"{r.cpu_s:.2f} CPU-s in {r.wall_s:.2f}s", file=sys.stderr)
    finally:
        if stack is not None and not was_running:
            stack.down(log=lambda m: print(m, file=sys.stderr))

    b4_core = _summary([r.lines_per_s_core for r in runs])
    b4_wall = _summary([r.lines_per_s for r in runs])
    b4_mbps = _summary([r.bytes / r.wall_s / 1e6 for r in runs])
    now = dt.datetime.now(dt.UTC)
    table = [
        ("B4 files -> Kafka, lines/s per core", b4_core),
        ("B4 files -> Kafka, lines/s (wall, 1 collector)", b4_wall),
        ("B4 files -> Kafka, MB/s (wall)", b4_mbps),
    ]
    print(f"\n{'benchmark':<48} {'median':>12} {'min':>12} {'max':>12}")
    for name, s in table:
        print(f"{name:<48} {s['median']:>12,.0f} {s['min']:>12,.0f} {s['max']:>12,.0f}")
    notes = {k: NOT_BUILT for k in KEYS if not k.startswith("b4_files")}
    notes["b4_ratio_to_rsyslog"] = "rsyslog peer not run yet: the benchmarks issue"
    latest: dict[str, object] = {k: None for k in KEYS}
    latest.update({
        "b4_files_lines_per_s_core": round(b4_core["median"]),
        "machine": _machine(),
        "date": now.isoformat(timespec="seconds"),
        "notes": notes,
        "details": {
            "b4_files": {"lines": args.lines, "bytes": runs[0].bytes, "runs": len(runs),
                         "lines_per_s_core": b4_core, "lines_per_s_wall": b4_wall, "mb_per_s_wall": b4_mbps,
                         "settings": "collector defaults (batch 2000 entries / 512 KiB, zstd, acks=all, "
                                     "idempotence), Kafka 4.1.1 local single broker"},
        },
    })
    RESULTS.mkdir(exist_ok=True)
    body = orjson.dumps(latest, option=orjson.OPT_INDENT_2)
    (RESULTS / f"{now.strftime('%Y%m%dT%H%M%SZ')}.json").write_bytes(body)
    (RESULTS / "latest.json").write_bytes(body)
    print(f"\nwritten: {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m benchmarks`: run the benchmarks, print a table, write benchmarks/results/<time>.json and latest.json.

Each benchmark is warmed up once (discarded: the first touch of fresh memory is slow on these machines), then run
``--runs`` times; the median is reported with the min and max. Kafka and Elasticsearch are the local stack
(started if needed and stopped again) unless LOGJET_KAFKA_BOOTSTRAP and LOGJET_ELASTICSEARCH_URL point elsewhere.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import statistics
import sys
from pathlib import Path

import orjson

from benchmarks import rsyslog
from benchmarks.api_latency import LatencyResult, run_api_latency
from benchmarks.collector import run_files, run_syslog
from benchmarks.corpus import LOGHUB_DIR, syslog_messages, write_file_corpus
from benchmarks.end_to_end import bulk_bodies, run_ceiling, run_e2e
from benchmarks.first_doc import run_first_doc
from benchmarks.hot_path import VARIANTS, CoreWorker, make_batches, run_floor
from benchmarks.processor import drop_topic, preload, processor_core, run_process
from benchmarks.tail_latency import pct, run_tail, summarize
from logjet.config import ProcessorSettings

RESULTS = Path(__file__).resolve().parent / "results"
# Keys of latest.json: every benchmark of the plan, measured or null with the reason in notes.
KEYS = ("b1_entries_per_s_core", "b1_ratio_to_floor", "b1_python_entries_per_s_core", "b1_python_ratio_to_floor",
        "b2_entries_per_s_1_worker", "b2_entries_per_s_2_workers",
        "b3_entries_per_s", "b3_ratio_to_es_ceiling", "b4_files_lines_per_s_core", "b4_ratio_to_rsyslog",
        "b5_ratio_to_rsyslog")
NOT_BUILT = "not built yet: the benchmarks issue (harness beyond B2 and B4 files)"


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


TARGET_PER_DAY = 60e9  # the original platform's volume


def _projection(latest: dict[str, object]) -> list[dict[str, object]]:
    """Measured medians as entries a day, and how many cores (or 2-core boxes) 60 billion a day would take."""
    rows = []
    for key, rate, unit in (("b1_entries_per_s_core", "B1 processor hot path, one core", "cores"),
                            ("b2_entries_per_s_2_workers", "B2 processor, 2 workers beside Kafka, one 2-core box",
                             "2-core boxes"),
                            ("b3_entries_per_s", "B3 end to end into Elasticsearch, one 2-core box", "2-core boxes"),
                            ("b4_files_lines_per_s_core", "B4 file collector, one core", "cores")):
        value = latest.get(key)
        if isinstance(value, int | float) and value > 0:
            rows.append({"rate": rate, "key": key, "entries_per_s": value, "per_day": value * 86_400,
                         "needed": TARGET_PER_DAY / (value * 86_400), "unit": unit})
    return rows


def _versions(stack) -> dict[str, str | None]:  # noqa: ANN001 - logjet.stack.Stack or None
    import confluent_kafka
    import elasticsearch
    import msgspec

    return {"python": platform.python_version(),
            "kafka": stack.kafka.installed_version() if stack else "external",
            "elasticsearch": stack.elasticsearch_version() if stack else "external",
            "confluent_kafka": confluent_kafka.__version__, "librdkafka": confluent_kafka.libversion()[0],
            "elasticsearch_py": elasticsearch.__versionstr__, "orjson": orjson.__version__,
            "msgspec": msgspec.__version__}


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _repeat(label: str, runs: int, fn, show) -> list:  # noqa: ANN001
    warm = fn()
    print(f"  {label} warm-up: {show(warm)} (discarded)", file=sys.stderr)
    out = []
    for i in range(runs):
        r = fn()
        out.append(r)
        print(f"  {label} run {i + 1}: {show(r)}", file=sys.stderr)
    return out


def _show_tail(run) -> str:  # noqa: ANN001 - benchmarks.tail_latency.TailRun
    delays = run.all_delays_ms
    got = ", ".join(f"{n} {d.delivered:,} of {d.expected:,} ({d.missing} missing, {d.repeated} repeated)"
                    for n, d in run.delivered.items())
    late = (f"p50 {pct(delays, 50):,.0f} ms, p99 {pct(delays, 99):,.0f} ms, max {max(delays):,.0f} ms"
            if delays else "nothing delivered")
    return f"{run.per_s:,.0f} entries/s; {late}; {got}"


def main() -> int:
    if sys.argv[1:2] == ["report"]:
        from benchmarks.report import main as report

        return report(sys.argv[2:])
    if sys.argv[1:2] == ["fuzz"]:
        from benchmarks.fuzz import main as fuzz

        return fuzz(sys.argv[2:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     epilog="python -m benchmarks report: the README tables from the result files; "
                                            "python -m benchmarks fuzz: the transform under generated inputs")
    parser.add_argument("--lines", type=int, default=2_000_000, help="corpus size for B4 files and B2")
    parser.add_argument("--es-entries", type=int, default=500_000, help="entries of each B5 run (into Elasticsearch)")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per benchmark (after one warm-up)")
    parser.add_argument("--b1-entries", type=int, default=1_000_000, help="entries of the B1 hot-path runs")
    parser.add_argument("--e2e-lines", type=int, default=1_000_000, help="corpus lines of each B3 run")
    parser.add_argument("--e2e-workers", type=int, default=1, help="processor workers of B3 (Elasticsearch shares "
                        "the cores: one worker was the faster on 2 cores)")
    parser.add_argument("--syslog-messages", type=int, default=500_000, help="messages of each B4 syslog run")
    parser.add_argument("--udp-rate", type=int, default=50_000, help="datagrams/s the B4 UDP sender paces itself to")
    parser.add_argument("--only", choices=("b1", "b2", "b3", "b4", "b5", "api", "tail", "first_doc"),
                        help="run one benchmark only (the result file is written, latest.json is not)")
    parser.add_argument("--api-documents", type=int, default=1_000_000, help="documents behind the API latency run")
    parser.add_argument("--tail-runs", type=int, help="measured runs of the live tail benchmark (a minute or more "
                        "each): --runs, at most 3, unless given")
    parser.add_argument("--tail-rate", type=int, default=5_000, help="entries/s produced for the live tail")
    parser.add_argument("--tail-seconds", type=int, default=60, help="seconds of load of each live tail run")
    parser.add_argument("--first-doc-runs", type=int, default=3, help="runs of `logjet up` timed to its first "
                        "document (no warm-up: each is a fresh `up`, as a user's)")
    parser.add_argument("--corpus-dir", type=Path, default=Path(".logjet/bench"), help="where corpora are kept")
    args = parser.parse_args()

    bootstrap = os.environ.get("LOGJET_KAFKA_BOOTSTRAP")
    es_url = os.environ.get("LOGJET_ELASTICSEARCH_URL", "http://127.0.0.1:9200")
    stack = None
    was_running = True
    if not bootstrap and args.only != "b1":  # B1 needs no servers
        from logjet.config import load_settings
        from logjet.stack import Stack

        stack = Stack(load_settings().stack)
        was_running = stack.kafka.process.pid() is not None and stack.elasticsearch.process.pid() is not None
        stack.up(log=lambda m: print(m, file=sys.stderr))
        bootstrap, es_url = stack.kafka_bootstrap, stack.elasticsearch_url
    table: list[tuple[str, dict[str, float], str]] = []
    latest: dict[str, object] = {k: None for k in KEYS}
    notes = {k: NOT_BUILT if args.only is None else f"not run: --only {args.only}" for k in KEYS}
    details: dict[str, object] = {}
    # The core of the processor's parse step behind each figure of ``latest`` (B1 times both; B2, B3 and B5 run
    # the processor with the core LOGJET_CORE names, the compiled one unless it says otherwise).
    cores_of: dict[str, str] = {}
    machine_versions = _versions(stack)
    try:
        if args.only in (None, "b1"):
            batches, size = make_batches(args.b1_entries)
            print(f"B1: {args.b1_entries:,} entries, {size / 1e6:.1f} MB of records, {len(batches)} batches; "
                  f"the transform as {', '.join(VARIANTS)}, each in a process of its own",
                  file=sys.stderr)
            with contextlib.ExitStack() as workers:
                cores = {name: workers.enter_context(CoreWorker(core, args.b1_entries, patterns))
                         for name, (core, patterns) in VARIANTS.items()}
                for core, worker in cores.items():
                    if (worker.entries, worker.bytes) != (args.b1_entries, size):
                        raise RuntimeError(f"the B1 worker of the {core} core built other batches")
                runs = _repeat(f"B1 {' | '.join(VARIANTS)} | floor", args.runs,
                               lambda: (*(w.run() for w in cores.values()), run_floor(batches, size)),
                               lambda r: " | ".join(f"{x.per_s:,.0f}" for x in r) + " entries/s per core")
            floor = _summary([r[-1].per_s for r in runs])
            details["b1"] = {"entries": args.b1_entries, "bytes": size, "runs": len(runs),
                             "floor_entries_per_s": floor, "cores": {}}
            for i, core in enumerate(VARIANTS):
                rate = _summary([r[i].per_s for r in runs])
                mbps = _summary([r[i].mb_per_s for r in runs])
                ratio = _summary([r[i].per_s / r[-1].per_s for r in runs])
                details["b1"]["cores"][core] = {"entries_per_s": rate, "mb_per_s": mbps, "ratio_to_floor": ratio}
                table += [(f"B1 hot path ({core}), entries/s on one core", rate,
                           ">= 1,000,000" if core == "native" else ""),
                          (f"B1 hot path ({core}), MB/s of records on one core", mbps, ""),
                          (f"B1 {core} / floor (same run)", ratio, ">= 0.66" if core == "native" else "")]
                if core not in ("native", "python"):  # a variant: in the details only
                    continue
                prefix = "b1" if core == "native" else f"b1_{core}"
                latest[f"{prefix}_entries_per_s_core"] = round(rate["median"])
                latest[f"{prefix}_ratio_to_floor"] = round(ratio["median"], 4)
                cores_of[f"{prefix}_entries_per_s_core"] = cores_of[f"{prefix}_ratio_to_floor"] = core
                notes.pop(f"{prefix}_entries_per_s_core", None)
                notes.pop(f"{prefix}_ratio_to_floor", None)
            table.append(("B1 floor (orjson loads + dumps), entries/s", floor, ""))
            del batches
        peer = rsyslog.available() if args.only in (None, "b4", "b5") else None
        if peer is not None:
            print(f"rsyslog peer not run: {peer}", file=sys.stderr)
        elif args.only in (None, "b4", "b5"):  # the peer's version only where it runs
            machine_versions["rsyslog"] = rsyslog.version()
        if args.only in (None, "b4"):
            args.corpus_dir.mkdir(parents=True, exist_ok=True)
            corpus = args.corpus_dir / "files.log"
            size = write_file_corpus(corpus, args.lines)
            print(f"B4 files: corpus {args.lines:,} lines, {size / 1e6:.1f} MB (Loghub samples from {LOGHUB_DIR})",
                  file=sys.stderr)
            pairs = _repeat("B4 files logjet | rsyslog", args.runs,
                            lambda: (run_files(corpus, args.lines, bootstrap),
                                     None if peer else rsyslog.run_files(corpus, args.lines, bootstrap)),
                            lambda r: f"{r[0].lines_per_s_core:,.0f} lines/s/core ({r[0].lines_per_s:,.0f} wall) | "
                                      + (f"{r[1].per_s_core:,.0f} lines/s/core" if r[1] else "-"))
            core = _summary([r.lines_per_s_core for r, _ in pairs])
            wall = _summary([r.lines_per_s for r, _ in pairs])
            mbps = _summary([r.bytes / r.wall_s / 1e6 for r, _ in pairs])
            table += [("B4 files -> Kafka, lines/s per core", core, ""),
                      ("B4 files -> Kafka, lines/s (wall, 1 collector)", wall, ""),
                      ("B4 files -> Kafka, MB/s (wall)", mbps, "")]
            latest["b4_files_lines_per_s_core"] = round(core["median"])
            notes.pop("b4_files_lines_per_s_core")
            details["b4_files"] = {"lines": args.lines, "bytes": size, "runs": len(pairs), "lines_per_s_core": core,
                                   "lines_per_s_wall": wall, "mb_per_s_wall": mbps,
                                   "settings": "collector defaults (batch 2000 entries / 512 KiB, zstd, acks=all, "
                                               "idempotence), Kafka 4.1.1 local single broker"}
            if peer is None:
                rs_core = _summary([p.per_s_core for _, p in pairs])
                ratio = _summary([r.lines_per_s_core / p.per_s_core for r, p in pairs])
                table += [("B4 files, rsyslog imfile -> omkafka, lines/s per core", rs_core, ""),
                          ("B4 files, logjet / rsyslog per core (same run)", ratio, ">= 1")]
                latest["b4_ratio_to_rsyslog"] = round(ratio["median"], 4)
                notes.pop("b4_ratio_to_rsyslog")
                details["b4_files"].update({"rsyslog_lines_per_s_core": rs_core, "ratio_to_rsyslog": ratio,
                                            "rsyslog_settings": rsyslog.OMKAFKA_SETTINGS,
                                            "rsyslog_wall_lines_per_s": _summary([p.per_s for _, p in pairs])})
            else:
                notes["b4_ratio_to_rsyslog"] = f"rsyslog peer not run: {peer}"

            messages = syslog_messages(args.syslog_messages)
            for protocol in ("tcp", "udp"):
                pairs = _repeat(f"B4 syslog {protocol} logjet | rsyslog", args.runs,
                                lambda protocol=protocol: (
                                    run_syslog(protocol, messages, bootstrap, args.udp_rate),
                                    None if peer else rsyslog.run_syslog(protocol, messages, bootstrap,
                                                                         args.udp_rate)),
                                lambda r: f"{r[0].lines_per_s_core:,.0f} lines/s/core, {r[0].acked:,} of "
                                          f"{r[0].sent:,} delivered | "
                                          + (f"{r[1].per_s_core:,.0f} lines/s/core, {r[1].lines:,} delivered"
                                             if r[1] else "-"))
                core = _summary([r.lines_per_s_core for r, _ in pairs])
                lost = _summary([(r.sent - r.acked) / r.sent * 100 for r, _ in pairs])
                name = f"B4 syslog {protocol.upper()} -> Kafka"
                table.append((f"{name}, lines/s per core", core, ""))
                if protocol == "udp":
                    table.append((f"{name} at {args.udp_rate:,}/s: % lost", lost, ""))
                details[f"b4_syslog_{protocol}"] = {
                    "messages": len(messages), "runs": len(pairs), "lines_per_s_core": core,
                    "lines_per_s_wall": _summary([r.lines_per_s for r, _ in pairs]), "percent_lost": lost,
                    "settings": "one TCP connection, newline framing" if protocol == "tcp"
                    else f"datagrams paced at {args.udp_rate:,}/s"}
                if peer is None:
                    rs_core = _summary([p.per_s_core for _, p in pairs])
                    ratio = _summary([r.lines_per_s_core / p.per_s_core for r, p in pairs])
                    table += [(f"{name}, rsyslog im{protocol} -> omkafka, lines/s per core", rs_core, ""),
                              (f"{name}, logjet / rsyslog per core (same run)", ratio, ">= 1")]
                    if protocol == "udp":
                        table.append((f"{name}, rsyslog: % lost",
                                      _summary([(len(messages) - p.lines) / len(messages) * 100 for _, p in pairs]),
                                      ""))
                    latest[f"b4_syslog_{protocol}_ratio_to_rsyslog"] = round(ratio["median"], 4)
                    details[f"b4_syslog_{protocol}"].update({"rsyslog_lines_per_s_core": rs_core,
                                                             "ratio_to_rsyslog": ratio,
                                                             "rsyslog_settings": rsyslog.OMKAFKA_SETTINGS})
            del messages
        if args.only in (None, "b2"):
            topic = preload(bootstrap, args.lines)
            print(f"B2: topic {topic} preloaded with {args.lines:,} entries", file=sys.stderr)
            for workers in (1, 2):
                runs = _repeat(f"B2 discard {workers}w", args.runs,
                               lambda workers=workers: run_process(bootstrap, es_url, topic, args.lines, workers,
                                                                   "discard"),
                               lambda r: f"{r.per_s:,.0f} entries/s, {r.cpu_s_per_million:.1f} CPU-s/M")
                rate = _summary([r.per_s for r in runs])
                cpu = _summary([r.cpu_s_per_million for r in runs])
                rss = _summary([r.max_worker_rss_mb for r in runs])
                name = f"B2 processor, {workers} worker{'s' if workers > 1 else ''}, discard sink"
                goal = ">= 700,000" if workers == 2 else ""
                table += [(f"{name}: entries/s", rate, goal), (f"{name}: CPU-s per million", cpu, ""),
                          (f"{name}: peak worker RSS, MB", rss, "<= 400")]
                details[f"b2_discard_{workers}w"] = {"entries": args.lines, "runs": len(runs), "entries_per_s": rate,
                                                     "cpu_s_per_million": cpu, "core": processor_core(),
                                                     "worker_peak_rss_mb": rss,
                                                     "worker_peak_rss_mb_by_run": [r.peak_rss_mb for r in runs],
                                                     "batch_sizes": "defaults"}
                k = "b2_entries_per_s_1_worker" if workers == 1 else "b2_entries_per_s_2_workers"
                latest[k] = round(rate["median"])
                latest[f"b2_worker_peak_rss_mb_{workers}w"] = round(rss["median"], 1)
                cores_of[k] = cores_of[f"b2_worker_peak_rss_mb_{workers}w"] = processor_core()
                notes.pop(k, None)
            drop_topic(bootstrap, topic)
        if args.only in (None, "b5"):
            topic = preload(bootstrap, args.es_entries)
            print(f"B5: topic {topic} preloaded with {args.es_entries:,} entries", file=sys.stderr)
            pairs = _repeat("B5 logjet process (1 worker) | rsyslog", args.runs,
                            lambda: (run_process(bootstrap, es_url, topic, args.es_entries, 1, "elasticsearch"),
                                     None if peer else rsyslog.run_b5(topic, args.es_entries, bootstrap, es_url)),
                            lambda r: f"{r[0].per_s:,.0f} entries/s, {1e6 / r[0].cpu_s_per_million:,.0f}/CPU-s | "
                                      + (f"{r[1].per_s:,.0f} entries/s, {r[1].per_s_core:,.0f}/CPU-s" if r[1]
                                         else "-"))
            rate = _summary([r.per_s for r, _ in pairs])
            core = _summary([1e6 / r.cpu_s_per_million for r, _ in pairs])
            table += [("B5 logjet process, 1 worker, into ES: entries/s", rate, ""),
                      ("B5 the same: entries per CPU-second of the worker", core, "")]
            details["b5"] = {"entries": args.es_entries, "runs": len(pairs), "entries_per_s": rate,
                             "entries_per_cpu_s": core, "core": processor_core(),
                             "span": "both sides between 20% and 80% of the entries indexed"}
            if peer is None:
                rs_rate = _summary([p.per_s for _, p in pairs])
                rs_core = _summary([p.per_s_core for _, p in pairs])
                ratio = _summary([(1e6 / r.cpu_s_per_million) / p.per_s_core for r, p in pairs])
                table += [("B5 rsyslog imkafka -> omelasticsearch: entries/s", rs_rate, ""),
                          ("B5 rsyslog: entries per CPU-second", rs_core, ""),
                          ("B5 logjet / rsyslog per CPU-second (same run)", ratio, "")]
                latest["b5_ratio_to_rsyslog"] = round(ratio["median"], 4)
                cores_of["b5_ratio_to_rsyslog"] = processor_core()
                notes.pop("b5_ratio_to_rsyslog")
                details["b5"].update({"rsyslog_entries_per_s": rs_rate, "rsyslog_entries_per_cpu_s": rs_core,
                                      "ratio_per_cpu_s": ratio,
                                      "ratio_wall": _summary([r.per_s / p.per_s for r, p in pairs])})
            else:
                notes["b5_ratio_to_rsyslog"] = f"rsyslog peer not run: {peer}"
            drop_topic(bootstrap, topic)
        if args.only in (None, "b3"):
            args.corpus_dir.mkdir(parents=True, exist_ok=True)
            corpus = args.corpus_dir / "e2e.log"
            write_file_corpus(corpus, args.e2e_lines)
            bodies = bulk_bodies(args.e2e_lines)
            concurrency = args.e2e_workers * ProcessorSettings().bulk_concurrency
            print(f"B3: {args.e2e_lines:,} lines, {args.e2e_workers} worker(s); ceiling: {len(bodies)} bulk bodies, "
                  f"{concurrency} in flight", file=sys.stderr)
            pairs = _repeat("B3 pipeline | ceiling", args.runs,
                            lambda: (run_e2e(corpus, args.e2e_lines, bootstrap, es_url, args.e2e_workers),
                                     run_ceiling(es_url, bodies, concurrency)),
                            lambda r: f"{r[0].steady_per_s:,.0f} (whole run {r[0].per_s:,.0f}) | "
                                      f"{r[1].per_s:,.0f} documents/s")
            steady = _summary([e.steady_per_s for e, _ in pairs])
            whole = _summary([e.per_s for e, _ in pairs])
            ceiling = _summary([c.per_s for _, c in pairs])
            ratio = _summary([e.steady_per_s / c.per_s for e, c in pairs])
            table += [("B3 files -> Kafka -> processor -> ES, steady entries/s", steady, ""),
                      ("B3 the same, whole run (ramp included), entries/s", whole, ""),
                      ("B3 Elasticsearch ceiling (pre-encoded bulk), docs/s", ceiling, ""),
                      ("B3 pipeline / ceiling (same run)", ratio, ">= 0.9")]
            latest["b3_entries_per_s"] = round(steady["median"])
            latest["b3_ratio_to_es_ceiling"] = round(ratio["median"], 4)
            cores_of["b3_entries_per_s"] = cores_of["b3_ratio_to_es_ceiling"] = processor_core()
            notes.pop("b3_entries_per_s")
            notes.pop("b3_ratio_to_es_ceiling")
            details["b3"] = {"lines": args.e2e_lines, "runs": len(pairs), "workers": args.e2e_workers,
                             "core": processor_core(),
                             "bulk_in_flight": concurrency, "steady_entries_per_s": steady,
                             "whole_run_entries_per_s": whole, "ceiling_docs_per_s": ceiling,
                             "ratio_to_ceiling": ratio}
            del bodies
        if args.only in (None, "api"):
            print(f"API latency: {args.api_documents:,} documents", file=sys.stderr)
            lat = run_api_latency(es_url, bootstrap, args.api_documents)
            for name, values in (("GET /v1/logs (logjet serve, HTTP)", lat.api_ms),
                                 ("the same requests, Elasticsearch directly", lat.es_ms)):
                summ = {"median": LatencyResult.pct(values, 50), "min": min(values), "max": max(values)}
                table.append((f"{name}: ms p50 (p99 {LatencyResult.pct(values, 99):.1f})", summ, ""))
            details["api_latency"] = {
                "documents": lat.documents, "queries": len(lat.api_ms), "pits_opened": lat.pits_opened,
                "requests": "a first page: the search for size + 1 documents, and a point in time opened when the "
                            "API's answer carried one (then closed, untimed), on both paths",
                "api_ms": {"p50": LatencyResult.pct(lat.api_ms, 50), "p99": LatencyResult.pct(lat.api_ms, 99)},
                "elasticsearch_ms": {"p50": LatencyResult.pct(lat.es_ms, 50), "p99": LatencyResult.pct(lat.es_ms, 99)},
            }
        if args.only in (None, "tail"):
            tail_runs = args.tail_runs if args.tail_runs is not None else min(args.runs, 3)
            print(f"live tail: {args.tail_rate:,} entries/s for {args.tail_seconds} s, two tails, "
                  f"{tail_runs} runs", file=sys.stderr)
            runs = _repeat("live tail", tail_runs, lambda: run_tail(bootstrap, es_url, args.tail_rate,
                                                                   args.tail_seconds),
                           _show_tail)
            tail = summarize(runs, args.tail_rate, args.tail_seconds)
            for name, key in (("p50", "delay_ms_p50"), ("p99", "delay_ms_p99"), ("max", "delay_ms_max")):
                if tail[key] is not None:
                    table.append((f"live tail, delivery delay {name}, ms", tail[key], ""))
                    latest[f"tail_{key}"] = round(tail[key]["median"], 1)
            table.append(("live tail, entries/s produced", tail["entries_per_s"], ""))
            latest.update({"tail_entries_per_s": round(tail["entries_per_s"]["median"]),
                           "tail_missing": tail["missing"], "tail_repeated": tail["repeated"]})
            details["tail"] = tail
        if args.only in (None, "first_doc"):
            print(f"first document: `logjet up` (demo) against the running servers, {args.first_doc_runs} runs",
                  file=sys.stderr)
            firsts = []
            for i in range(args.first_doc_runs):
                r = run_first_doc(bootstrap, es_url)
                firsts.append(r)
                print(f"  first document run {i + 1}: up {r.up_s:.1f} s, first document {r.first_doc_s:.1f} s, all "
                      f"{r.queries} example queries {r.all_queries_s:.1f} s, stopped in {r.stop_s:.1f} s (load "
                      f"{r.load_1m:.1f})", file=sys.stderr)
            first = {name: _summary([getattr(r, name) for r in firsts])
                     for name in ("up_s", "first_doc_s", "all_queries_s", "stop_s")}
            table += [("first document: `logjet up` until it says it is up, s", first["up_s"], ""),
                      ("first document: until /v1/logs returns one, s", first["first_doc_s"], ""),
                      ("first document: until every example query returns one, s", first["all_queries_s"], ""),
                      ("first document: Ctrl-C until every process is gone, s", first["stop_s"], "")]
            latest["first_doc_s"] = round(first["first_doc_s"]["median"], 2)
            latest["first_doc_all_queries_s"] = round(first["all_queries_s"]["median"], 2)
            details["first_doc"] = {
                "runs": len(firsts), "queries": firsts[0].queries, "core": processor_core(), **first,
                "by_run": [{"up_s": round(r.up_s, 2), "first_doc_s": round(r.first_doc_s, 2),
                            "all_queries_s": round(r.all_queries_s, 2), "stop_s": round(r.stop_s, 2),
                            "load_1m": round(r.load_1m, 2)}
                           for r in firsts],
                "setup": "`logjet up` with no paths (the demo) as a new user runs it after `logjet stack up`: the "
                         "servers already running, used and not stopped; a fresh state directory, topic, consumer "
                         "group and data stream per run, every other setting at its default; no warm-up run",
                "open_demo": all(r.open_demo for r in firsts),
            }
    finally:
        if stack is not None and not was_running:
            stack.down(log=lambda m: print(m, file=sys.stderr))

    now = dt.datetime.now(dt.UTC)
    print(f"\n{'benchmark':<58} {'median':>10} {'min':>10} {'max':>10}  goal")
    for name, summ, goal in table:
        digits = 3 if summ["max"] < 10 else 1  # ratios
        print(f"{name:<58} {summ['median']:>10,.{digits}f} {summ['min']:>10,.{digits}f} {summ['max']:>10,.{digits}f}"
              f"  {goal}")
    latest.update({"machine": _machine(), "versions": machine_versions, "date": now.isoformat(timespec="seconds"),
                   "core": cores_of, "notes": notes,
                   "details": details})
    projection = _projection(latest)
    if projection:
        print(f"\nprojection against {TARGET_PER_DAY:,.0f} entries a day ({TARGET_PER_DAY / 86_400:,.0f}/s):")
        for row in projection:
            print(f"  {row['rate']:<62} {row['per_day']:>18,.0f}/day  {row['needed']:>8,.1f} {row['unit']}")
    latest["projection"] = projection
    RESULTS.mkdir(exist_ok=True)
    body = orjson.dumps(latest, option=orjson.OPT_INDENT_2)
    (RESULTS / f"{now.strftime('%Y%m%dT%H%M%SZ')}.json").write_bytes(body)
    if args.only is None:
        (RESULTS / "latest.json").write_bytes(body)
    print(f"\nwritten: {RESULTS / (now.strftime('%Y%m%dT%H%M%SZ') + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

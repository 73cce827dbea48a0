"""`python -m benchmarks report`: the result tables of benchmarks/README.md and the benchmark paragraph of the
top-level README, generated from the committed result files (``benchmarks/results/*.json``).

Each generated part sits between marker comments (``<!-- report:begin -->``/``end`` in benchmarks/README.md,
``<!-- benchmarks:begin -->``/``end`` and ``<!-- first_doc:begin -->``/``end`` in README.md) and is replaced whole;
the text around it is the READMEs' own.
Every table names the file its figures come from. ``--check`` changes nothing and fails when a README differs from
what the files give (a unit test runs the same comparison, so a figure edited by hand fails CI).

What the files do not say but their dates do: every run before the compiled core existed (``CORE_SINCE``, the commit
that added ``native/``) ran the Python parse step. Runs of the older harness lack the marks of its corrections
(``rsyslog_settings``, B5's ``span``, the API's ``requests``), and their affected figures say so.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks.tail_latency import markdown as tail_markdown

__all__ = ["CORE_SINCE", "Row", "load", "main", "render", "replace_section", "rows", "section", "targets"]

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parent.parent
# The commit that added the compiled core (native/, 837cae3) is dated 2026-11-29T19:56:37Z: runs before it parsed in
# Python whatever LOGJET_CORE said.
CORE_SINCE = datetime(2026, 11, 29, 19, 56, 37, tzinfo=UTC)
Spread = dict[str, float]


@dataclass(frozen=True)
class Goal:
    op: str  # ">=" or "<="
    value: float

    def text(self) -> str:
        return f"{self.op} {self.value:,.0f}" if self.value >= 1000 else f"{self.op} {self.value:g}"

    def verdict(self, median: float) -> str:
        if (median >= self.value) if self.op == ">=" else (median <= self.value):
            return "yes"
        if self.op == ">=":
            if median <= 0:
                return "**no**"
            short = self.value / median
            # A near miss reads as one: "1.0x short" would hide it.
            return f"**no: {short:.2f}x short**" if short < 1.1 else f"**no: {short:.1f}x short**"
        return f"**no: {median / self.value:.2f}x over**"


# The goals of the compiled-core work, per figure.
B1_RATE, B1_FLOOR = Goal(">=", 1_000_000), Goal(">=", 0.66)
B2_RATE, RSS = Goal(">=", 700_000), Goal("<=", 400)
B3_RATIO, B4_RATIO, B5_RATIO = Goal(">=", 0.85), Goal(">=", 1.0), Goal(">=", 1.5)


@dataclass(frozen=True)
class Row:
    name: str
    core: str  # the processor's parse step behind the figure, or "-" where the processor is not involved
    spread: Spread
    fmt: str = ",.0f"
    goal: Goal | None = None
    note: str = ""  # a footnote mark


NOTES = {
    "hup": "The rsyslog peer of this run had omkafka's default reopenOnHup (on): the SIGHUP that refreshed its "
           "counters every second also tore down and rebuilt its Kafka producer, so its figures (and the ratios) "
           "are those of a handicapped peer, to be measured again.",
    "b5span": "In this run rsyslog was timed over its whole run (start-up included) and logjet over the steady "
              "span between 20% and 80% of the entries: the two are not timed alike, to be measured again.",
    "pit": "In this run the direct path was a plain search for 100 documents, while the API's first page searches "
           "for 101 and opens a point in time when a next page exists: not the same requests, to be measured again.",
}


def load(results: Path = RESULTS) -> dict[str, dict[str, Any]]:
    """Every result file, by name (the fuzz runs' under ``fuzz-``)."""
    return {p.name: orjson.loads(p.read_bytes()) for p in sorted(results.glob("*.json"))}


# Result files of runs that are not benchmarks: each kind gets a table of its own.
_OTHER_RUNS = ("fuzz-", "faults-", "layouts-", "patterns-")


def _benchmarks(files: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in files.items() if not n.startswith(_OTHER_RUNS)}


def _date(result: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(result["date"])


def _core(result: dict[str, Any], key: str, detail: dict[str, Any] | None = None) -> str:
    if detail is not None and "core" in detail:
        return detail["core"]
    if key in result.get("core", {}):
        return result["core"][key]
    return "python" if _date(result) < CORE_SINCE else "native"


def _ratio_fmt(spread: Spread) -> str:
    return ".3f" if spread["max"] < 10 else ",.0f"


def rows(result: dict[str, Any]) -> tuple[list[Row], set[str]]:
    """The table of one result file: a row per figure, and the footnotes its rows carry."""
    d: dict[str, Any] = result.get("details", {})
    out: list[Row] = []
    notes: set[str] = set()
    if "b1" in d:
        b1 = d["b1"]
        cores = b1.get("cores") or {_core(result, "b1_entries_per_s_core"): {
            "entries_per_s": b1["entries_per_s"], "mb_per_s": b1["mb_per_s"], "ratio_to_floor": b1["ratio_to_floor"]}}
        for core, c in cores.items():
            out += [Row("B1 hot path, entries/s on one core", core, c["entries_per_s"], goal=B1_RATE),
                    Row("B1 hot path, MB/s of records on one core", core, c["mb_per_s"], ".1f"),
                    Row("B1 logjet / floor (same run)", core, c["ratio_to_floor"], ".3f", B1_FLOOR)]
        out.append(Row("B1 floor (orjson loads + dumps), entries/s", "-", b1["floor_entries_per_s"]))
    for workers in (1, 2):
        b2 = d.get(f"b2_discard_{workers}w")
        if b2:
            name = f"B2 processor, {workers} worker{'s' if workers > 1 else ''}, discard sink"
            core = _core(result, f"b2_entries_per_s_{workers}_worker{'s' if workers > 1 else ''}", b2)
            out += [Row(f"{name}, entries/s", core, b2["entries_per_s"], goal=B2_RATE if workers == 2 else None),
                    Row(f"{name}, CPU-s per million entries", core, b2["cpu_s_per_million"], ".1f")]
            if "worker_peak_rss_mb" in b2:
                out.append(Row(f"{name}, peak RSS of a worker, MB", core, b2["worker_peak_rss_mb"], ",.0f", RSS))
    if "b3" in d:
        b3 = d["b3"]
        core = _core(result, "b3_entries_per_s", b3)
        out += [Row("B3 files -> Kafka -> processor -> Elasticsearch, steady entries/s", core,
                    b3["steady_entries_per_s"]),
                Row("B3 the same, whole run (ramp included), entries/s", core, b3["whole_run_entries_per_s"]),
                Row("B3 Elasticsearch's ceiling (pre-encoded bulk), docs/s", "-", b3["ceiling_docs_per_s"]),
                Row("B3 pipeline / ceiling (same run)", core, b3["ratio_to_ceiling"], ".3f", B3_RATIO)]
    for key, label, peer in (("b4_files", "B4 files -> Kafka", "imfile"),
                             ("b4_syslog_tcp", "B4 syslog TCP -> Kafka", "imtcp"),
                             ("b4_syslog_udp", "B4 syslog UDP -> Kafka", "imudp")):
        b4 = d.get(key)
        if not b4:
            continue
        out.append(Row(f"{label}, lines per CPU-second (logjet)", "-", b4["lines_per_s_core"]))
        if key == "b4_files":
            out.append(Row(f"{label}, lines/s wall (one collector)", "-", b4["lines_per_s_wall"]))
        if "rsyslog_lines_per_s_core" in b4:
            mark = "" if "rsyslog_settings" in b4 else "hup"
            notes.add(mark)
            out += [Row(f"{label}, rsyslog {peer} -> omkafka, lines per CPU-second", "-",
                        b4["rsyslog_lines_per_s_core"], note=mark),
                    Row(f"{label}, logjet / rsyslog per CPU-second", "-", b4["ratio_to_rsyslog"],
                        _ratio_fmt(b4["ratio_to_rsyslog"]), B4_RATIO, mark)]
        if key == "b4_syslog_udp":
            out.append(Row(f"{label}, % lost (logjet, paced)", "-", b4["percent_lost"], ".1f"))
    if "first_doc" in d:
        first = d["first_doc"]
        core = _core(result, "first_doc_s", first)
        out += [Row("`logjet up` (demo) until /v1/logs returns a document, s", core, first["first_doc_s"], ".1f"),
                Row("`logjet up` (demo) until every example query returns one, s", core, first["all_queries_s"],
                    ".1f")]
    if "b5" in d:
        b5 = d["b5"]
        core = _core(result, "b5_ratio_to_rsyslog", b5)
        out += [Row("B5 `logjet process` (1 worker) into Elasticsearch, entries/s", core, b5["entries_per_s"]),
                Row("B5 the same, entries per CPU-second of the worker", core, b5["entries_per_cpu_s"])]
        if "rsyslog_entries_per_cpu_s" in b5:
            mark = "" if "span" in b5 else "b5span"
            notes.add(mark)
            out += [Row("B5 rsyslog imkafka -> omelasticsearch, entries/s", "-", b5["rsyslog_entries_per_s"],
                        note=mark),
                    Row("B5 rsyslog, entries per CPU-second", "-", b5["rsyslog_entries_per_cpu_s"], note=mark),
                    Row("B5 logjet / rsyslog per CPU-second", core, b5["ratio_per_cpu_s"], ".3f", B5_RATIO, mark)]
    notes.discard("")
    return out, notes


def _mark(note: str, order: list[str]) -> str:
    return f" [{order.index(note) + 1}]" if note else ""


def table(result_rows: list[Row], notes: set[str]) -> tuple[str, list[str]]:
    """A markdown table of the rows, and its footnotes in the order their marks number them."""
    order = [n for n in NOTES if n in notes]
    lines = ["| benchmark | core | median | min | max | goal | met? |", "|---|---|---:|---:|---:|---|---|"]
    for r in result_rows:
        s = r.spread
        lines.append(f"| {r.name}{_mark(r.note, order)} | {r.core} | {s['median']:{r.fmt}} | {s['min']:{r.fmt}} | "
                     f"{s['max']:{r.fmt}} | {r.goal.text() if r.goal else ''} | "
                     f"{r.goal.verdict(s['median']) if r.goal else ''} |")
    return "\n".join(lines), [f"[{i + 1}] {NOTES[n]}" for i, n in enumerate(order)]


def _same_as(name: str, files: dict[str, dict[str, Any]]) -> str | None:
    """The timestamped file latest.json is a copy of, if any."""
    return next((n for n, r in files.items() if n != name and r == files[name]), None)


def _machine(result: dict[str, Any]) -> str:
    m, v = result.get("machine", {}), result.get("versions") or {}
    parts = [f"{m.get('cores', '?')} cores ({m.get('cpu', 'unknown')!r} in /proc/cpuinfo)",
             f"Python {m.get('python', '?')}"]
    if v:
        parts.append(f"Kafka {v.get('kafka', '?')}, Elasticsearch {v.get('elasticsearch', '?')} on the same cores")
        parts.append(f"confluent-kafka {v.get('confluent_kafka', '?')} / librdkafka {v.get('librdkafka', '?')}, "
                     f"orjson {v.get('orjson', '?')}, msgspec {v.get('msgspec', '?')}")
        if "rsyslog" in v:
            parts.append(f"rsyslog {v['rsyslog']}")
    return "; ".join(parts)


def _runs(result: dict[str, Any]) -> str:
    counts = sorted({d["runs"] for d in result.get("details", {}).values() if isinstance(d, dict) and "runs" in d})
    return "/".join(str(c) for c in counts) or "?"


def _latest_section(files: dict[str, dict[str, Any]]) -> list[str]:
    result = files["latest.json"]
    twin = _same_as("latest.json", files)
    out = ["### Latest full run: `results/latest.json`" + (f" (the same as `results/{twin}`)" if twin else ""),
           _wrap(f"{result['date']}; {_machine(result)}. Medians of {_runs(result)} runs after a warm-up, with their "
                 "min and max. The core column names the processor's parse step behind a figure (`-`: the "
                 "processor is not involved)."), ""]
    body, footnotes = table(*rows(result))
    out.append(body)
    if footnotes:
        out += ["", *(_wrap(f) for f in footnotes)]
    api = result.get("details", {}).get("api_latency")
    if api:
        text = (f"API latency (`results/latest.json`, {api['documents']:,} documents, {api['queries']} queries per "
                f"path): `GET /v1/logs` through `logjet serve` p50 {api['api_ms']['p50']:.1f} ms, p99 "
                f"{api['api_ms']['p99']:.1f} ms; directly to Elasticsearch p50 {api['elasticsearch_ms']['p50']:.1f} "
                f"ms, p99 {api['elasticsearch_ms']['p99']:.1f} ms.")
        if "requests" not in api:
            text += " " + NOTES["pit"]
        others = [(n, r["details"]["api_latency"]) for n, r in files.items()
                  if n not in ("latest.json", twin) and "api_latency" in r.get("details", {})]
        for name, a in others:
            text += (f" Also `results/{name}` ({a['documents']:,} documents): through the API p50 "
                     f"{a['api_ms']['p50']:.1f} ms, p99 {a['api_ms']['p99']:.1f} ms; directly p50 "
                     f"{a['elasticsearch_ms']['p50']:.1f} ms, p99 {a['elasticsearch_ms']['p99']:.1f} ms"
                     + ("." if "requests" in a else " (the same unequal direct path)."))
        out += ["", _wrap(text)]
    projection = result.get("projection") or []
    if projection:
        out += ["", "Projection from `results/latest.json` (60 billion entries a day = 694,444 entries/s):", "",
                "| measured (median) | per day | for 60 billion a day |", "|---|---:|---:|"]
        out += [f"| {p['rate']}: {p['entries_per_s']:,.0f}/s | {p['per_day'] / 1e9:,.2f} billion | "
                f"{p['needed']:,.1f} {p['unit']} |" for p in projection]
    return out


def _b1_section(files: dict[str, dict[str, Any]]) -> list[str]:
    """The newest run of B1 with both implementations of the transform, when it is newer than the full run."""
    found = [(n, r) for n, r in files.items() if "cores" in r.get("details", {}).get("b1", {}) and n != "latest.json"]
    if not found:
        return []
    name, result = max(found, key=lambda nr: _date(nr[1]))
    if _date(result) <= _date(files["latest.json"]):
        return []
    b1 = result["details"]["b1"]
    b1_rows = [r for r in rows(result)[0] if r.name.startswith("B1")]
    return ["", f"### Newest B1 run: `results/{name}`",
            _wrap(f"{result['date']}; {_machine(result)}. {b1['entries']:,} entries, medians of {b1['runs']} runs "
                  "after a warm-up, with their min and max; the two implementations of the transform (`native`: the "
                  "whole batch in the compiled core; `python`: the reference) and the floor interleaved run by run. "
                  "Only ratios within one run compare: the floor itself moves between runs with the machine's load."),
            "", table(b1_rows, set())[0]]


def _tail_section(files: dict[str, dict[str, Any]]) -> list[str]:
    found = [(n, r) for n, r in files.items() if "tail" in r.get("details", {}) and n != "latest.json"]
    if not found:
        return []
    name, result = max(found, key=lambda nr: _date(nr[1]))
    tail = result["details"]["tail"]
    s = tail["settings"]
    return ["", f"### Live tail, delivery delay: `results/{name}`",
            _wrap(f"{result['date']}; {_machine(result)}. {s['rate']:,} entries/s for {s['seconds']} s, "
                  f"{s['processor_workers']} processor worker, two tails; a warm-up and {tail['runs']} runs, median "
                  "(min-max) of each run's figure."), "", tail_markdown(result)]


_FIRST_DOC_ROWS = (("up_s", "it says it is up (the API answers), with its example queries"),
                   ("first_doc_s", "`/v1/logs` returns the first demo document"),
                   ("all_queries_s", "every example query it printed returns a document"))


def _first_doc_latest(files: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    found = [(n, r) for n, r in files.items() if "first_doc" in r.get("details", {}) and n != "latest.json"]
    return max(found, key=lambda nr: _date(nr[1])) if found else None


def _first_doc_section(files: dict[str, dict[str, Any]]) -> list[str]:
    newest = _first_doc_latest(files)
    if newest is None:
        return []
    name, result = newest
    first = result["details"]["first_doc"]
    out = ["", f"### Time to the first document: `results/{name}`",
           _wrap(f"{result['date']}; {_machine(result)}. {first['setup']}. {first['runs']} runs, median (min-max); "
                 f"the API asked every 0.1 s (the first document) and 0.25 s (each example query)."), "",
           "| from the start of `logjet up` until | median, s | min, s | max, s |", "|---|---:|---:|---:|"]
    for key, label in (*_FIRST_DOC_ROWS, ("stop_s", "(from Ctrl-C) every process it started is gone")):
        s = first[key]
        out.append(f"| {label} | {s['median']:.1f} | {s['min']:.1f} | {s['max']:.1f} |")
    loads = [r["load_1m"] for r in first.get("by_run", []) if "load_1m" in r]
    if loads:
        out += ["", f"The machine's 1-minute load average as each run began: {', '.join(f'{x:.1f}' for x in loads)} "
                    f"(on {result.get('machine', {}).get('cores', '?')} cores)."]
    every = sorted(((n, r) for n, r in files.items() if "first_doc" in r.get("details", {}) and n != "latest.json"),
                   key=lambda nr: _date(nr[1]))
    if len(every) > 1:
        out += ["", "Every first-document file, medians in seconds (the load average as each run began, where "
                    "recorded):", "", "| file | up | first document | every example query | stopped | load |",
                "|---|---:|---:|---:|---:|---|"]
        for n, r in every:
            f = r["details"]["first_doc"]
            load = ", ".join(f"{x['load_1m']:.1f}" for x in f.get("by_run", []) if "load_1m" in x) or "-"
            out.append(f"| `results/{n}` | {f['up_s']['median']:.1f} | {f['first_doc_s']['median']:.1f} | "
                       f"{f['all_queries_s']['median']:.1f} | {f['stop_s']['median']:.1f} | {load} |")
    return out


def _first_doc_paragraph(files: dict[str, dict[str, Any]]) -> str:
    newest = _first_doc_latest(files)
    if newest is None:
        return "Not measured yet: `python -m benchmarks --only first_doc` measures it."
    name, result = newest
    first = result["details"]["first_doc"]
    m = {k: first[k]["median"] for k in ("up_s", "first_doc_s", "all_queries_s", "stop_s")}
    return _wrap(
        f"Measured ({result['date'][:10]}, `benchmarks/results/{name}`, median of {first['runs']} runs of the demo "
        f"against servers already running, on {result.get('machine', {}).get('cores', '?')} cores shared with "
        f"them): `up` says it is up {m['up_s']:.1f} s after it starts, the first document is searchable through "
        f"the API after {m['first_doc_s']:.1f} s, every example query it prints finds documents after "
        f"{m['all_queries_s']:.1f} s, and Ctrl-C stops everything in {m['stop_s']:.1f} s." + _first_doc_spread(files))


def _first_doc_spread(files: dict[str, dict[str, Any]]) -> str:
    medians = sorted(r["details"]["first_doc"]["first_doc_s"]["median"] for n, r in files.items()
                     if "first_doc" in r.get("details", {}) and n != "latest.json")
    if len(medians) < 2:
        return ""
    return (f" Over the {len(medians)} committed runs the median to the first document went from {medians[0]:.1f} to "
            f"{medians[-1]:.1f} s with the load of the shared cores (each file in `benchmarks/README.md`).")


Pick = Callable[[dict[str, Any]], Spread | None]  # a figure of the "after" run's details
_BEFORE_KEYS: tuple[tuple[str, str, Pick], ...] = (
                ("B1 entries/s on one core", "b1_entries_per_s_core",
                 lambda d: (d.get("b1", {}).get("cores", {}).get("python") or d.get("b1", {})).get("entries_per_s")),
                ("B2 1 worker, entries/s", "b2_discard_1w_entries_per_s",
                 lambda d: d.get("b2_discard_1w", {}).get("entries_per_s")),
                ("B2 2 workers, entries/s", "b2_discard_2w_entries_per_s",
                 lambda d: d.get("b2_discard_2w", {}).get("entries_per_s")),
                ("B4 files, lines per CPU-second", "b4_files_lines_per_s_core",
                 lambda d: d.get("b4_files", {}).get("lines_per_s_core")),
                ("B4 syslog TCP, lines per CPU-second", "b4_syslog_tcp_lines_per_s_core",
                 lambda d: d.get("b4_syslog_tcp", {}).get("lines_per_s_core")),
                ("B4 syslog UDP, lines per CPU-second", "b4_syslog_udp_lines_per_s_core",
                 lambda d: d.get("b4_syslog_udp", {}).get("lines_per_s_core")))


_FULL_RUN = re.compile(r"\d{8}T\d{6}Z\.json")


def _full_runs(files: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The runs of every benchmark (``python -m benchmarks`` without ``--only``), oldest first."""
    return [(n, r) for n, r in files.items() if _FULL_RUN.fullmatch(n) and r.get("b1_entries_per_s_core")
            and r.get("b2_entries_per_s_2_workers") and r.get("b5_ratio_to_rsyslog")]


def _before_section(files: dict[str, dict[str, Any]]) -> list[str]:
    """Each ``<time>-before-<commit>.json`` against the full run of the same day (the same machine that day)."""
    out: list[str] = []
    for name, before in files.items():
        if "-before-" not in name:
            continue
        same_day = [(n, r) for n, r in _full_runs(files) if r["date"][:10] == before["date"][:10]]
        if not same_day:
            continue
        after_name, after = same_day[-1]
        commit = name.rsplit("-before-", 1)[1].removesuffix(".json")
        lines: list[str] = []
        for label, key, pick in _BEFORE_KEYS:
            if key.startswith("b2_") and _core(after, key, after["details"].get(key[:13])) != "python":
                continue  # a compiled-core B2 against the Python one would not be the Python optimisations' effect
            was, now = before.get(key), pick(after.get("details", {}))
            if was and now:
                lines.append(f"| {label} | {was['median']:,.0f} | {now['median']:,.0f} | "
                             f"{now['median'] / was['median'] - 1:+.0%} |")
        if lines:
            out += ["", f"### Before and after the Python optimisations: `results/{name}` against "
                        f"`results/{after_name}`",
                    _wrap(f"The same harness on the same machine the same day; \"before\" is the code at {commit} (on "
                          f"main), measured in one run on {before['date']}; \"after\" is the full run of that day "
                          f"({after['date']}), its Python parse step for B1 and B2. Medians."), "",
                    "| benchmark | before | after | change |", "|---|---:|---:|---:|", *lines]
    return out


# The figures of the compiled core's goals, before and after it: (label, key in a full run's top level, format).
_CORE_KEYS = (("B1 entries/s on one core", "b1_entries_per_s_core", ",.0f"),
              ("B1 / floor (same run)", "b1_ratio_to_floor", ".3f"),
              ("B2 1 worker, entries/s", "b2_entries_per_s_1_worker", ",.0f"),
              ("B2 2 workers, entries/s", "b2_entries_per_s_2_workers", ",.0f"),
              ("B3 pipeline / Elasticsearch's ceiling (same run)", "b3_ratio_to_es_ceiling", ".3f"),
              ("B4 files, logjet / rsyslog per CPU-second", "b4_ratio_to_rsyslog", ".2f"),
              ("B4 syslog TCP, logjet / rsyslog per CPU-second", "b4_syslog_tcp_ratio_to_rsyslog", ".2f"),
              ("B4 syslog UDP, logjet / rsyslog per CPU-second", "b4_syslog_udp_ratio_to_rsyslog", ".2f"),
              ("B5 logjet / rsyslog per CPU-second", "b5_ratio_to_rsyslog", ".2f"))


def _core_before_after_section(files: dict[str, dict[str, Any]]) -> list[str]:
    """The last full run of the Python parse step against ``latest.json``, when that is the compiled core's."""
    after = files.get("latest.json")
    runs = _full_runs(files)
    python_runs = [(n, r) for n, r in runs if _core(r, "b1_entries_per_s_core") == "python"]
    if after is None or not python_runs or _core(after, "b1_entries_per_s_core") == "python":
        return []
    name, before = python_runs[-1]
    floors = [r["details"]["b1"]["floor_entries_per_s"]["median"] for r in (before, after)]
    out = ["", f"### Before and after the compiled core: `results/{name}` against `results/latest.json`",
           _wrap(f"The same harness; \"before\" is the last full run of the Python parse step ({before['date']}), "
                 f"\"after\" the latest full run ({after['date']}). The machine is not the same speed on both days: "
                 f"B1's floor (orjson alone, same run) was {floors[0]:,.0f} entries/s before and {floors[1]:,.0f} "
                 "after, so the ratios (to the floor, to Elasticsearch's ceiling, to rsyslog: each measured in its own "
                 "run) compare, and the absolute rates do not. Medians."
                 + (" The \"before\" run's rsyslog peer had omkafka's reopenOnHup on (its Kafka producer rebuilt at "
                    "every counter refresh) and B5 timed rsyslog over its whole run: its rsyslog ratios are not like "
                    "for like." if rows(before)[1] else "")), "",
           "| benchmark | before | after | change |", "|---|---:|---:|---:|"]
    for label, key, fmt in _CORE_KEYS:
        was, now = before.get(key), after.get(key)
        if was and now:
            out.append(f"| {label} | {was:{fmt}} | {now:{fmt}} | {now / was:.2f}x |")
    return out


def _files_section(files: dict[str, dict[str, Any]]) -> list[str]:
    out = ["", "### Every result file", "", "| file | date | what it holds |", "|---|---|---|"]
    for name, r in files.items():
        held = ", ".join(k for k in r.get("details", {})) or ", ".join(
            k for k in r if k not in ("code", "date", "machine", "versions", "notes"))
        out.append(f"| `results/{name}` | {r['date']} | {held} |")
    return out


def _readme_paragraph(files: dict[str, dict[str, Any]]) -> str:
    result = files["latest.json"]
    d = result.get("details", {})
    parts = []
    # B1 times the reference and variants beside the core the processor runs: the paragraph gives that core's.
    b1_core = _core(result, "b1_entries_per_s_core")
    for r in rows(result)[0]:
        if r.goal is None or (r.name.startswith("B1 ") and r.core != b1_core):
            continue
        m = r.spread["median"]
        verdict = r.goal.verdict(m).replace("**", "")
        fmt = r.fmt if r.fmt != ".1f" else ",.0f"
        parts.append(f"{r.name.replace(' (same run)', '')}{'' if r.core == '-' else f' ({r.core} core)'} "
                     f"{m:{fmt}} (goal {r.goal.text()}: {verdict})")
    text = (f"Latest full run ({result['date'][:10]}, `benchmarks/results/latest.json`; the table with min and max, "
            f"the method and the notes in `benchmarks/README.md`): " + "; ".join(parts) + ".")
    if any(k in d for k in ("b4_files", "b5")) and rows(result)[1]:
        text += (" The rsyslog ratios of that run come from the older peer setup and timing; see the notes in "
                 "`benchmarks/README.md`.")
    return _wrap(text)


def _wrap(text: str, width: int = 120) -> str:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def _fuzz_section(files: dict[str, dict[str, Any]]) -> list[str]:
    runs = [(n, r) for n, r in files.items() if n.startswith("fuzz-")]
    out = ["", "### Fuzz runs"]
    if not runs:
        return [*out, "None committed yet: `python -m benchmarks fuzz --inputs 10000000` writes one."]
    out += ["", "| file | date | inputs | seed | records compared with the reference | failures | seconds | core, "
                "commit |", "|---|---|---:|---:|---:|---|---:|---|"]
    for name, r in runs:
        failures = ", ".join(f"{c}: {f['count']:,}" for c, f in r["failures"].items()) or "none"
        commit = (r.get("commit") or "?")[:10] + (" (with uncommitted changes)" if r.get("uncommitted_changes") else "")
        out.append(f"| `results/{name}` | {r['date']} | {r['inputs']:,} | {r['seed']} | {r['sampled_records']:,} | "
                   f"{failures} | {r['seconds']:,.0f} | {r['core']} {r['crate_version']}, {commit} |")
    return out


def _commit(r: dict[str, Any]) -> str:
    return (r.get("commit") or "?")[:10] + (" (with uncommitted changes)" if r.get("uncommitted_changes") else "")


def _faults_section(files: dict[str, dict[str, Any]]) -> list[str]:
    runs = [(n, r) for n, r in files.items() if n.startswith("faults-")]
    out = ["", "### Fault suite runs"]
    if not runs:
        return [*out, "None committed yet: the command in the README's \"Running on clusters\" writes one."]
    out += ["", "| file | fault | lines | lost | doubled | delay p50 / p99 / max, s | metric: before → during |",
            "|---|---|---:|---:|---:|---|---|"]
    for name, r in runs:
        cases = [*r.get("faults", {}).values()]
        if r.get("soak"):
            soak = r["soak"]
            cases.append({**soak, "fault": f"soak: {soak['seconds'] / 60:.0f} min at {soak['rate_lines_per_s']:,} "
                                           f"lines/s ({soak['rate_source']})", "metric": None})
        for c in cases:
            m = c.get("metric")
            metric = f"`{m['name']}` {m['before']:,.0f} → {m['during']:,.0f}" if m else "-"
            out.append(f"| `results/{name}` | {c['fault']} | {c['lines']:,} | {c['lost']:,} | {c['doubled']:,} | "
                       f"{c['delay_p50_s']} / {c['delay_p99_s']} / {c['delay_max_s']} | {metric} |")
        if r.get("soak"):
            out += ["", f"Soak in `results/{name}` ({_commit(r)}): resident memory and open descriptors of every "
                        f"logjet process, first {r['soak']['drift_window_s'] / 60:.0f} minutes against the last:", "",
                    "| process | RSS first → last, MB | open descriptors first → last |", "|---|---|---|"]
            for proc, d in r["soak"]["processes"].items():
                out.append(f"| {proc.rsplit(' ', 1)[0]} | {d['rss_mb_first']} → {d['rss_mb_last']} | "
                           f"{d['fds_first']} → {d['fds_last']} |")
        failed = r.get("failed") or []
        plural = "s" if len(cases) != 1 else ""
        out += ["", f"`results/{name}`: {len(cases)} case{plural}, {r['seconds']:,.0f} s, cluster of "
                    f"{r['cluster']['kafka_brokers']} brokers and {r['cluster']['elasticsearch_nodes']} Elasticsearch "
                    f"nodes, commit {_commit(r)}; failed tests: {', '.join(failed) if failed else 'none'}.", ""]
    return out[:-1]


def _layouts_section(files: dict[str, dict[str, Any]]) -> list[str]:
    runs = [(n, r) for n, r in files.items() if n.startswith("layouts-")]
    out = ["", "### Header recognition scores"]
    if not runs:
        return [*out, "None committed yet: `python -m tests.layout_score --write` writes one."]
    out += ["", "Shares of lines read right by `python_parse_line`: the layout catalogue (`tests/data/layouts`, the "
                "development set) and the seven Loghub samples.", "",
            "| file | parser's commit | set | lines | timestamp | level | message | fields |",
            "|---|---|---|---:|---:|---:|---:|---:|"]
    for name, r in runs:
        for label, total in (("catalogue", r["catalogue"]["total"]), ("Loghub", r["loghub"]["total"])):
            out.append(f"| `results/{name}` | {_commit(r)} | {label} | {total['lines']:,} | "
                       f"{total['timestamp']:.1%} | {total['level']:.1%} | {total['message']:.1%} | "
                       f"{total['fields']:.1%} |")
    return out


def _patterns_section(files: dict[str, dict[str, Any]]) -> list[str]:
    runs = [(n, r) for n, r in files.items() if n.startswith("patterns-")]
    out = ["", "### Log pattern grouping accuracy"]
    if not runs:
        return [*out, "None committed yet: `python -m tests.pattern_score --write` writes one."]
    name, r = runs[-1]
    systems = r["systems"]
    out += ["", f"`results/{name}` ({_commit(r)}, core {r['core']}): grouping accuracy (Zhu et al., ICSE-SEIP 2019) "
                "of the processor's patterns against the `EventTemplate` column of the seven Loghub samples.", "",
            "| system | lines | GA | patterns found | events in the ground truth |", "|---|---:|---:|---:|---:|"]
    for system, s in systems.items():
        out.append(f"| {system} | {s['lines']:,} | {s['ga']:.3f} | {s['patterns']} | {s['events']} |")
    out.append(f"| **mean** | | **{r['mean_ga']:.3f}** | | |")
    return out


def render(files: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The generated sections by marker name: ``report`` (benchmarks/README.md), ``benchmarks`` and ``first_doc``
    (README.md)."""
    bench = _benchmarks(files)
    body = (_latest_section(bench) + _b1_section(bench) + _tail_section(bench) + _first_doc_section(bench)
            + _core_before_after_section(bench) + _before_section(bench) + _files_section(bench)
            + _fuzz_section(files) + _faults_section(files)
            + _layouts_section(files) + _patterns_section(files))
    return {"report": "\n".join(body), "benchmarks": _readme_paragraph(bench), "first_doc": _first_doc_paragraph(bench)}


def replace_section(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"the markers {begin} and {end} are missing")
    return text[:start + len(begin)] + "\n" + body + "\n" + text[stop:]


def section(text: str, name: str) -> str:
    """What stands between the markers ``name`` in ``text`` (what ``replace_section`` wrote there)."""
    begin, end = f"<!-- {name}:begin -->\n", f"\n<!-- {name}:end -->"
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"the markers of {name} are missing")
    return text[start + len(begin):stop]


def targets(root: Path = ROOT) -> dict[str, Path]:
    return {"report": root / "benchmarks" / "README.md", "benchmarks": root / "README.md",
            "first_doc": root / "README.md"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks report", description=__doc__)
    parser.add_argument("--check", action="store_true", help="change nothing; fail if a README differs")
    args = parser.parse_args(argv)
    sections = render(load())
    stale = []
    for name, path in targets().items():
        text = path.read_text()
        new = replace_section(text, name, sections[name])
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new)
    for path in stale:
        print(f"{'differs' if args.check else 'written'}: {path}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

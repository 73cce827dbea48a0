"""`logjet top`: the pipeline on one screen, from the components' own ``/metrics`` and Elasticsearch's node stats.

Each refresh scrapes the collector, the processor and the API (Prometheus text) and Elasticsearch
(``_nodes/stats``); rates are the difference between two scrapes over the time between them. A component that does
not answer is shown as down with the reason, and the others go on. Read-only: it never writes anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Endpoints", "Sample", "render_text", "scrape", "snapshot"]

_TIMEOUT_S = 2.0

Metrics = dict[str, list[tuple[dict[str, str], float]]]  # sample name -> [(labels, value)]


@dataclass(frozen=True)
class Endpoints:
    collector: str | None
    processor: str | None
    api: str | None
    elasticsearch: str | None
    api_token: str | None = None
    elasticsearch_options: dict[str, Any] | None = None


@dataclass(frozen=True)
class Sample:
    """One scrape of every component: its metrics, or why there are none."""

    at: float
    collector: Metrics | str
    processor: Metrics | str
    api: Metrics | str
    elasticsearch: dict[str, float] | str


def _prometheus(client: httpx.Client, base: str | None, headers: dict[str, str] | None = None) -> Metrics | str:
    if not base:
        return "no address (configure its metrics_port or pass its URL)"
    url = base.rstrip("/") + "/metrics"
    try:
        res = client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return f"{url}: {type(exc).__name__}"
    if res.status_code != 200:
        return f"{url}: HTTP {res.status_code}"
    out: Metrics = {}
    for family in text_string_to_metric_families(res.text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def _elasticsearch(client: httpx.Client, base: str | None) -> dict[str, float] | str:
    if not base:
        return "no address"
    url = base.split(",")[0].rstrip("/") + "/_nodes/stats/indices,thread_pool"
    try:
        res = client.get(url, params={"filter_path": "nodes.*.indices.indexing.index_total,"
                                      "nodes.*.indices.indexing.index_failed,nodes.*.indices.docs.count,"
                                      "nodes.*.thread_pool.write.rejected,nodes.*.thread_pool.write.queue"})
        res.raise_for_status()
        nodes = res.json().get("nodes", {})
    except (httpx.HTTPError, ValueError) as exc:
        return f"{url.split('?')[0]}: {type(exc).__name__}"
    totals = {"index_total": 0.0, "index_failed": 0.0, "docs": 0.0, "write_rejected": 0.0, "write_queue": 0.0}
    for node in nodes.values():
        indexing = node.get("indices", {}).get("indexing", {})
        write = node.get("thread_pool", {}).get("write", {})
        totals["index_total"] += indexing.get("index_total", 0)
        totals["index_failed"] += indexing.get("index_failed", 0)
        totals["docs"] += node.get("indices", {}).get("docs", {}).get("count", 0)
        totals["write_rejected"] += write.get("rejected", 0)
        totals["write_queue"] += write.get("queue", 0)
    return totals


def scrape(client: httpx.Client, endpoints: Endpoints) -> Sample:
    token = {"Authorization": f"Bearer {endpoints.api_token}"} if endpoints.api_token else None
    return Sample(time.monotonic(), _prometheus(client, endpoints.collector), _prometheus(client, endpoints.processor),
                  _prometheus(client, endpoints.api, token), _elasticsearch(client, endpoints.elasticsearch))


def _values(metrics: Metrics, name: str, key: str | Callable[[dict[str, str]], str] | None = None
            ) -> dict[str, float]:
    """Sum a metric's samples by one label (or a function of the labels); ``key`` None sums them all under ''."""
    out: dict[str, float] = {}
    for labels, value in metrics.get(name, []):
        k = "" if key is None else (key(labels) if callable(key) else labels.get(key, ""))
        out[k] = out.get(k, 0.0) + value
    return out


def _total(metrics: Metrics, name: str) -> float:
    return sum(v for _, v in metrics.get(name, []))


def _rate(now: float, before: float | None, dt: float) -> float | None:
    if before is None or dt <= 0:
        return None
    return round(max(0.0, now - before) / dt, 2)


def _collector(now: Metrics, before: Metrics | None, dt: float) -> dict[str, Any]:
    lines = _values(now, "logjet_collector_lines_read_total", "input")
    nbytes = _values(now, "logjet_collector_bytes_read_total", "input")
    acked = _values(now, "logjet_collector_entries_acked_total", "input")
    dropped = _values(now, "logjet_collector_entries_dropped_total", lambda lb: f"{lb['input']}|{lb['reason']}")
    flagged = _values(now, "logjet_collector_entries_flagged_total", lambda lb: f"{lb['input']}|{lb['flag']}")
    lines_before = _values(before, "logjet_collector_lines_read_total", "input") if before else {}
    bytes_before = _values(before, "logjet_collector_bytes_read_total", "input") if before else {}
    queue = _values(now, "logjet_collector_syslog_queue_depth", "input")
    inputs: dict[str, Any] = {}
    for name in sorted(set(lines) | set(acked) | {k.split("|")[0] for k in dropped}):
        drops = {k.split("|")[1]: int(v) for k, v in dropped.items() if k.split("|")[0] == name and v}
        malformed = int(flagged.get(f"{name}|malformed", 0))
        inputs[name] = {
            "lines": int(lines.get(name, 0)),
            "lines_per_s": _rate(lines.get(name, 0), lines_before.get(name, 0.0) if before else None, dt),
            "bytes": int(nbytes.get(name, 0)),
            "bytes_per_s": _rate(nbytes.get(name, 0), bytes_before.get(name, 0.0) if before else None, dt),
            "acked": int(acked.get(name, 0)),
            "errors": sum(drops.values()) + malformed,
            "dropped": drops,
            "malformed": malformed,
            "queued": int(queue[name]) if name in queue else None,
        }
    behind = _values(now, "logjet_collector_file_bytes_behind", "path")
    return {
        "inputs": inputs,
        "bytes_behind": int(sum(behind.values())),
        "bytes_behind_by_path": {p: int(v) for p, v in sorted(behind.items()) if v},
        "open_files": int(_total(now, "logjet_collector_open_files")),
        "records_in_flight": int(_total(now, "logjet_collector_records_in_flight")),
    }


def _processor(now: Metrics, before: Metrics | None, dt: float) -> dict[str, Any]:
    def rate(name: str) -> float | None:
        return _rate(_total(now, name), _total(before, name) if before else None, dt)

    lag = _values(now, "logjet_processor_consumer_lag", lambda lb: f"{lb['topic']}[{lb['partition']}]")
    return {
        "records_in": int(_total(now, "logjet_processor_records_in_total")),
        "entries_in": int(_total(now, "logjet_processor_entries_in_total")),
        "entries_per_s": rate("logjet_processor_entries_in_total"),
        "documents_indexed": int(_total(now, "logjet_processor_documents_indexed_total")),
        "documents_per_s": rate("logjet_processor_documents_indexed_total"),
        "lag": {k: int(v) for k, v in sorted(lag.items())},
        "lag_total": int(sum(lag.values())),
        "bulk_retries": {k: int(v) for k, v in
                         _values(now, "logjet_processor_documents_retried_total", "cause").items() if v},
        "rejected": int(_total(now, "logjet_processor_documents_rejected_total")),
        "duplicates": int(_total(now, "logjet_processor_duplicates_suppressed_total")),
        "dead_letters": {k: int(v) for k, v in
                         _values(now, "logjet_processor_dead_lettered_total", "reason").items() if v},
    }


def _api(now: Metrics, before: Metrics | None, dt: float) -> dict[str, Any]:
    requests = _values(now, "logjet_api_requests_total", "status")
    total = sum(requests.values())
    before_total = _total(before, "logjet_api_requests_total") if before else None
    count = _values(now, "logjet_api_request_seconds_count", "endpoint")
    seconds = _values(now, "logjet_api_request_seconds_sum", "endpoint")
    return {
        "requests": int(total),
        "requests_per_s": _rate(total, before_total, dt),
        "errors_5xx": int(sum(v for status, v in requests.items() if status.startswith("5"))),
        "mean_seconds_by_endpoint": {e: round(seconds[e] / n, 4) for e, n in sorted(count.items()) if n},
        "live_tails": int(_total(now, "logjet_api_live_tails")),
        "points_in_time": int(_total(now, "logjet_api_points_in_time")),
    }


def _elastic(now: dict[str, float], before: dict[str, float] | None, dt: float) -> dict[str, Any]:
    return {
        "documents_indexed": int(now["index_total"]),
        "documents_per_s": _rate(now["index_total"], before["index_total"] if before else None, dt),
        "index_failed": int(now["index_failed"]),
        "write_rejections": int(now["write_rejected"]),
        "write_queue": int(now["write_queue"]),
        "documents": int(now["docs"]),
    }


def snapshot(now: Sample, before: Sample | None, endpoints: Endpoints) -> dict[str, Any]:
    """What `top` shows, as data: totals since each component started, and rates since ``before``."""
    dt = now.at - before.at if before is not None else 0.0
    out: dict[str, Any] = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "interval_s": round(dt, 3)}
    parts: Iterable[tuple[str, Callable[..., dict[str, Any]], str | None]] = (
        ("collector", _collector, endpoints.collector), ("processor", _processor, endpoints.processor),
        ("api", _api, endpoints.api), ("elasticsearch", _elastic, endpoints.elasticsearch))
    for name, build, url in parts:
        value = getattr(now, name)
        prior = getattr(before, name) if before is not None else None
        if isinstance(value, str):
            out[name] = {"url": url, "up": False, "error": value}
        else:
            out[name] = {"url": url, "up": True, **build(value, prior if not isinstance(prior, str) else None, dt)}
    return out


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}{unit}"
    return f"{value:.0f}{unit}" if float(value).is_integer() else f"{value:.1f}{unit}"


def _heading(title: str, part: dict[str, Any]) -> str:
    """A component's heading: its name, its address, and why it is down when it is."""
    return f"{title}  {part['url'] or ''}" + ("" if part["up"] else f"  DOWN: {part['error']}")


def render_text(snap: dict[str, Any]) -> list[str]:
    """The screen as lines of plain text (the live view draws them; ``--once`` without ``--json`` prints them)."""
    lines = [f"logjet top  {snap['time']}  (rates over {snap['interval_s']:.1f}s)"]
    c = snap["collector"]
    lines += ["", _heading("COLLECTOR", c)]
    if c["up"]:
        lines.append(f"  {'input':<28}{'lines/s':>10}{'bytes/s':>10}{'lines':>10}{'acked':>10}{'errors':>8}")
        for name, i in c["inputs"].items():
            lines.append(f"  {name:<28}{_fmt(i['lines_per_s']):>10}{_fmt(i['bytes_per_s'], 'B'):>10}"
                         f"{_fmt(i['lines']):>10}{_fmt(i['acked']):>10}{i['errors']:>8}")
        lines.append(f"  bytes behind {_fmt(c['bytes_behind'], 'B')} in {c['open_files']} open files; "
                     f"{c['records_in_flight']} records awaiting Kafka")
    p = snap["processor"]
    lines += ["", _heading("PROCESSOR", p)]
    if p["up"]:
        lines.append(f"  entries/s {_fmt(p['entries_per_s'])}  indexed/s {_fmt(p['documents_per_s'])}  "
                     f"entries {_fmt(p['entries_in'])}  indexed {_fmt(p['documents_indexed'])}  "
                     f"rejected {p['rejected']}")
        lag = "  ".join(f"{k}={v}" for k, v in p["lag"].items()) or "-"
        lines.append(f"  lag {p['lag_total']}: {lag}")
        retries = "  ".join(f"{k}={v}" for k, v in p["bulk_retries"].items()) or "none"
        dead = "  ".join(f"{k}={v}" for k, v in p["dead_letters"].items()) or "none"
        lines.append(f"  bulk retries: {retries}   dead letters: {dead}")
    e = snap["elasticsearch"]
    lines += ["", _heading("ELASTICSEARCH", e)]
    if e["up"]:
        lines.append(f"  indexed/s {_fmt(e['documents_per_s'])}  write rejections {e['write_rejections']}  "
                     f"write queue {e['write_queue']}  failed index ops {e['index_failed']}  "
                     f"documents {_fmt(e['documents'])}")
    a = snap["api"]
    lines += ["", _heading("API", a)]
    if a["up"]:
        lines.append(f"  requests/s {_fmt(a['requests_per_s'])}  requests {_fmt(a['requests'])}  "
                     f"5xx {a['errors_5xx']}  live tails {a['live_tails']}  points in time {a['points_in_time']}")
    return lines


def run(endpoints: Endpoints, once: bool, as_json: bool, interval_s: float,
        echo: Callable[[str], None] = print) -> int:
    import orjson

    with httpx.Client(timeout=_TIMEOUT_S) as client:
        before = scrape(client, endpoints)
        time.sleep(interval_s)
        now = scrape(client, endpoints)
        if once:
            snap = snapshot(now, before, endpoints)
            echo(orjson.dumps(snap, option=orjson.OPT_INDENT_2).decode() if as_json else "\n".join(render_text(snap)))
            return 0
        _live(client, endpoints, before, now, interval_s)
    return 0


def _live(client: httpx.Client, endpoints: Endpoints, before: Sample, now: Sample, interval_s: float) -> None:
    from rich.live import Live
    from rich.text import Text

    with Live(auto_refresh=False, screen=True) as live:
        try:
            while True:
                live.update(Text("\n".join(render_text(snapshot(now, before, endpoints))) + "\n\nCtrl-C quits"),
                            refresh=True)
                time.sleep(max(0.0, interval_s - (time.monotonic() - now.at)))
                before, now = now, scrape(client, endpoints)
        except KeyboardInterrupt:
            pass

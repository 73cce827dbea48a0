"""Latency of GET /v1/logs (the real `logjet serve`, over HTTP) against the same requests sent to Elasticsearch
directly, on a data stream of at least a million documents.

A first page of /v1/logs is a plain search for one document more than the page, and, when a next page exists and
the key may hold another point in time, the opening of one (``api.app``). The direct path sends the same search
and opens a point in time exactly when the API's answer carried one; each is closed after the timing.

The documents are the corpus run through the processor's own parse and ECS mapping, bulk-loaded once into
``logs-benchapi-default`` (kept between runs). Each query of a fixed mix is sent ``rounds`` times through each path,
interleaved, after a warm-up round; p50 and p99 are reported per path.
"""

from __future__ import annotations

import base64
import os
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import orjson
from elasticsearch import Elasticsearch

from api.auth import new_key
from api.query import build_search
from benchmarks.corpus import file_lines
from logjet.config import ApiSettings, ElasticsearchSettings
from logjet.timeparse import format_ns
from logjet.wire import Entry, Source
from processor.ecs import source_fields, to_document
from processor.parsers import parse_line
from shippers.elasticsearch import encode_bulk, install_template

__all__ = ["LatencyResult", "run_api_latency"]

DATASET = "benchapi"
QUERIES = [
    {"q": "timeout"},
    {"q": "Accepted publickey"},
    {"level": "error"},
    {"q": "order placed", "size": "20"},
    {},
]


@dataclass
class LatencyResult:
    documents: int
    api_ms: list[float]
    es_ms: list[float]
    pits_opened: int = 0  # of the timed requests, those whose first page opened a point in time (on both paths)

    @staticmethod
    def pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _load(es: Elasticsearch, settings: ElasticsearchSettings, n: int) -> int:
    index = settings.data_stream
    es.indices.refresh(index=index, ignore_unavailable=True)
    have = es.count(index=index, ignore_unavailable=True)["count"] if es.indices.exists(index=index) else 0
    if have >= n:
        return have
    install_template(es, settings)
    now = time.time_ns()
    ingested = format_ns(now)
    start_ns = now - 3 * 86_400 * 10**9  # spread over the last three days

    def chunk(first: int) -> None:
        source = Source(f"file:benchapi:{first}", "file", f"node-{first % 7}", "bench", f"/var/log/app/{first}.log",
                        {"service.name": ("checkout", "payments", "search", "auth")[first // 10_000 % 4]})
        base = source_fields(source)
        docs = []
        for i, line in enumerate(file_lines(10_000, seed=first)):
            t = start_ns + (first + i) * (3 * 86_400 * 10**9 // n)
            entry = Entry(i, t, line)
            doc_id, doc = to_document(source, entry, parse_line(line, t), DATASET, "default", ingested, False, base)
            docs.append((doc_id, orjson.dumps(doc)))
        resp = es.options(request_timeout=120).bulk(index=index, operations=encode_bulk(docs),
                                                    filter_path="errors,items.*.status,items.*.error.reason")
        failed = [i for i in resp.get("items", []) if list(i.values())[0]["status"] not in (200, 201, 409)]
        if failed:
            raise RuntimeError(f"loading the latency corpus: {len(failed)} documents refused: {failed[0]}")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(chunk, range(have - have % 10_000, n, 10_000)))
    es.indices.refresh(index=index)
    return es.count(index=index)["count"]


def _cursor_pit(cursor: str | None) -> str | None:
    """The point in time a /v1/logs cursor carries (its payload is JSON, readable; only its MAC is secret)."""
    if cursor is None:
        return None
    payload = cursor.partition(".")[0]
    return orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("p")


def _direct(es: Elasticsearch, settings: ElasticsearchSettings, query: dict[str, str], open_pit: bool) -> float:
    """What ``GET /v1/logs`` asks of Elasticsearch for a first page, sent straight to it; milliseconds.

    The same search (``api.query.build_search`` with the API's defaults: one document more than the page, to know
    whether a next page exists; the same index options and time limit) and, when the API's answer carried a point
    in time, the same opening of one (closed afterwards, outside the timing)."""
    api = ApiSettings()
    size = int(query.get("size", 100))
    body = build_search(time_from="now-7d", time_to="now", q=query.get("q"),
                        filters={"level": query.get("level")}, fields={}, size=size + 1, order="desc",
                        search_after=None, scope=None)
    client = es.options(request_timeout=api.query_timeout_s)
    t0 = time.perf_counter()
    client.search(index=settings.index_pattern, ignore_unavailable=True, allow_no_indices=True,
                  timeout=f"{int(api.query_timeout_s * 1000)}ms", **body)
    pit = client.open_point_in_time(index=settings.index_pattern, keep_alive=api.pit_keep_alive,
                                    ignore_unavailable=True)["id"] if open_pit else None
    took = (time.perf_counter() - t0) * 1000
    if pit is not None:
        client.close_point_in_time(id=pit)
    return took


def run_api_latency(es_url: str, bootstrap: str, documents: int = 1_000_000, rounds: int = 40) -> LatencyResult:
    settings = ElasticsearchSettings(url=es_url, dataset=DATASET)
    es = Elasticsearch(es_url, request_timeout=60)
    count = _load(es, settings, documents)
    token, digest = new_key()
    port = 18080
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}
    env.update({"LOGJET_ELASTICSEARCH_URL": es_url, "LOGJET_ELASTICSEARCH_DATASET": DATASET,
                "LOGJET_KAFKA_BOOTSTRAP": bootstrap, "LOGJET_LOG_LEVEL": "WARNING",
                "LOGJET_API_KEYS": orjson.dumps([{"name": "bench", "sha256": digest, "all_logs": True}]).decode()})
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api_ms: list[float] = []
    es_ms: list[float] = []
    pits = 0
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                              timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("logjet serve did not start")
            time.sleep(0.2)
        for round_no in range(rounds + 1):
            for query in QUERIES:
                params = {"from": "now-7d", "to": "now", "size": "100", **query}
                t0 = time.perf_counter()
                res = client.get("/v1/logs", params=params)
                api = (time.perf_counter() - t0) * 1000
                assert res.status_code == 200, res.text
                pit = _cursor_pit(res.json().get("next_cursor"))
                if pit is not None:  # released now, outside the timing, so the cluster does not gather them
                    es.close_point_in_time(id=pit)
                direct = _direct(es, settings, query, open_pit=pit is not None)
                if round_no > 0:  # the first round warms both paths up
                    api_ms.append(api)
                    es_ms.append(direct)
                    pits += pit is not None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return LatencyResult(count, api_ms, es_ms, pits)


if __name__ == "__main__":
    r = run_api_latency(os.environ.get("LOGJET_ELASTICSEARCH_URL", "http://127.0.0.1:9200"),
                        os.environ.get("LOGJET_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    print(r.documents, statistics.median(r.api_ms), r.pct(r.api_ms, 99), statistics.median(r.es_ms),
          r.pct(r.es_ms, 99))

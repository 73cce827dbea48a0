"""B3: end to end into Elasticsearch, against Elasticsearch's own ceiling on the same machine in the same run.

Pipeline: the real ``logjet collect files`` tails the corpus into a new topic while the real ``logjet process``
(Elasticsearch sink) consumes it. Both start first; the corpus is then moved in and the clock runs until the
processor's metrics count every line indexed. The steady-state rate is taken between 10% and 90% of the lines
indexed (the ramp at both ends left out); the whole run's rate is reported beside it.

Ceiling: the same corpus lines, turned into the processor's own documents once (``processor.transform``), encoded
ahead of time as bulk bodies of the processor's size (``bulk_max_bytes``) and sent by a minimal loader with as many
requests in flight as the pipeline has (workers x ``bulk_concurrency``), into a data stream with the same template.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.collector import feed, start_collector, stop
from benchmarks.common import free_port
from benchmarks.corpus import file_lines
from benchmarks.hot_path import StandInRecord
from benchmarks.processor import IN_ELASTICSEARCH, POLL_S, count, drop_data_stream, start_processor
from logjet.config import ElasticsearchSettings, ProcessorSettings
from logjet.wire import Batch, Entry, Source, encode_batch
from processor.transform import Transform
from shippers.elasticsearch import encode_bulk, install_template, make_client
from shippers.elasticsearch.encoder import chunks_by_size

__all__ = ["CeilingRun", "E2ERun", "bulk_bodies", "run_ceiling", "run_e2e"]



@dataclass
class E2ERun:
    lines: int
    wall_s: float
    steady_per_s: float

    @property
    def per_s(self) -> float:
        return self.lines / self.wall_s


@dataclass
class CeilingRun:
    documents: int
    wall_s: float

    @property
    def per_s(self) -> float:
        return self.documents / self.wall_s


def run_e2e(corpus: Path, lines: int, bootstrap: str, es_url: str, workers: int,
            timeout_s: float = 1200) -> E2ERun:
    tag = uuid.uuid4().hex[:8]
    topic = f"bench-b3-{tag}"
    work = Path(tempfile.mkdtemp(prefix="logjet-b3-"))
    c_port, p_port = free_port(), free_port()
    collector = processor = None
    try:
        collector = start_collector(work, bootstrap, topic, c_port)
        processor = start_processor(bootstrap, es_url, topic, workers, "elasticsearch", tag, p_port,
                                    work / "processor.err")
        deadline = time.monotonic() + 120
        while count(p_port, IN_ELASTICSEARCH) < 0:
            if processor.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"processor did not start: {(work / 'processor.err').read_text()[-2000:]}")
            time.sleep(0.1)
        feed(corpus, work)
        t0 = time.monotonic()
        deadline = t0 + timeout_s
        samples: list[tuple[float, float]] = []
        while True:
            done = count(p_port, IN_ELASTICSEARCH)  # indexed, or found there on a retry
            now = time.monotonic()
            samples.append((now, done))
            if done >= lines:
                break
            if now > deadline or processor.poll() is not None or collector.poll() is not None:
                raise RuntimeError(f"end to end run stopped at {done:,.0f} of {lines:,} lines: "
                                   f"{(work / 'processor.err').read_text()[-2000:]}")
            time.sleep(POLL_S)
        return E2ERun(lines, samples[-1][0] - t0, _steady(samples, lines))
    finally:
        for proc in (collector, processor):
            if proc is not None:
                stop(proc, 60)
        shutil.rmtree(work, ignore_errors=True)
        drop_data_stream(es_url, tag)


def _steady(samples: list[tuple[float, float]], total: int) -> float:
    lo = next(s for s in samples if s[1] >= 0.1 * total)
    hi = next(s for s in samples if s[1] >= 0.9 * total)
    if hi[0] <= lo[0]:
        raise RuntimeError("the run is too short to find a steady state: use more lines")
    return (hi[1] - lo[1]) / (hi[0] - lo[0])


def bulk_bodies(lines: int) -> list[tuple[int, bytes]]:
    """The corpus lines as the processor's documents, in bulk bodies of the processor's size: (documents, body)."""
    ps = ProcessorSettings()
    transform = Transform(ps, ElasticsearchSettings())
    source = Source("file:bench-b3", "file", "bench-host", "bench", "/var/log/bench/corpus.log")
    records: list[StandInRecord] = []
    entries: list[Entry] = []
    now, offset = time.time_ns(), 0
    for line in file_lines(lines):
        entries.append(Entry(offset, now, line))
        offset += len(line.encode()) + 1
        if len(entries) == 2000:
            _, value, headers = encode_batch(Batch(source, entries))
            records.append(StandInRecord(source.id.encode(), value, headers, len(records)))
            entries = []
    if entries:
        _, value, headers = encode_batch(Batch(source, entries))
        records.append(StandInRecord(source.id.encode(), value, headers, len(records)))
    docs = transform(records).docs
    return [(len(chunk), encode_bulk([docs[i] for i in chunk]))
            for chunk in chunks_by_size(range(len(docs)), docs, ps.bulk_max_bytes, ps.bulk_max_docs)]


def run_ceiling(es_url: str, bodies: list[tuple[int, bytes]], concurrency: int) -> CeilingRun:
    tag = uuid.uuid4().hex[:8]
    settings = ElasticsearchSettings(url=es_url, dataset=f"bench{tag}")
    install_template(make_client(settings), settings)
    url = f"{es_url}/{settings.data_stream}/_bulk"
    headers = {"content-type": "application/x-ndjson"}

    def send(client: httpx.Client, n: int, body: bytes) -> int:
        resp = client.post(url, content=body, headers=headers, params={"filter_path": "errors,items.*.status"})
        resp.raise_for_status()
        doc = resp.json()
        if doc.get("errors"):
            bad = [i for i in doc["items"] if next(iter(i.values()))["status"] >= 300]
            raise RuntimeError(f"the ceiling loader's bulk request had {len(bad)} failed items")
        return n

    try:
        with httpx.Client(timeout=300) as client, ThreadPoolExecutor(concurrency) as pool:
            t0 = time.monotonic()
            n = sum(pool.map(lambda nb: send(client, *nb), bodies))
            return CeilingRun(n, time.monotonic() - t0)
    finally:
        drop_data_stream(es_url, tag)

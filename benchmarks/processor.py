"""B2: the real `logjet process --workers K` consuming a preloaded topic, with the discard sink (everything but the
bulk request: decode, parse, ECS mapping, JSON encoding, bulk body) and with Elasticsearch.

The topic is loaded once with the corpus as collector records (``corpus.wire_records``: wire format v1, 1,000
entries a record, file, container and syslog sources in turn). Each run uses a new consumer group, so it reads the
same records. The rate is taken from the workers' own metrics between 20% and 80% of the entries counted
(start-up, the group forming and the uneven end are left out); CPU-seconds are those of the worker processes over
the same span. Each worker's resident memory (RSS) is sampled with its CPU time, over the whole run; a run reports
each worker's peak.

The processor runs the core of the parse step that ``LOGJET_CORE`` names in this process's environment (the compiled
core unless it says ``python``): ``processor_core()`` is what the results record.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from benchmarks.collector import stop
from benchmarks.common import free_port, metric
from benchmarks.corpus import wire_records
from logjet.config import KafkaSettings
from shippers.kafka import KafkaShipper

__all__ = ["IN_ELASTICSEARCH", "ProcessRun", "count", "drop_data_stream", "drop_topic", "preload", "processor_core",
           "run_process", "start_processor", "window"]

RECORD_ENTRIES = 1000
POLL_S = 0.25


def processor_core() -> str:
    """The core of the parse step the processor runs under this environment (processor.parsers reads the same)."""
    return os.environ.get("LOGJET_CORE", "native")


@dataclass
class ProcessRun:
    entries: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: list[float] = field(default_factory=list)  # per worker, over the whole run

    @property
    def max_worker_rss_mb(self) -> float:
        return max(self.peak_rss_mb, default=0.0)

    @property
    def per_s(self) -> float:
        return self.entries / self.wall_s

    @property
    def cpu_s_per_million(self) -> float:
        return self.cpu_s / self.entries * 1e6


def preload(bootstrap: str, entries: int) -> str:
    """Write ``entries`` corpus entries to a new topic as collector records; return the topic."""
    topic = f"bench-b2-{uuid.uuid4().hex[:8]}"
    shipper = KafkaShipper(KafkaSettings(bootstrap=bootstrap, topic=topic))
    for key, value, headers in wire_records(entries, RECORD_ENTRIES):
        shipper.produce_raw(value, key, headers)
    if not shipper.flush(300) or shipper.raw_failures:
        raise RuntimeError(f"preloading the benchmark topic failed: {shipper.raw_failures[:1]}")
    del shipper  # its librdkafka threads would keep polling beside the measured runs
    return topic


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


IN_ELASTICSEARCH = ("logjet_processor_documents_indexed_total", "logjet_processor_duplicates_suppressed_total")


def count(port: int, series: tuple[str, ...]) -> float:
    """The sum of ``series`` on the metrics port; -1 while nothing answers."""
    values = [metric(port, name) for name in series]
    return -1.0 if min(values) < 0 else sum(values)


def _rss_mb(pids: list[int], peaks: dict[int, float]) -> None:
    """Raise each worker's peak resident memory (MB) to what it holds now."""
    for pid in pids:
        try:
            peaks[pid] = max(peaks.get(pid, 0.0), psutil.Process(pid).memory_info().rss / 1e6)
        except psutil.NoSuchProcess:
            pass


def start_processor(bootstrap: str, es_url: str, topic: str, workers: int, sink: str, tag: str, port: int,
                    err: Path) -> subprocess.Popen:
    """``logjet process --workers K`` on ``topic``, into the data stream logs-bench<tag>-default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}
    env.update({
        "LOGJET_KAFKA_BOOTSTRAP": bootstrap, "LOGJET_KAFKA_TOPIC": topic,
        "LOGJET_KAFKA_DEAD_LETTER_TOPIC": f"{topic}-dlq",
        "LOGJET_ELASTICSEARCH_URL": es_url, "LOGJET_ELASTICSEARCH_DATASET": f"bench{tag}",
        "LOGJET_PROCESSOR_GROUP_ID": f"bench-{tag}", "LOGJET_PROCESSOR_SINK": sink,
        "LOGJET_PROCESSOR_METRICS_PORT": str(port), "LOGJET_LOG_LEVEL": "WARNING",
        "LOGJET_CORE": processor_core(),
    })
    return subprocess.Popen([sys.executable, "-m", "cli", "process", "--workers", str(workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=err.open("wb"))


def drop_topic(bootstrap: str, topic: str) -> None:
    """Delete a topic ``preload`` made, and its dead-letter topic if a run made one."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for done in admin.delete_topics([topic, f"{topic}-dlq"], operation_timeout=60).values():
        try:
            done.result()
        except Exception:  # noqa: BLE001 - the dead-letter topic exists only if something was dead-lettered
            pass


def drop_data_stream(es_url: str, tag: str) -> None:
    """Delete the documents of logs-bench<tag>-default. This cluster answers no data stream API to delete it
    through, and a data stream's write index cannot be deleted: it is rolled over to a new, empty one first."""
    stream = f"logs-bench{tag}-default"
    res = httpx.post(f"{es_url}/{stream}/_rollover", timeout=120)
    if res.status_code != 200:  # never created
        return
    keep = res.json()["new_index"]
    backing = httpx.get(f"{es_url}/_cat/indices/.ds-{stream}-*", timeout=60,
                        params={"expand_wildcards": "all", "h": "index", "format": "json"}).json()
    for index in (i["index"] for i in backing if i["index"] != keep):
        httpx.delete(f"{es_url}/{index}", timeout=120)


def run_process(bootstrap: str, es_url: str, topic: str, entries: int, workers: int, sink: str,
                timeout_s: float = 900) -> ProcessRun:
    port = free_port()
    tag = uuid.uuid4().hex[:8]
    # Into Elasticsearch, an entry is done when its document is there: indexed now, or found there already when a
    # bulk request that timed out is sent again (a 409 on create, counted as a duplicate suppressed). Counting only
    # the indexed ones would wait forever after such a retry.
    counters = ("logjet_processor_entries_in_total",) if sink == "discard" else IN_ELASTICSEARCH
    err = Path(tempfile.mkstemp(prefix="logjet-b2-", suffix=".err")[1])
    proc = start_processor(bootstrap, es_url, topic, workers, sink, tag, port, err)
    try:
        deadline = time.monotonic() + timeout_s
        pids: list[int] = []
        samples: list[tuple[float, float, float]] = []  # (time, entries counted, CPU-seconds of the workers)
        peaks: dict[int, float] = {}
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"processor run failed: {err.read_text()[-2000:]}")
            pids = pids or _workers(proc.pid, workers)
            _rss_mb(pids, peaks)
            done = count(port, counters)
            if done > 0:
                samples.append((time.monotonic(), done, _cpu(pids)))
                if done >= entries:
                    run = window(samples, entries)
                    run.peak_rss_mb = [peaks[p] for p in pids if p in peaks]
                    return run
            # Each scrape makes the supervisor merge every worker's metric files and costs this process an HTTP
            # round trip: at 20 a second that took a quarter of a core from the two the workers share.
            # Counters move once per batch (about a second of work), so 4 a second loses no precision that exists.
            time.sleep(POLL_S)
    finally:
        stop(proc, 60)
        err.unlink(missing_ok=True)
        if sink != "discard":
            drop_data_stream(es_url, tag)


# The measured span: from the first sample past 20% of the entries to the first past 80%. It leaves out the start
# (the group forms: the first worker to join takes every partition until the next rebalance, a batch or two later)
# and the end (one worker's partitions run dry before the other's).
WINDOW = (0.2, 0.8)


def window(samples: list[tuple[float, float, float]], entries: int) -> ProcessRun:
    lo = next(s for s in samples if s[1] >= WINDOW[0] * entries)
    hi = next(s for s in samples if s[1] >= WINDOW[1] * entries)
    if hi[0] <= lo[0]:
        raise RuntimeError(f"{entries:,} entries are too few to find a steady span: use more (--lines)")
    return ProcessRun(int(hi[1] - lo[1]), hi[0] - lo[0], hi[2] - lo[2])


def _workers(pid: int, expected: int) -> list[int]:
    """The worker processes of the supervisor ``pid``, once all ``expected`` of them are there (else none yet)."""
    found = [c.pid for c in psutil.Process(pid).children()
             if "resource_tracker" not in " ".join(c.cmdline())]
    return found if len(found) >= expected else []

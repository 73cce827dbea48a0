"""The conservation checker: uniquely numbered lines written at a steady rate into a file, through the real
`logjet collect files` and real `logjet process` instances (each its own process group and name, as on separate
hosts), then an exact-once check in Elasticsearch: nothing missing, nothing twice, every message intact.

While it runs, every component's /metrics is sampled, so a test can check that the metric an operator would look at
moved during its fault.

Each line's delay is the time from its write into the file to its presence in Elasticsearch: the writer notes when
it flushed every write, and a watcher searches each backing index every second for the documents above the sequence
numbers it has seen (a shard numbers its operations in order), noting when each line first appeared. The watcher
reads every document once, so it also makes the exact-once check (its total must equal Elasticsearch's count): no
scan of the whole stream at the end. (The local stack's Elasticsearch has no ingest processors to stamp the
indexing time on the documents; the processor's ``event.ingested`` is taken before the bulk request and its
retries.)
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from confluent_kafka.admin import AdminClient, NewTopic
from elasticsearch import Elasticsearch, helpers

from logjet.config import LogjetSettings
from tests.integration.conftest import env_for, free_port

PARTITIONS = 6
WATCH_EVERY_S = 1.0
GAP_S = 30.0  # a sequence number not seen this long after higher ones is a no-op (a failed-over primary fills gaps)
DELAY_BUCKET_S = 0.01
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>[-+0-9.eE]+|NaN)$")


def line(tag: str, seq: int) -> str:
    """The text of line ``seq``: its number, and a payload derived from it (non-ASCII included) to check intact."""
    digest = hashlib.sha256(f"{tag}:{seq}".encode()).hexdigest()[:24]
    return f"conservation {tag} seq={seq:07d} payload={digest} näïve-ütf8 ✓"


_SEQ = re.compile(r" seq=(\d+) ")


def quantile(histogram: list[int], q: float) -> float | None:
    """The nearest-rank ``q`` quantile of the delays counted in ``histogram`` (buckets of DELAY_BUCKET_S), as the
    bucket's upper bound; None when it is empty."""
    total = sum(histogram)
    if not total:
        return None
    rank = max(1, -(-int(q * total * 1_000_000) // 1_000_000))
    seen = 0
    for bucket, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return round((bucket + 1) * DELAY_BUCKET_S, 3)
    raise AssertionError("unreachable")


@dataclass
class Shard:
    """What the watcher has seen of one backing index (one shard): every sequence number below ``low``, and
    ``above`` it; ``stuck_since``: when ``low`` was last found missing with higher numbers seen."""
    low: int = 0
    above: set[int] = field(default_factory=set)
    stuck_since: float | None = None


@dataclass
class Sample:
    at: float
    values: dict[str, float]


@dataclass
class Component:
    name: str
    proc: subprocess.Popen[bytes]
    metrics_port: int
    log: Path
    samples: list[Sample] = field(default_factory=list)


def scrape(port: int) -> dict[str, float]:
    """A Prometheus text page as {'name{labels}': value}."""
    out: dict[str, float] = {}
    res = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    for text in res.text.splitlines():
        m = _SAMPLE.match(text)
        if m:
            out[f"{m['name']}{{{m['labels'] or ''}}}"] = float(m["value"])
    return out


def total(values: dict[str, float], name: str, **labels: str) -> float:
    """The sum of the samples of metric ``name`` whose labels include ``labels``."""
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(v for k, v in values.items()
               if k.startswith(name + "{") and all(w in k for w in want))


class Conservation:
    def __init__(self, bootstrap: str, es_url: str, directory: Path, rate: int = 150) -> None:
        self.tag = uuid.uuid4().hex[:10]
        self.started = time.monotonic()
        self.directory = directory
        self.rate = rate
        self.file = directory / "app.log"
        self.written = 0
        # (first seq of a write, monotonic time it was flushed): the lines' write times, for their delays
        self.writes: list[tuple[int, float]] = []
        # What the watcher found: copies of each line, when each first appeared, documents not written here.
        self.copies = bytearray()
        self.first_seen = array("d")
        self.seen_docs = 0
        self.foreign = 0
        self.delays_from = 0  # the first line whose delay counts (a test's preload of lines at once does not)
        self._shards: dict[str, Shard] = {}
        self._watch_lock = threading.Lock()
        self._stop_watching = threading.Event()
        self.collector: Component | None = None
        self.processors: dict[str, Component] = {}
        self.stopped: list[Component] = []
        self._stop_writing = threading.Event()
        self._stop_sampling = threading.Event()
        self._threads: list[threading.Thread] = []
        saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("LOGJET_")}
        try:
            self.settings = LogjetSettings(
                kafka={"bootstrap": bootstrap, "topic": f"faults-{self.tag}",
                       "dead_letter_topic": f"faults-{self.tag}-dlq",
                       # A processor killed holds its partitions until its session times out: 10 s, not 45 s.
                       "options": {"session.timeout.ms": 10000, "heartbeat.interval.ms": 1000}},
                # A bulk request may take long on a cluster that shares two cores with the whole pipeline.
                elasticsearch={"url": es_url, "dataset": f"f{self.tag}", "request_timeout_s": 120},
                processor={"group_id": f"faults-{self.tag}", "batch_max_wait_s": 0.2, "lag_interval_s": 1.0,
                           "shutdown_deadline_s": 10, "workers": 1},
                collector={"poll_interval_s": 0.05, "registry_path": str(directory / "registry.json")},
            )
        finally:
            os.environ.update(saved)
        self.es = Elasticsearch(self.settings.elasticsearch.hosts, request_timeout=30, max_retries=5,
                                retry_on_timeout=True)

    # -- set-up -------------------------------------------------------------------------------------------
    def create_topics(self) -> dict[str, str]:
        """The topic (six partitions, the brokers' default replication) and its dead-letter topic; returns the
        topic's configuration as the brokers report it."""
        from confluent_kafka.admin import ConfigResource

        admin = AdminClient({"bootstrap.servers": self.settings.kafka.bootstrap})
        topics = [NewTopic(self.settings.kafka.topic, PARTITIONS), NewTopic(self.settings.kafka.dead_letter_topic, 1)]
        for future in admin.create_topics(topics).values():
            future.result(30)
        deadline = time.monotonic() + 60
        while True:  # the brokers learn of a new topic's partitions a moment after it is created
            meta = admin.list_topics(self.settings.kafka.topic, timeout=10).topics[self.settings.kafka.topic]
            if len(meta.partitions) == PARTITIONS or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        resource = ConfigResource(ConfigResource.Type.TOPIC, self.settings.kafka.topic)
        configs = admin.describe_configs([resource])[resource].result(30)
        replicas = {len(p.replicas) for p in meta.partitions.values()}
        return {"replication.factor": ",".join(map(str, sorted(replicas))),
                "min.insync.replicas": configs["min.insync.replicas"].value}

    def _spawn(self, name: str, args: list[str], section: str) -> Component:
        port = free_port()
        env = env_for(self.settings)
        env[f"LOGJET_{section.upper()}_METRICS_PORT"] = str(port)
        env["LOGJET_KAFKA_OPTIONS"] = orjson.dumps({**self.settings.kafka.options, "client.id": name}).decode()
        log = self.directory / f"{name}.out"
        with open(log, "ab") as out:
            # Its own session and process group: as on a host of its own, and killed as a whole.
            proc = subprocess.Popen([sys.executable, "-m", "cli", *args], env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        return Component(name, proc, port, log)

    def start_collector(self) -> None:
        self.file.touch()
        self.collector = self._spawn("collector", ["collect", "files", str(self.file)], "collector")

    def start_processor(self, name: str) -> Component:
        comp = self._spawn(name, ["process", "--workers", "1"], "processor")
        self.processors[name] = comp
        return comp

    def stop_processor(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        comp = self.processors.pop(name)
        os.killpg(comp.proc.pid, sig)
        rc = comp.proc.wait(60)
        if sig == signal.SIGTERM:
            assert rc == 0, f"{name} exited {rc} on SIGTERM; its log: {comp.log.read_text()[-2000:]}"
        self.stopped.append(comp)

    # -- the stream -----------------------------------------------------------------------------------------
    def start(self, processors: int = 2) -> None:
        self.start_collector()
        for i in range(1, processors + 1):
            self.start_processor(f"processor-{i}")
        self._threads = [threading.Thread(target=self._write, daemon=True),
                         threading.Thread(target=self._sample, daemon=True),
                         threading.Thread(target=self._watch, daemon=True)]
        for t in self._threads:
            t.start()

    def _write(self) -> None:
        step = 0.05
        next_at = time.monotonic()
        with open(self.file, "a", encoding="utf-8") as fh:
            while not self._stop_writing.is_set():
                per_step = int(self.rate * step)  # read each time: a test may set the rate while it runs
                if per_step:
                    self.write(fh, per_step)
                next_at += step
                time.sleep(max(0.0, next_at - time.monotonic()))

    def write(self, fh: Any, lines: int) -> None:
        """Append the next ``lines`` lines at once and note when."""
        fh.write("".join(line(self.tag, self.written + i) + "\n" for i in range(lines)))
        fh.flush()
        self.writes.append((self.written, time.monotonic()))
        self.written += lines

    def _sample(self) -> None:
        while not self._stop_sampling.wait(0.5):
            for comp in [c for c in (self.collector, *self.processors.values()) if c is not None]:
                try:
                    comp.samples.append(Sample(time.monotonic(), scrape(comp.metrics_port)))
                except httpx.HTTPError:
                    pass  # starting, stopping or killed

    def _watch(self) -> None:
        while not self._stop_watching.wait(WATCH_EVERY_S):
            try:
                self.look()
            except Exception:  # noqa: BLE001 - a node down, a shard moving: the next look finds the documents
                pass

    def look(self) -> None:
        """Read the documents that appeared since the last look, in each backing index of the test's data stream."""
        with self._watch_lock:
            backing = self.es.cat.indices(index=self.settings.elasticsearch.index_pattern, h="index", format="json",
                                          expand_wildcards="all")
            for row in sorted(backing, key=lambda r: r["index"]):
                self._look_at(row["index"])

    def _look_at(self, index: str) -> None:
        shard = self._shards.setdefault(index, Shard())
        after: list[int] | None = None
        while True:
            res = self.es.search(index=index, size=10_000, seq_no_primary_term=True, track_total_hits=False,
                                 query={"range": {"_seq_no": {"gte": shard.low}}}, sort=[{"_seq_no": "asc"}],
                                 source=["message"], search_after=after,
                                 filter_path="hits.hits._seq_no,hits.hits._source,hits.hits.sort")
            hits = res.get("hits", {}).get("hits", [])
            now = time.monotonic()
            for hit in hits:
                number = hit["_seq_no"]
                if number < shard.low or number in shard.above:
                    continue
                shard.above.add(number)
                self._seen(hit["_source"].get("message", ""), now)
            if len(hits) < 10_000:
                break
            after = hits[-1]["sort"]
        while shard.low in shard.above:
            shard.above.discard(shard.low)
            shard.low += 1
        if not shard.above:
            shard.stuck_since = None
        elif shard.stuck_since is None:
            shard.stuck_since = time.monotonic()
        elif time.monotonic() - shard.stuck_since > GAP_S:
            shard.low += 1  # a number no document will take; the count check below still catches a miss
            shard.stuck_since = None

    def _seen(self, message: str, now: float) -> None:
        self.seen_docs += 1
        m = _SEQ.search(message)
        seq = int(m[1]) if m else -1
        if seq < 0 or message != line(self.tag, seq):
            self.foreign += 1  # altered (or invented)
            return
        if seq >= len(self.copies):
            grow = seq + 1 - len(self.copies) + 100_000
            self.copies.extend(bytes(grow))
            self.first_seen.extend([0.0] * grow)
        if self.copies[seq] == 0:
            self.first_seen[seq] = now
        self.copies[seq] = min(255, self.copies[seq] + 1)

    def delays(self, n: int) -> list[int]:
        """The delays of lines 0..n-1 seen so far, as a histogram of DELAY_BUCKET_S buckets."""
        histogram = [0] * 1000
        bounds = [*self.writes, (n, 0.0)]
        for (first, wrote), (end, _) in zip(bounds, bounds[1:], strict=False):
            for seq in range(max(first, self.delays_from), min(end, n, len(self.copies))):
                if self.copies[seq]:
                    bucket = int((self.first_seen[seq] - wrote) / DELAY_BUCKET_S)
                    if bucket >= len(histogram):
                        histogram.extend([0] * (bucket + 1 - len(histogram)))
                    histogram[max(0, bucket)] += 1
        return histogram

    def stop_writing(self) -> int:
        self._stop_writing.set()
        self._threads[0].join(10)
        return self.written

    def indexed(self) -> int:
        try:
            self.es.indices.refresh(index=self.settings.elasticsearch.index_pattern, ignore_unavailable=True)
            res = self.es.count(index=self.settings.elasticsearch.index_pattern, ignore_unavailable=True,
                                allow_no_indices=True)
            return int(res["count"])
        except Exception:  # noqa: BLE001 - a cluster still recovering: not counted yet
            return 0

    def wait_indexed(self, at_least: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        count = self.indexed()
        while time.monotonic() < deadline and count < at_least:
            time.sleep(1)
            count = self.indexed()
        assert count >= at_least, f"{count} of {at_least} documents after {timeout:.0f}s; {self.logs()}"

    # -- the check ------------------------------------------------------------------------------------------
    def check(self, timeout: float = 400) -> dict[str, Any]:
        """Stop writing, wait for the stream to drain, and compare what the watcher read in Elasticsearch with what
        was written: every line once, intact. Returns the counts and the lines' delays (write to presence, seconds).
        """
        n = self.stop_writing()
        self.wait_indexed(n, timeout)
        time.sleep(3)  # a late double would arrive now
        count = self.indexed()
        deadline = time.monotonic() + 120
        while True:  # the watcher's last looks
            self.look()
            if self.seen_docs >= count or time.monotonic() > deadline:
                break
            time.sleep(WATCH_EVERY_S)
        self._stop_watching.set()
        copies, foreign = self.copies[:n].ljust(n, b"\0"), self.foreign + sum(self.copies[n:])
        verified_by = "watcher"
        if self.seen_docs != count or copies.count(0) or any(c > 1 for c in copies):
            # A copy of a shard can show an operation its primary never acknowledged, which a failover rolls back
            # and the processor sends again under another number: the watcher would count it twice. Elasticsearch's
            # documents as they stand then decide.
            copies, foreign = self._scan(n)
            verified_by = "scan"
        histogram = self.delays(n)
        top = max((i for i, c in enumerate(histogram) if c), default=None)
        result: dict[str, Any] = {
            "written": n,
            "indexed": count,
            "missing": copies.count(0),
            "doubled": sum(c - 1 for c in copies if c > 1),
            "foreign": foreign,
            "delay_p50_s": quantile(histogram, 0.5),
            "delay_p99_s": quantile(histogram, 0.99),
            "delay_max_s": None if top is None else round((top + 1) * DELAY_BUCKET_S, 2),
            "watched": self.seen_docs,
            "verified_by": verified_by,
        }
        assert result["missing"] == result["doubled"] == result["foreign"] == 0, f"{result}; {self.logs()}"
        assert result["indexed"] == n
        return result

    def _scan(self, n: int) -> tuple[bytearray, int]:
        """Copies of each of the ``n`` lines, and the documents that are none of them, read from every document."""
        copies, foreign = bytearray(n), 0
        for hit in helpers.scan(self.es, index=self.settings.elasticsearch.index_pattern, size=5000,
                                query={"query": {"match_all": {}}, "_source": ["message"]}):
            message = hit["_source"].get("message", "")
            m = _SEQ.search(message)
            seq = int(m[1]) if m else -1
            if not 0 <= seq < n or message != line(self.tag, seq):
                foreign += 1
                continue
            copies[seq] = min(255, copies[seq] + 1)
        return copies, foreign

    def peak(self, comps: list[Component], name: str, since: float = 0.0, until: float = float("inf"),
             **labels: str) -> float:
        """The highest value that metric ``name`` (summed over its matching labels) reached in any of ``comps``
        between ``since`` and ``until`` (monotonic times)."""
        return max((total(s.values, name, **labels) for c in comps for s in c.samples if since <= s.at <= until),
                   default=0.0)

    def partitions_reported(self, comps: list[Component], since: float) -> set[str]:
        """The partitions whose consumer lag ``comps`` reported after ``since``: those they owned."""
        out: set[str] = set()
        for comp in comps:
            for sample in comp.samples:
                if sample.at >= since:
                    out.update(re.findall(r'partition="(\d+)"', " ".join(
                        k for k in sample.values if k.startswith("logjet_processor_consumer_lag{"))))
        return out

    def last(self, comps: list[Component], name: str, **labels: str) -> float:
        """Metric ``name`` summed over ``comps``, each at its last sample."""
        return sum(total(c.samples[-1].values, name, **labels) for c in comps if c.samples)

    def all_processors(self) -> list[Component]:
        return [*self.processors.values(), *self.stopped]

    def logs(self) -> str:
        parts = []
        for comp in [c for c in (self.collector, *self.processors.values(), *self.stopped) if c is not None]:
            parts.append(f"--- {comp.name}:\n{comp.log.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def close(self) -> None:
        self._stop_writing.set()
        self._stop_sampling.set()
        for comp in [c for c in (self.collector, *self.processors.values()) if c is not None]:
            if comp.proc.poll() is None:
                try:
                    os.killpg(comp.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for comp in [c for c in (self.collector, *self.processors.values()) if c is not None]:
            try:
                comp.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(comp.proc.pid, signal.SIGKILL)
                comp.proc.wait(10)
        for t in self._threads:
            t.join(5)
        self._stop_watching.set()
        self.es.close()

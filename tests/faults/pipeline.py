"""The conservation checker: uniquely numbered lines written at a steady rate into a file, through the real
`logjet collect files` and real `logjet process` instances (each its own process group and name, as on separate
hosts), then an exact-once check in Elasticsearch: nothing missing, nothing twice, every message intact.

While it runs, every component's /metrics is sampled, so a test can check that the metric an operator would look at
moved during its fault.
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from confluent_kafka.admin import AdminClient, NewTopic
from elasticsearch import Elasticsearch, helpers

from logjet.config import LogjetSettings
from tests.integration.conftest import env_for, free_port

PARTITIONS = 6
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>[-+0-9.eE]+|NaN)$")


def line(tag: str, seq: int) -> str:
    """The text of line ``seq``: its number, and a payload derived from it (non-ASCII included) to check intact."""
    digest = hashlib.sha256(f"{tag}:{seq}".encode()).hexdigest()[:24]
    return f"conservation {tag} seq={seq:07d} payload={digest} näïve-ütf8 ✓"


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
        self.directory = directory
        self.rate = rate
        self.file = directory / "app.log"
        self.written = 0
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
                         threading.Thread(target=self._sample, daemon=True)]
        for t in self._threads:
            t.start()

    def _write(self) -> None:
        step = 0.05
        per_step = max(1, int(self.rate * step))
        next_at = time.monotonic()
        with open(self.file, "a", encoding="utf-8") as fh:
            while not self._stop_writing.is_set():
                fh.write("".join(line(self.tag, self.written + i) + "\n" for i in range(per_step)))
                fh.flush()
                self.written += per_step
                next_at += step
                time.sleep(max(0.0, next_at - time.monotonic()))

    def _sample(self) -> None:
        while not self._stop_sampling.wait(0.5):
            for comp in [c for c in (self.collector, *self.processors.values()) if c is not None]:
                try:
                    comp.samples.append(Sample(time.monotonic(), scrape(comp.metrics_port)))
                except httpx.HTTPError:
                    pass  # starting, stopping or killed

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
    def check(self, timeout: float = 400) -> dict[str, int]:
        """Stop writing, wait for the stream to drain, and compare Elasticsearch with what was written."""
        n = self.stop_writing()
        self.wait_indexed(n, timeout)
        time.sleep(3)  # a late double would arrive now
        seen: Counter[str] = Counter()
        for hit in helpers.scan(self.es, index=self.settings.elasticsearch.index_pattern, size=5000,
                                query={"query": {"match_all": {}}, "_source": ["message"]}):
            seen[hit["_source"]["message"]] += 1
        expected = {line(self.tag, i) for i in range(n)}
        result = {
            "written": n,
            "indexed": sum(seen.values()),
            "missing": len(expected - set(seen)),
            "doubled": sum(c - 1 for c in seen.values() if c > 1),
            "foreign": len(set(seen) - expected),  # altered (or invented) messages
        }
        assert result["missing"] == result["doubled"] == result["foreign"] == 0, f"{result}; {self.logs()}"
        assert result["indexed"] == n
        return result

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
        self.es.close()

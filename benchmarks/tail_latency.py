"""The live tail's delivery delay: a Kafka producer at a fixed rate -> the real `logjet process` -> Elasticsearch ->
the real `logjet serve` -> two Server-Sent Events clients (one for everything, one filtered by service).

The delay of a document is the client's read time less its ``event.ingested`` (the time the processor transformed
it): what indexing, the refresh and the tail's polling add. Both ends read the same clock (one machine). After the
run, each client's documents are compared with Elasticsearch's own record (every document's ``_seq_no`` in its
shard): a document missed, repeated or out of order is counted. The integration test of the tail drives the same
load through `drive` and asserts on what it returns.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.api_latency import LatencyResult
from benchmarks.common import free_port
from logjet.config import LogjetSettings
from logjet.wire import Batch, Entry, Source
from shippers.kafka import KafkaShipper

__all__ = ["Delivery", "SseClient", "TailRun", "delivery", "drive", "markdown", "pct", "run_tail", "summarize", "truth"]

RATE = 5_000  # entries a second
SECONDS = 60
SERVICES = ("alpha", "beta")
POLL_S = "0.2"  # the tail's poll interval the clients ask for (the API's minimum)
BATCH_MAX_WAIT_S = 0.2  # the processor's, as in the integration tests

# Starts `logjet <args>` with the run's settings; ``name`` names its log.
Starter = Callable[[str, Sequence[str]], subprocess.Popen]


class SseClient:
    """A real SSE client on its own thread: records each `log` event's document id, receive time and stamps."""

    def __init__(self, url: str, token: str, params: dict[str, str]) -> None:
        self.url, self.token, self.params = url, token, params
        self.ids: list[str] = []
        self.delays_ms: list[float] = []
        self.last_event_id: str | None = None
        self.hello = threading.Event()
        self.reconnects = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._drop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stamps: dict[str, int] = {}
        self._response: httpx.Response | None = None

    def start(self) -> SseClient:
        self._thread.start()
        return self

    def drop_connection(self) -> None:
        """Close the stream at the next event and reconnect with Last-Event-ID."""
        self._drop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._response is not None:  # wakes the read: an open stream would hold the server's shutdown
            sock = self._response.extensions["network_stream"].get_extra_info("socket")
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(30)

    def _ingested_ns(self, text: str) -> int:
        base, _, frac = text.rstrip("Z").partition(".")
        whole = self._stamps.get(base)
        if whole is None:
            whole = self._stamps[base] = int(datetime.fromisoformat(base).replace(tzinfo=UTC).timestamp()) * 10**9
        return whole + int((frac + "000000000")[:9])

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                headers = {"Authorization": f"Bearer {self.token}"}
                if self.last_event_id:
                    headers["Last-Event-ID"] = self.last_event_id
                with httpx.stream("GET", self.url, params={**self.params, "poll_s": POLL_S}, headers=headers,
                                  timeout=httpx.Timeout(60, read=120)) as res:
                    if res.status_code != 200:
                        raise RuntimeError(f"the tail answered {res.status_code}: {res.read()!r}")
                    self._response = res
                    if self._read(res):
                        return
                self.reconnects += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the thread that reads the results
            if not self._stop.is_set():  # closing the stream to stop it is no error
                self.error = exc

    def _read(self, res: httpx.Response) -> bool:
        """Events until stopped (True) or dropped on purpose (False)."""
        buf = b""
        for chunk in res.iter_raw():
            buf += chunk
            *events, buf = buf.split(b"\n\n")
            now = time.time_ns()
            for raw in events:
                fields = dict(line.split(b": ", 1) for line in raw.split(b"\n") if b": " in line)
                if fields.get(b"event") == b"hello":
                    self.hello.set()
                    self.last_event_id = self.last_event_id or fields[b"id"].decode()
                elif fields.get(b"event") == b"log":
                    doc = orjson.loads(fields[b"data"])
                    self.ids.append(doc["event"]["id"])
                    self.delays_ms.append((now - self._ingested_ns(doc["event"]["ingested"])) / 1e6)
                    self.last_event_id = fields[b"id"].decode()
                    if self._drop.is_set():
                        self._drop.clear()
                        return False
                if self._stop.is_set():
                    return True
        return self._stop.is_set()


def truth(settings: LogjetSettings) -> tuple[list[str], dict[str, str]]:
    """Every document's id in its shard's _seq_no order, and each id's service, from Elasticsearch."""
    es, pattern = settings.elasticsearch.url, settings.elasticsearch.index_pattern
    stats = httpx.get(f"{es}/{pattern}/_stats/docs", params={"level": "shards"}).json()
    (index,) = stats["indices"].values()
    (shard,) = index["shards"].values()  # the order checked is one shard's _seq_no
    top = shard[0]["seq_no"]["max_seq_no"]

    def read(lo: int, hi: int) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        while lo < hi:
            body = {"size": 10_000, "sort": [{"_seq_no": "asc"}], "_source": False,
                    "docvalue_fields": ["event.id", "service.name"],
                    "query": {"range": {"_seq_no": {"gt": lo, "lte": hi}}}}
            hits = orjson.loads(httpx.post(f"{es}/{pattern}/_search", json=body, timeout=60).content)["hits"]["hits"]
            if not hits:
                break
            out += [(h["fields"]["event.id"][0], h["fields"]["service.name"][0]) for h in hits]
            lo = hits[-1]["sort"][0]
        return out

    cuts = [-1 + (top + 1) * i // 4 for i in range(5)]
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(read, cuts[:-1], cuts[1:]))
    pairs = [p for part in parts for p in part]
    return [i for i, _ in pairs], dict(pairs)


@dataclass(frozen=True)
class Delivery:
    """What one tail received against what Elasticsearch holds for it."""

    expected: int
    delivered: int
    missing: int  # expected, never received
    repeated: int  # received more than once
    unexpected: int  # received, not expected (another service's, or not indexed)
    in_order: bool  # exactly the expected ids, in the shards' order

    @property
    def exact(self) -> bool:
        return self.in_order and not (self.missing or self.repeated or self.unexpected)


def delivery(got: Sequence[str], want: Sequence[str]) -> Delivery:
    seen, wanted = set(got), set(want)
    return Delivery(expected=len(want), delivered=len(got), missing=len(wanted - seen),
                    repeated=len(got) - len(seen), unexpected=len(seen - wanted), in_order=list(got) == list(want))


@dataclass
class TailRun:
    rate: int  # entries a second asked for
    entries: int  # entries produced under load (the warm-up document left out)
    produce_s: float
    ready_s: float  # from the start of the processes to both tails open
    # From the last entry produced to both tails found holding every document (or giving up): checked only once
    # every document is indexed and Elasticsearch's record read, so an upper bound of the tails' lag.
    caught_up_s: float
    delivered: dict[str, Delivery]  # per tail: "all", and "alpha" (service filter)
    delays_ms: dict[str, list[float]]
    reconnects: dict[str, int]
    load_1m: list[float] = field(default_factory=list)  # the 1-minute load average, sampled each second
    errors: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.entries / self.produce_s

    @property
    def all_delays_ms(self) -> list[float]:
        return [d for values in self.delays_ms.values() for d in values]


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _count(settings: LogjetSettings) -> int:
    res = httpx.get(f"{settings.elasticsearch.url}/{settings.elasticsearch.index_pattern}/_count",
                    params={"ignore_unavailable": "true", "allow_no_indices": "true"}, timeout=30)
    return 0 if res.status_code == 503 else int(res.raise_for_status().json()["count"])  # 503: shard not started


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def drive(settings: LogjetSettings, token: str, start: Starter, *, rate: int = RATE, seconds: int = SECONDS,
          drop_halfway: bool = False, log: Callable[[str], None] = lambda m: None) -> TailRun:
    """Start the processor and the API, open the two tails, produce ``rate`` entries a second for ``seconds``,
    wait for both tails to catch up, and compare what each received with Elasticsearch's record.

    ``settings.api.keys`` must hold the key of ``token`` with every log in its scope. ``drop_halfway`` closes the
    unfiltered tail's stream halfway through; it reconnects with its Last-Event-ID.
    """
    procs = [start(name, args) for name, args in (("processor", ("process",)), ("api", ("serve",)))]
    shipper = KafkaShipper(settings.kafka)
    base = f"http://127.0.0.1:{settings.api.port}"
    tail = f"{base}/v1/logs/tail"
    clients: dict[str, SseClient] = {}
    t_start = time.monotonic()
    try:
        # The data stream exists before the tails start, as it does in a running pipeline.
        source = Source(f"tail:{uuid.uuid4().hex[:6]}", "file", "node-1", "node-1", None, {})
        shipper.send(Batch(source, [Entry(0, time.time_ns(), '{"msg":"warm-up","service":"warm"}')]), lambda b: None)
        if not shipper.flush(30):
            raise RuntimeError("the warm-up entry was not acknowledged by Kafka")
        if not _wait(lambda: _count(settings) == 1, 120):
            raise RuntimeError("the warm-up entry was not indexed within 120 s")
        if not _wait(lambda: _up(base), 60):
            raise RuntimeError("logjet serve did not answer within 60 s")
        clients = {"all": SseClient(tail, token, {}).start(),
                   "alpha": SseClient(tail, token, {"service": "alpha"}).start()}
        for name, c in clients.items():
            if not c.hello.wait(30):
                raise RuntimeError(f"the {name} tail did not start: {c.error}")

        seq = 1
        load: list[float] = []
        per_tick = rate // 10
        started = time.monotonic()
        ready_s = started - t_start
        log(f"ready after {ready_s:.1f}s")
        for tick in range(seconds * 10):  # a tenth of the rate every 100 ms
            entries = [Entry(n, time.time_ns(), f'{{"msg":"load {n}","service":"{SERVICES[n % 2]}"}}')
                       for n in range(seq, seq + per_tick)]
            seq += len(entries)
            shipper.send(Batch(source, entries), lambda b: None)
            if drop_halfway and tick == seconds * 5:
                clients["all"].drop_connection()
            if tick % 10 == 0:
                load.append(os.getloadavg()[0])
            time.sleep(max(0.0, started + (tick + 1) / 10 - time.monotonic()))
        produce_s = time.monotonic() - started
        if not shipper.flush(60):
            raise RuntimeError("Kafka did not acknowledge every entry within 60 s")
        total = seq  # the warm-up entry included
        if not _wait(lambda: _count(settings) >= total, 120):
            raise RuntimeError(f"{_count(settings)} of {total} documents indexed after 120 s")
        t0 = time.monotonic()
        ids, service = truth(settings)
        log(f"indexed {t0 - started - produce_s:.1f}s after the last entry; read in {time.monotonic() - t0:.1f}s")
        if len(ids) != total:
            raise RuntimeError(f"Elasticsearch holds {len(ids)} documents, {total} were sent")
        expected = {"all": ids[1:], "alpha": [i for i in ids if service[i] == "alpha"]}
        _wait(lambda: all(len(clients[n].ids) >= len(expected[n]) for n in clients), 60)
        caught_up_s = time.monotonic() - started - produce_s
        log(f"caught up {caught_up_s:.1f}s after the last entry")
        time.sleep(2)  # anything extra (a repeat) would arrive now
        for c in clients.values():
            c.stop()
        return TailRun(rate=rate, entries=total - 1, produce_s=produce_s, ready_s=ready_s, caught_up_s=caught_up_s,
                       delivered={n: delivery(c.ids, expected[n]) for n, c in clients.items()},
                       delays_ms={n: c.delays_ms for n, c in clients.items()},
                       reconnects={n: c.reconnects for n, c in clients.items()}, load_1m=load,
                       errors=[f"{n}: {c.error!r}" for n, c in clients.items() if c.error is not None])
    finally:
        for c in clients.values():
            c.stop()
        del shipper  # its librdkafka threads would keep polling after the run
        t0 = time.monotonic()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log(f"stopped in {time.monotonic() - t0:.1f}s")


def run_tail(bootstrap: str, es_url: str, rate: int = RATE, seconds: int = SECONDS) -> TailRun:
    """One run on a new topic and data stream (both removed afterwards), with its own processor and API."""
    from api.auth import new_key
    from benchmarks.processor import drop_data_stream

    tag = f"tail{uuid.uuid4().hex[:8]}"
    token, digest = new_key()
    settings = LogjetSettings(
        kafka={"bootstrap": bootstrap, "topic": f"bench-{tag}", "dead_letter_topic": f"bench-{tag}-dlq"},
        elasticsearch={"url": es_url, "dataset": f"bench{tag}"},
        processor={"group_id": f"bench-{tag}", "batch_max_wait_s": BATCH_MAX_WAIT_S, "workers": 1},
        api={"port": free_port(), "keys": [{"name": "bench", "sha256": digest, "all_logs": True}]},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}
    env.update({
        "LOGJET_KAFKA_BOOTSTRAP": bootstrap, "LOGJET_KAFKA_TOPIC": settings.kafka.topic,
        "LOGJET_KAFKA_DEAD_LETTER_TOPIC": settings.kafka.dead_letter_topic,
        "LOGJET_ELASTICSEARCH_URL": es_url, "LOGJET_ELASTICSEARCH_DATASET": settings.elasticsearch.dataset,
        "LOGJET_PROCESSOR_GROUP_ID": settings.processor.group_id,
        "LOGJET_PROCESSOR_BATCH_MAX_WAIT_S": str(BATCH_MAX_WAIT_S), "LOGJET_PROCESSOR_WORKERS": "1",
        "LOGJET_API_PORT": str(settings.api.port),
        "LOGJET_API_KEYS": orjson.dumps([k.model_dump(mode="json") for k in settings.api.keys]).decode(),
        "LOGJET_LOG_LEVEL": "WARNING",
    })
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"logjet-{tag}"
    logs.mkdir(parents=True, exist_ok=True)

    def start(name: str, args: Sequence[str]) -> subprocess.Popen:
        with (logs / f"{name}.out").open("ab") as out:
            return subprocess.Popen([sys.executable, "-m", "cli", *args], env=env, stdout=out,
                                    stderr=subprocess.STDOUT)

    try:
        return drive(settings, token, start, rate=rate, seconds=seconds,
                     log=lambda m: print(f"    {m}", file=sys.stderr))
    finally:
        drop_data_stream(es_url, tag)
        from confluent_kafka.admin import AdminClient

        futures = AdminClient({"bootstrap.servers": bootstrap}).delete_topics(
            [settings.kafka.topic, settings.kafka.dead_letter_topic])
        for future in futures.values():
            with contextlib.suppress(Exception):  # the dead-letter topic exists only if something was refused
                future.result(30)


def pct(values: Sequence[float], p: float) -> float:
    return LatencyResult.pct(list(values), p)


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    n = len(ordered)
    return {"median": (ordered[(n - 1) // 2] + ordered[n // 2]) / 2, "min": ordered[0], "max": ordered[-1]}


def run_summary(run: TailRun) -> dict[str, Any]:
    """One run as the result file keeps it under details.tail.runs."""
    delays = run.all_delays_ms
    return {
        "entries": run.entries, "entries_per_s": round(run.per_s, 1), "produce_s": round(run.produce_s, 2),
        "ready_s": round(run.ready_s, 1), "caught_up_s": round(run.caught_up_s, 1),
        "delay_ms": {"p50": round(pct(delays, 50), 1), "p99": round(pct(delays, 99), 1),
                     "max": round(max(delays), 1)} if delays else None,
        "delay_ms_per_tail": {n: {"p50": round(pct(v, 50), 1), "p99": round(pct(v, 99), 1)}
                              for n, v in run.delays_ms.items() if v},
        "delivered": {n: d.delivered for n, d in run.delivered.items()},
        "expected": {n: d.expected for n, d in run.delivered.items()},
        "missing": {n: d.missing for n, d in run.delivered.items()},
        "repeated": {n: d.repeated for n, d in run.delivered.items()},
        "unexpected": {n: d.unexpected for n, d in run.delivered.items()},
        "in_order": {n: d.in_order for n, d in run.delivered.items()},
        "reconnects": run.reconnects,
        "load_1m": {"mean": round(sum(run.load_1m) / len(run.load_1m), 2), "max": max(run.load_1m)}
        if run.load_1m else None,
        "errors": run.errors,
    }


def summarize(runs: list[TailRun], rate: int, seconds: int) -> dict[str, Any]:
    """The tail benchmark's part of the result file: the medians (min, max) of each run's figures, the counts that
    must be 0 summed over every run, and the settings."""
    per_run = [run_summary(r) for r in runs]
    with_delays = [s["delay_ms"] for s in per_run if s["delay_ms"]]
    tails = sorted({n for r in runs for n in r.delivered})
    loads = [sum(r.load_1m) / len(r.load_1m) for r in runs if r.load_1m]
    return {
        "runs": len(runs),
        "delay_ms_p50": _spread([d["p50"] for d in with_delays]) if with_delays else None,
        "delay_ms_p99": _spread([d["p99"] for d in with_delays]) if with_delays else None,
        "delay_ms_max": _spread([d["max"] for d in with_delays]) if with_delays else None,
        "entries_per_s": _spread([r.per_s for r in runs]),
        "delivered": {n: _spread([float(r.delivered[n].delivered) for r in runs]) for n in tails},
        "missing": sum(d.missing for r in runs for d in r.delivered.values()),
        "repeated": sum(d.repeated for r in runs for d in r.delivered.values()),
        "unexpected": sum(d.unexpected for r in runs for d in r.delivered.values()),
        "out_of_order_runs": sum(not d.in_order for r in runs for d in r.delivered.values()),
        "load_1m_mean": _spread(loads) if loads else None,
        "settings": {"rate": rate, "seconds": seconds, "processor_workers": 1,
                     "processor_batch_max_wait_s": BATCH_MAX_WAIT_S, "tail_poll_s": float(POLL_S),
                     "tails": {"all": "no filter", "alpha": "service=alpha (half the entries)"},
                     "delay": "client read time - event.ingested (the processor's transform time), both tails "
                              "together; the first run is a discarded warm-up",
                     "elasticsearch_refresh_interval": "the data stream's default (1s)"},
        "details": per_run,
    }


def markdown(result: dict[str, Any]) -> str:
    """The README's table of the tail benchmark, from a result file's contents."""
    tail = result["details"]["tail"]
    s = tail["settings"]

    def row(name: str, spread: dict[str, float] | None, fmt: str = ",.0f") -> str:
        if spread is None:  # nothing delivered, or no sample taken
            return f"| {name} | - | - | - |"
        return f"| {name} | {spread['median']:{fmt}} | {spread['min']:{fmt}} | {spread['max']:{fmt}} |"

    lines = ["| live tail | median | min | max |", "|---|---:|---:|---:|",
             row("delivery delay p50, ms", tail["delay_ms_p50"]),
             row("delivery delay p99, ms", tail["delay_ms_p99"]),
             row("delivery delay max, ms", tail["delay_ms_max"]),
             row(f"entries/s produced (asked: {s['rate']:,})", tail["entries_per_s"])]
    lines += [row(f"entries delivered to the {n!r} tail", spread) for n, spread in tail["delivered"].items()]
    lines.append(row("1-minute load average during the load", tail["load_1m_mean"], ".2f"))
    lines.append(f"| missing / repeated / unexpected / runs out of order (all runs, both tails) | "
                 f"{tail['missing']} / {tail['repeated']} / {tail['unexpected']} / {tail['out_of_order_runs']} | | |")
    return "\n".join(lines)


if __name__ == "__main__":  # the README table: python -m benchmarks.tail_latency benchmarks/results/<file>.json
    print(markdown(orjson.loads(Path(sys.argv[1]).read_bytes())))

"""The live tail against the real pipeline: Kafka producer -> `logjet process` -> Elasticsearch -> `logjet serve` ->
Server-Sent Events clients.

Every check is against Elasticsearch's own record of what it indexed (each document's ``_seq_no`` in its shard),
read after the run: a document a tail missed, repeated or delivered out of order fails the test.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from logjet.wire import Batch, Entry, Source
from shippers.kafka import KafkaShipper
from tests.integration.conftest import api_key, es_count, free_port, logjet, wait_for

RATE = 5_000  # entries a second
SECONDS = 60
SERVICES = ("alpha", "beta")


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
                with httpx.stream("GET", self.url, params={**self.params, "poll_s": "0.2"}, headers=headers,
                                  timeout=httpx.Timeout(60, read=120)) as res:
                    assert res.status_code == 200, res.read()
                    self._response = res
                    if self._read(res):
                        return
                self.reconnects += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
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


def _truth(settings: Any) -> tuple[list[str], dict[str, str]]:
    """Every document's id in its shard's _seq_no order, and each id's service, from Elasticsearch."""
    from concurrent.futures import ThreadPoolExecutor

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


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def test_two_tails_follow_5000_entries_a_second_exactly_once_in_order_and_resume(make_settings, tmp_path) -> None:  # noqa: ANN001
    port = free_port()
    token, key = api_key(all_logs=True)
    settings = make_settings(api={"port": port, "keys": [key]}, processor={"workers": 1})
    procs = {name: logjet(*args, settings=settings, log_path=str(tmp_path / f"{name}.out"))
             for name, args in {"processor": ("process",), "api": ("serve",)}.items()}
    shipper = KafkaShipper(settings.kafka)
    base = f"http://127.0.0.1:{port}"
    clients: list[SseClient] = []
    t_start = time.monotonic()
    try:
        # The data stream exists before the tails start, as it does in a running pipeline.
        source = Source(f"test:{uuid.uuid4().hex[:6]}", "file", "node-1", "node-1", None, {})
        shipper.send(Batch(source, [Entry(0, time.time_ns(), '{"msg":"warm-up","service":"warm"}')]), lambda b: None)
        assert shipper.flush(30)
        wait_for(lambda: es_count(settings) == 1, 120, "the first document")
        wait_for(lambda: _up(base), 60, "the API")
        everything = SseClient(f"{base}/v1/logs/tail", token, {}).start()
        alpha = SseClient(f"{base}/v1/logs/tail", token, {"service": "alpha"}).start()
        clients = [everything, alpha]
        for c in clients:
            assert c.hello.wait(30), "the tail did not start"

        seq = 1
        started = time.monotonic()
        print(f"\nready after {started - t_start:.1f}s")
        for tick in range(SECONDS * 10):  # 500 entries every 100 ms
            entries = [Entry(n, time.time_ns(), f'{{"msg":"load {n}","service":"{SERVICES[n % 2]}"}}')
                       for n in range(seq, seq + RATE // 10)]
            seq += len(entries)
            shipper.send(Batch(source, entries), lambda b: None)
            if tick == SECONDS * 5:
                everything.drop_connection()  # halfway: reconnect with Last-Event-ID
            time.sleep(max(0.0, started + (tick + 1) / 10 - time.monotonic()))
        produce_s = time.monotonic() - started
        assert shipper.flush(60)
        total = seq
        wait_for(lambda: es_count(settings) >= total, 120, f"{total} documents indexed")
        t0 = time.monotonic()
        truth, service = _truth(settings)
        print(f"indexed {t0 - started - produce_s:.1f}s after the last entry; read in {time.monotonic() - t0:.1f}s")
        assert len(truth) == total
        expected = {"all": truth[1:], "alpha": [i for i in truth if service[i] == "alpha"]}
        wait_for(lambda: len(everything.ids) >= len(expected["all"]) and len(alpha.ids) >= len(expected["alpha"]),
                 60, "the tails to catch up")
        print(f"caught up {time.monotonic() - started - produce_s:.1f}s after the last entry")
        time.sleep(2)  # anything extra (a repeat) would arrive now
        for c in clients:
            c.stop()
            assert c.error is None, c.error
        assert everything.reconnects == 1
        for name, client in (("all", everything), ("alpha", alpha)):
            got, want = client.ids, expected[name]
            missing, repeated = set(want) - set(got), len(got) - len(set(got))
            assert not missing and not repeated, f"{name}: {len(missing)} missed, {repeated} repeated"
            assert got == want, f"{name}: every document once, but not in the shards' order"
        delays = everything.delays_ms + alpha.delays_ms
        print(f"\nlive tail at {total / produce_s:,.0f} entries/s for {produce_s:.0f} s, two tails: delivery delay "
              f"after the processor's transform (event.ingested): p50 {_percentile(delays, 0.5):.0f} ms, "
              f"p99 {_percentile(delays, 0.99):.0f} ms, max {max(delays):.0f} ms")
    finally:
        for c in clients:
            c.stop()
        t0 = time.monotonic()
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(30)
        print(f"stopped in {time.monotonic() - t0:.1f}s")


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def api_server(make_settings, tmp_path):  # noqa: ANN001, ANN201
    """`logjet serve` with two keys and a small tail limit."""
    port = free_port()
    keys = [api_key(all_logs=True), api_key(all_logs=True)]
    settings = make_settings(api={"port": port, "keys": [k for _, k in keys], "tail_max_per_key": 8,
                                  "tail_max_total": 12})
    proc = logjet("serve", settings=settings, log_path=str(tmp_path / "api.out"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), 60, "the API")
        yield base, [t for t, _ in keys], settings
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_tails_beyond_the_limits_get_429_with_retry_after_and_slots_come_back(api_server) -> None:  # noqa: ANN001
    import asyncio

    base, (token, other), _ = api_server

    async def open_tails(key: str, n: int, client: httpx.AsyncClient, stack: Any) -> list[int]:
        async def one() -> int:
            res = await stack.enter_async_context(client.stream(
                "GET", f"{base}/v1/logs/tail", headers={"Authorization": f"Bearer {key}"}))
            if res.status_code == 429:
                assert int(res.headers["Retry-After"]) > 0
                assert res.headers["content-type"] == "application/problem+json"
            return res.status_code
        return list(await asyncio.gather(*(one() for _ in range(n))))

    async def scenario() -> None:
        from contextlib import AsyncExitStack

        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client, AsyncExitStack() as stack:
            codes = await open_tails(token, 200, client, stack)  # 200 at once from one key
            assert codes.count(200) == 8 and codes.count(429) == 192
            codes = await open_tails(other, 10, client, stack)  # the total (12) binds the other key
            assert codes.count(200) == 4 and codes.count(429) == 6
            assert (await client.get(f"{base}/healthz")).status_code == 200
            metrics = await client.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
            assert "logjet_api_live_tails 12.0" in metrics.text
        # Every stream closed: the slots are free again.
        async with httpx.AsyncClient(timeout=30) as client, AsyncExitStack() as stack:
            for _ in range(50):
                codes = await open_tails(token, 8, client, stack)
                if codes.count(200) == 8:
                    break
                await stack.aclose()
                await asyncio.sleep(0.2)
            assert codes.count(200) == 8

    asyncio.run(scenario())


def test_a_last_event_id_cannot_be_forged_or_carried_to_another_key(api_server) -> None:  # noqa: ANN001
    base, (token, other), _ = api_server

    def hello(key: str, last_event_id: str | None = None) -> tuple[int, str | None]:
        headers = {"Authorization": f"Bearer {key}"} | ({"Last-Event-ID": last_event_id} if last_event_id else {})
        with httpx.stream("GET", f"{base}/v1/logs/tail", headers=headers, timeout=30) as res:
            if res.status_code != 200:
                return res.status_code, None
            for line in res.iter_lines():
                if line.startswith("id: "):
                    return 200, line[4:]
        raise AssertionError("no hello")

    status, event_id = hello(token)
    assert status == 200 and event_id
    assert hello(token, event_id)[0] == 200  # its own key resumes
    assert hello(other, event_id)[0] == 400  # another key (same scope, another name) cannot
    payload, mac = event_id.split(".")
    forged = orjson.dumps({"logs-x-default": {"1": [-1]}})
    import base64

    forged_b64 = base64.urlsafe_b64encode(forged).decode().rstrip("=")
    for bad in (f"{forged_b64}.{mac}", f"{payload}.{mac[:-2]}AA", payload, "not-an-id"):
        assert hello(token, bad)[0] == 400


def test_documents_searchable_long_after_they_were_indexed_are_not_passed(api_server) -> None:  # noqa: ANN001
    """Refreshes stopped on the data stream: the documents are indexed (the shard's checkpoint passes them) but not
    searchable. A tail that trusted time or the checkpoint alone would pass them; this one waits and sends them all,
    in order, once they become searchable."""
    base, (token, _), settings = api_server
    es, stream = settings.elasticsearch.url, settings.elasticsearch.data_stream

    def bulk(first: int, n: int) -> None:
        lines = []
        for i in range(first, first + n):
            lines += [orjson.dumps({"create": {"_id": f"late-{i:05d}"}}),
                      orjson.dumps({"@timestamp": "2026-11-29T00:00:00Z", "message": f"late {i}",
                                    "event": {"id": f"late-{i:05d}",
                                              "ingested": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
                                    "service": {"name": "alpha"}})]
        res = httpx.post(f"{es}/{stream}/_bulk", content=b"\n".join(lines) + b"\n",
                         headers={"content-type": "application/x-ndjson"}, timeout=60)
        assert res.status_code == 200 and not res.json()["errors"], res.text

    from shippers.elasticsearch import install_template, make_client

    install_template(make_client(settings.elasticsearch), settings.elasticsearch)  # a data stream, as logjet's
    bulk(0, 1)
    httpx.post(f"{es}/{stream}/_refresh").raise_for_status()
    client = SseClient(f"{base}/v1/logs/tail", token, {"service": "alpha"}).start()
    try:
        assert client.hello.wait(30)
        httpx.put(f"{es}/{stream}/_settings", json={"index": {"refresh_interval": "-1"}}).raise_for_status()
        bulk(1, 2000)
        time.sleep(5)  # well past any settle margin a time-based tail would use
        assert client.ids == [], "sent documents that were not searchable yet?"
        httpx.put(f"{es}/{stream}/_settings", json={"index": {"refresh_interval": "1s"}}).raise_for_status()
        wait_for(lambda: len(client.ids) >= 2000, 30, "the documents once searchable")
        time.sleep(1)
        assert client.ids == [f"late-{i:05d}" for i in range(1, 2001)]
    finally:
        client.stop()
        assert client.error is None, client.error


def test_sigterm_ends_the_api_with_a_tail_open(make_settings, tmp_path) -> None:  # noqa: ANN001
    port = free_port()
    token, key = api_key(all_logs=True)
    settings = make_settings(api={"port": port, "keys": [key]})
    proc = logjet("serve", settings=settings, log_path=str(tmp_path / "api.out"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), 60, "the API")
        with httpx.stream("GET", f"{base}/v1/logs/tail", headers={"Authorization": f"Bearer {token}"},
                          timeout=30) as res:
            assert res.status_code == 200
            next(res.iter_lines())  # the stream is open and served
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            assert proc.wait(30) == 0, (tmp_path / "api.out").read_text()
            assert time.monotonic() - started < 15
    finally:
        if proc.poll() is None:
            proc.kill()

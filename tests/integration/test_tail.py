"""The live tail against the real pipeline: Kafka producer -> `logjet process` -> Elasticsearch -> `logjet serve` ->
Server-Sent Events clients.

Every check is against Elasticsearch's own record of what it indexed (each document's ``_seq_no`` in its shard),
read after the run: a document a tail missed, repeated or delivered out of order fails the test.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from benchmarks.tail_latency import SseClient, drive, pct
from tests.integration.conftest import api_key, free_port, logjet, wait_for


def test_two_tails_follow_5000_entries_a_second_exactly_once_in_order_and_resume(make_settings, tmp_path) -> None:  # noqa: ANN001
    token, key = api_key(all_logs=True)
    settings = make_settings(api={"port": free_port(), "keys": [key]}, processor={"workers": 1})
    run = drive(settings, token, lambda name, args: logjet(*args, settings=settings,
                                                           log_path=str(tmp_path / f"{name}.out")),
                rate=5_000, seconds=60, drop_halfway=True, log=print)
    assert not run.errors, run.errors
    assert run.reconnects == {"all": 1, "alpha": 0}
    for name, got in run.delivered.items():
        assert got.expected > 0
        assert not got.missing and not got.repeated and not got.unexpected, f"{name}: {got}"
        assert got.in_order, f"{name}: every document once, but not in the shards' order"
    delays = run.all_delays_ms
    print(f"\nlive tail at {run.per_s:,.0f} entries/s for {run.produce_s:.0f} s, two tails: delivery delay "
          f"after the processor's transform (event.ingested): p50 {pct(delays, 50):.0f} ms, "
          f"p99 {pct(delays, 99):.0f} ms, max {max(delays):.0f} ms")


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


def test_a_tail_asked_for_a_pattern_sends_that_pattern_s_lines_only(api_server) -> None:  # noqa: ANN001
    base, (token, _), settings = api_server
    es, stream = settings.elasticsearch.url, settings.elasticsearch.data_stream
    from shippers.elasticsearch import install_template, make_client

    install_template(make_client(settings.elasticsearch), settings.elasticsearch)
    client = SseClient(f"{base}/v1/logs/tail", token, {"pattern": "aaaaaaaaaaaaaaaa"}).start()
    try:
        assert client.hello.wait(30)
        lines = []
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for i in range(40):
            pid = "aaaaaaaaaaaaaaaa" if i % 4 == 0 else "bbbbbbbbbbbbbbbb"
            lines += [orjson.dumps({"create": {"_id": f"p-{i:03d}"}}),
                      orjson.dumps({"@timestamp": now, "message": f"line {i}",
                                    "event": {"id": f"p-{i:03d}", "ingested": now},
                                    "logjet": {"pattern": {"id": pid, "template": "line <*>"}}})]
        res = httpx.post(f"{es}/{stream}/_bulk?refresh=true", content=b"\n".join(lines) + b"\n",
                         headers={"content-type": "application/x-ndjson"}, timeout=60)
        assert res.status_code == 200 and not res.json()["errors"], res.text
        wait_for(lambda: len(client.ids) >= 10, 30, "the pattern's lines")
        time.sleep(2)  # the other pattern's lines, if the filter let them through, would have come by now
        assert client.ids == [f"p-{i:03d}" for i in range(0, 40, 4)]
    finally:
        client.stop()
        assert client.error is None, client.error

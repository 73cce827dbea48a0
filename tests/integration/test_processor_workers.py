"""`logjet process --workers 2` against the real Kafka and Elasticsearch: exactly N documents for N entries through
worker crashes, SIGTERM and restart, Elasticsearch refusing writes (429) for a minute, and Elasticsearch stopped
for a minute."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from confluent_kafka import Producer

from tests.integration.conftest import env_for, es_count, free_port, wait_for


def _produce(settings, n: int, start: int = 0) -> set[str]:  # noqa: ANN001
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 20})
    lines = {f"2026-11-25 10:00:00,{i % 1000:03d} INFO [main] shop.Cart: entry {i:07d}"
             for i in range(start, start + n)}
    for i, line in enumerate(sorted(lines)):
        producer.produce(settings.kafka.topic, line.encode(), key=str(i % 97).encode())
        if i % 10000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    return lines


def _start(settings, tmp_path: Path, port: int) -> subprocess.Popen:  # noqa: ANN001
    env = env_for(settings) | {"LOGJET_PROCESSOR_METRICS_PORT": str(port)}
    log = open(tmp_path / "process.out", "ab")  # noqa: SIM115 - kept open for the child
    return subprocess.Popen([sys.executable, "-m", "logjet", "process", "--workers", "2"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def _exactly(settings, n: int, timeout: float = 180) -> None:  # noqa: ANN001
    wait_for(lambda: es_count(settings) >= n, timeout, f"{n} documents")
    time.sleep(3)  # a late duplicate would show up by now
    httpx.post(f"{settings.elasticsearch.url}/{settings.elasticsearch.index_pattern}/_refresh")
    assert es_count(settings) == n


def _metric(port: int, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    m = re.search(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def _workers(proc: subprocess.Popen) -> list[psutil.Process]:
    # multiprocessing's spawn method also starts a resource tracker: not a worker.
    return [c for c in psutil.Process(proc.pid).children() if "resource_tracker" not in " ".join(c.cmdline())]


def _stop(proc: subprocess.Popen, settings) -> float:  # noqa: ANN001
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(settings.processor.shutdown_deadline_s + 15) == 0
    return time.monotonic() - started


def test_killed_workers_are_replaced_and_nothing_is_lost_or_doubled(make_settings, tmp_path: Path) -> None:
    settings = make_settings(processor={"batch_max_records": 500})
    n = 60_000
    _produce(settings, n)
    port = free_port()
    proc = _start(settings, tmp_path, port)
    try:
        wait_for(lambda: es_count(settings) > 2000, 120, "indexing to start")
        for _ in range(3):  # SIGKILL a worker in the middle of its batches, three times
            workers = _workers(proc)
            assert len(workers) == 2
            workers[0].kill()
            time.sleep(1.5)
        _exactly(settings, n)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
        assert health["alive"] == 2 and health["restarts"] >= 3
        assert _metric(port, "logjet_processor_documents_indexed_total") + \
            _metric(port, "logjet_processor_duplicates_suppressed_total") >= n
    finally:
        _stop(proc, settings)


def test_sigterm_under_load_then_restart_gives_exactly_n(make_settings, tmp_path: Path) -> None:
    settings = make_settings(processor={"batch_max_records": 500, "shutdown_deadline_s": 10})
    n = 40_000
    _produce(settings, n)
    proc = _start(settings, tmp_path, free_port())
    wait_for(lambda: es_count(settings) > 1000, 120, "indexing to start")
    elapsed = _stop(proc, settings)
    assert es_count(settings) < n, "the stop came too late to test anything"
    print(f"\nSIGTERM under load: supervisor and workers out in {elapsed:.2f}s")
    proc = _start(settings, tmp_path, free_port())
    try:
        _exactly(settings, n)
    finally:
        _stop(proc, settings)


def test_elasticsearch_refusing_writes_for_a_minute_loses_nothing(make_settings, tmp_path: Path) -> None:
    settings = make_settings(processor={"batch_max_records": 500, "retry_max_s": 5})
    es = settings.elasticsearch
    _produce(settings, 1000)
    port = free_port()
    proc = _start(settings, tmp_path, port)
    try:
        _exactly(settings, 1000)
        # What Elasticsearch does when a disk passes the flood stage: every write answered 429.
        block = {"index.blocks.read_only_allow_delete": True}
        assert httpx.put(f"{es.url}/{es.data_stream}/_settings", json=block).status_code == 200
        _produce(settings, 20_000, start=1000)
        wait_for(lambda: _metric(port, "logjet_processor_documents_retried_total") > 0, 60, "429s to be retried")
        time.sleep(60)
        assert es_count(settings) == 1000
        unblock = {"index.blocks.read_only_allow_delete": None}
        assert httpx.put(f"{es.url}/{es.data_stream}/_settings", json=unblock).status_code == 200
        _exactly(settings, 21_000)
    finally:
        _stop(proc, settings)


def test_elasticsearch_stopped_for_a_minute_loses_nothing(make_settings, endpoints, tmp_path: Path) -> None:
    if endpoints.stack is None:
        pytest.skip("needs the session's own local stack (LOGJET_*_URL point elsewhere)")
    settings = make_settings(processor={"batch_max_records": 500, "retry_max_s": 5})
    _produce(settings, 1000)
    proc = _start(settings, tmp_path, free_port())
    try:
        _exactly(settings, 1000)
        assert endpoints.stack.elasticsearch.process.stop(timeout=60)
        _produce(settings, 20_000, start=1000)
        time.sleep(60)
        assert proc.poll() is None, "the processor must wait out the outage, not exit"
        endpoints.stack.up()
        _exactly(settings, 21_000)
    finally:
        _stop(proc, settings)

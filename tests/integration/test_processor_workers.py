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
    return subprocess.Popen([sys.executable, "-m", "cli", "process", "--workers", "2"], env=env, stdout=log,
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


def slow_parser(message: str) -> None:
    """A user parser that takes 10 ms per entry: a processor slow enough to keep a lag while the test looks."""
    time.sleep(0.01)


def _lag(port: int) -> dict[int, float]:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    except httpx.ConnectError:  # the process is still starting
        return {}
    out = {}
    for m in re.finditer(r"^logjet_processor_consumer_lag\{([^}]*)\} (\S+)$", text, re.M):
        partition = re.search(r'partition="(\d+)"', m.group(1))
        assert partition is not None
        out[int(partition.group(1))] = float(m.group(2))
    return out


def _true_lag(settings) -> dict[int, int]:  # noqa: ANN001
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": settings.processor.group_id})
    try:
        parts = [TopicPartition(settings.kafka.topic, p) for p in range(4)]
        return {tp.partition: consumer.get_watermark_offsets(tp, timeout=5)[1] - max(tp.offset, 0)
                for tp in consumer.committed(parts, timeout=5)}
    finally:
        consumer.close()


def test_each_process_reports_the_lag_of_the_partitions_it_owns_and_drops_those_it_gives_away(
        make_settings, tmp_path: Path) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    settings = make_settings(processor={
        "batch_max_records": 20, "lag_interval_s": 0.5,
        "parsers": [{"name": "slow", "function": "tests.integration.test_processor_workers:slow_parser"}]})
    topic = settings.kafka.topic
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap})
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 20})
    for i in range(4000):
        producer.produce(topic, f"entry {i}".encode(), partition=i % 4)
    assert producer.flush(60) == 0
    env = env_for(settings)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    def start(name: str, port: int) -> subprocess.Popen:
        log = open(tmp_path / name / "process.out", "ab")  # noqa: SIM115 - kept open for the child
        return subprocess.Popen([sys.executable, "-m", "cli", "process", "--workers", "1"],
                                env=env | {"LOGJET_PROCESSOR_METRICS_PORT": str(port)}, stdout=log,
                                stderr=subprocess.STDOUT)

    port_a, port_b = free_port(), free_port()
    a = start("a", port_a)
    b = None
    try:
        wait_for(lambda: set(_lag(port_a)) == {0, 1, 2, 3}, 60, "process A to report its four partitions")
        assert all(0 < n <= 1000 for n in _lag(port_a).values())
        b = start("b", port_b)

        def split() -> bool:
            owned_a, owned_b = set(_lag(port_a)), set(_lag(port_b))
            return bool(owned_a) and bool(owned_b) and not owned_a & owned_b and owned_a | owned_b == {0, 1, 2, 3}

        # A gave two partitions to B: A reports only the two it kept, B the two it got, none twice.
        wait_for(split, 60, "the partitions to be split between A and B, each reported by its owner alone")
        reported = _lag(port_a) | _lag(port_b)
        true = _true_lag(settings)
        # Reported at most half a second ago, at up to ~100 entries a second per process: close to the true lag.
        assert all(-10 <= reported[p] - true[p] <= 150 for p in range(4)), (reported, true)
        _stop(b, settings)
        b = None
        wait_for(lambda: set(_lag(port_a)) == {0, 1, 2, 3}, 60, "A to report all four partitions again")
    finally:
        if b is not None:
            _stop(b, settings)
        _stop(a, settings)

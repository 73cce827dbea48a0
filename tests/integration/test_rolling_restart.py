"""A rolling restart rehearsal: two processors under load are replaced one at a time with SIGTERM, as Kubernetes
and Marathon do; Elasticsearch ends with exactly the entries produced, none twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from confluent_kafka import Producer

from tests.integration.conftest import env_for, es_count, wait_for

N = 60_000


def _processor(settings, tmp_path: Path, name: str) -> subprocess.Popen:  # noqa: ANN001
    log = open(tmp_path / f"{name}.out", "ab")  # noqa: SIM115 - kept open for the child
    return subprocess.Popen([sys.executable, "-m", "cli", "process", "--workers", "1"], env=env_for(settings),
                            stdout=log, stderr=subprocess.STDOUT)


def test_processors_replaced_one_by_one_under_load_lose_and_double_nothing(make_settings, tmp_path: Path) -> None:
    settings = make_settings(processor={"batch_max_records": 200, "shutdown_deadline_s": 10})

    def produce() -> None:
        producer = Producer({"bootstrap.servers": settings.kafka.bootstrap, "linger.ms": 10})
        for i in range(N):
            producer.produce(settings.kafka.topic, f"rolling entry {i:06d}".encode(), key=str(i % 31).encode())
            if i % 2000 == 0:
                producer.poll(0)
                time.sleep(0.2)  # about 10,000 entries a second: the load goes on through the restarts
        assert producer.flush(60) == 0

    writer = threading.Thread(target=produce)
    writer.start()
    procs = {name: _processor(settings, tmp_path, name) for name in ("a", "b")}
    try:
        wait_for(lambda: es_count(settings) > 2000, 120, "indexing to start")
        for name in ("a", "b"):  # one at a time, the next only when the replacement runs
            time.sleep(2)
            procs[name].send_signal(signal.SIGTERM)
            assert procs[name].wait(30) == 0
            procs[name] = _processor(settings, tmp_path, name + "2")
        writer.join()
        wait_for(lambda: es_count(settings) >= N, 240, f"{N} documents")
        time.sleep(3)
        assert es_count(settings) == N
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(60)

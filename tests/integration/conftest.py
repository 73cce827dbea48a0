"""The real local stack, started once per session.

``LOGJET_KAFKA_BOOTSTRAP`` and ``LOGJET_ELASTICSEARCH_URL`` point the tests at running servers; otherwise the
fixture runs `logjet stack up` (and `down` at the end, if it started the stack). It never skips: a stack that
cannot start is an error in CI as anywhere else.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from logjet.config import LogjetSettings, load_settings


@dataclass(frozen=True)
class Endpoints:
    kafka: str
    elasticsearch: str
    stack: Any = None  # the local Stack when this session manages it: tests may stop and start its servers


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    kafka, es = os.environ.get("LOGJET_KAFKA_BOOTSTRAP"), os.environ.get("LOGJET_ELASTICSEARCH_URL")
    if kafka and es:
        yield Endpoints(kafka, es)
        return
    from logjet.stack import Stack

    stack = Stack(load_settings().stack)
    was_running = stack.kafka.process.pid() is not None and stack.elasticsearch.process.pid() is not None
    stack.up()
    try:
        yield Endpoints(stack.kafka_bootstrap, stack.elasticsearch_url, stack)
    finally:
        if not was_running:
            stack.down()


@pytest.fixture
def make_settings(endpoints: Endpoints) -> Callable[..., LogjetSettings]:
    """Settings isolated per test: their own topic, dead-letter topic, consumer group and data stream."""
    tag = uuid.uuid4().hex[:10]

    def build(**sections: dict[str, Any]) -> LogjetSettings:
        base: dict[str, dict[str, Any]] = {
            "kafka": {"bootstrap": endpoints.kafka, "topic": f"test-{tag}", "dead_letter_topic": f"test-{tag}-dlq"},
            "elasticsearch": {"url": endpoints.elasticsearch, "dataset": f"t{tag}"},
            "processor": {"group_id": f"test-{tag}", "batch_max_wait_s": 0.2},
            "collector": {"poll_interval_s": 0.05},
        }
        for name, values in sections.items():
            base.setdefault(name, {}).update(values)
        # The environment wins over constructor values (as over a YAML file); here the test's own values must win,
        # the LOGJET_* variables having only pointed the session at its servers (already in `endpoints`).
        saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("LOGJET_")}
        try:
            return LogjetSettings(**base)
        finally:
            os.environ.update(saved)

    return build


def env_for(settings: LogjetSettings) -> dict[str, str]:
    """The environment that gives a `logjet` subprocess exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}
    for section in ("kafka", "elasticsearch", "collector", "processor", "api"):
        for key, value in getattr(settings, section).model_dump(mode="json").items():
            if value is None:
                continue
            if isinstance(value, (dict, list)):
                import orjson

                value = orjson.dumps(value).decode()
            env[f"LOGJET_{section.upper()}_{key.upper()}"] = str(value)
    return env


def logjet(*args: str, settings: LogjetSettings, log_path: str) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "cli", *args], env=env_for(settings),
                                stdout=log, stderr=subprocess.STDOUT)


def logjet_with_config(*args: str, settings: LogjetSettings, directory: Path) -> subprocess.Popen[bytes]:
    """Run ``logjet <args> --config <file>`` with every setting in a YAML file and none in the environment."""
    import yaml

    config = directory / "logjet.yaml"
    doc = {section: getattr(settings, section).model_dump(mode="json")
           for section in ("kafka", "elasticsearch", "collector", "processor", "api")}
    config.write_text(yaml.safe_dump(doc))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}
    with open(directory / "logjet.out", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "cli", *args, "--config", str(config)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)


def read_topic(settings: LogjetSettings, expect: int, timeout: float = 120,
               count: Callable[[list], int] | None = None) -> list:
    """Decode the test topic from the start until ``expect`` distinct identities (or ``count(entries)``) are in.

    Returns (source, entry) pairs.
    """
    from confluent_kafka import Consumer

    from logjet.wire import decode_record

    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([settings.kafka.topic])
    out: list = []
    ids: set = set()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and (count(out) if count else len(ids)) < expect:
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is None:
                    batch = decode_record(msg.value(), msg.headers(), topic=msg.topic(), partition=msg.partition(),
                                          offset=msg.offset(), timestamp_ms=msg.timestamp()[1])
                    out += [(batch.source, e) for e in batch.entries]
                    ids.update((batch.source.id, e.seq) for e in batch.entries)
    finally:
        consumer.close()
    return out


def proc_status(pid: int, field: str) -> int:
    """A /proc/<pid>/status value in kB (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def api_key(**scope: Any) -> tuple[str, dict[str, Any]]:
    """A new API token and its configuration entry (name, SHA-256, scope)."""
    from api.auth import new_key

    token, digest = new_key()
    return token, {"name": f"key-{digest[:6]}", "sha256": digest, **scope}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def es_count(settings: LogjetSettings) -> int:
    url = f"{settings.elasticsearch.url}/{settings.elasticsearch.index_pattern}/_count"
    res = httpx.get(url, params={"ignore_unavailable": "true", "allow_no_indices": "true"})
    if res.status_code == 503:  # a data stream just created: its shard is not started yet
        return 0
    res.raise_for_status()
    return int(res.json()["count"])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")

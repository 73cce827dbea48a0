"""The file collector against the real Kafka: SIGKILL at any moment loses nothing, and re-sent entries keep
their identities."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from confluent_kafka import Consumer

from logjet.wire import decode_record
from tests.integration.conftest import logjet

N = 40_000


def _read_topic(settings, expect: int, timeout: float = 120) -> list[tuple[str, int, str]]:  # noqa: ANN001
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": "reader-" + settings.kafka.topic,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([settings.kafka.topic])
    out: list[tuple[str, int, str]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and len({(s, q) for s, q, _ in out}) < expect:
            for msg in consumer.consume(1000, 1.0):
                if msg.error() is None:
                    batch = decode_record(msg.value(), msg.headers(), topic=msg.topic(), partition=msg.partition(),
                                          offset=msg.offset(), timestamp_ms=msg.timestamp()[1])
                    out += [(batch.source.id, e.seq, e.message) for e in batch.entries]
    finally:
        consumer.close()
    return out


def test_sigkill_loses_nothing_and_resent_entries_keep_their_identity(make_settings, tmp_path: Path) -> None:
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json"),
                                        "batch_max_entries": 500})
    log_file = tmp_path / "app.log"
    lines = [f"entry {i:06d} " + "x" * (i % 50) for i in range(N)]
    log_file.write_text("")
    written = 0
    kills = 0
    while kills < 5:
        proc = logjet("collect", "files", str(log_file), settings=settings, log_path=str(tmp_path / "c.out"))
        # Lines keep arriving while the collector runs and while it is dead.
        for _ in range(4):
            chunk = lines[written : written + N // 25]
            with log_file.open("a") as fh:
                fh.write("".join(line + "\n" for line in chunk))
            written += len(chunk)
            time.sleep(0.15)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        kills += 1
    with log_file.open("a") as fh:
        fh.write("".join(line + "\n" for line in lines[written:]))
    proc = logjet("collect", "files", str(log_file), settings=settings, log_path=str(tmp_path / "c.out"))
    try:
        got = _read_topic(settings, N)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    identities = {(src, seq) for src, seq, _ in got}
    assert len({src for src, _ in identities}) == 1
    assert len(identities) == N, f"{N - len(identities)} lines missing"
    # The same identity always carries the same line: a re-send is a true duplicate.
    by_id: dict[tuple[str, int], str] = {}
    for src, seq, message in got:
        assert by_id.setdefault((src, seq), message) == message
    assert sorted(by_id.values()) == sorted(lines)
    offsets = sorted(seq for _, seq in identities)
    assert offsets[0] == 0 and offsets[-1] == sum(len(line) + 1 for line in lines[:-1])

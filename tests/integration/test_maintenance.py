"""`logjet dead-letters prune` against the real Kafka: dead letters older than the cut are deleted, newer kept."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer, TopicPartition

from tests.integration.conftest import logjet_with_config


def test_prune_deletes_only_the_old_dead_letters(make_settings, tmp_path) -> None:  # noqa: ANN001
    settings = make_settings()
    topic = settings.kafka.dead_letter_topic
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    now_ms = int(time.time() * 1000)
    for i in range(5):  # written, as far as their timestamps say, 20 days ago
        producer.produce(topic, f"old {i}".encode(), key=b"k", timestamp=now_ms - 20 * 86_400_000 + i)
    for i in range(3):
        producer.produce(topic, f"new {i}".encode(), key=b"k")
    assert producer.flush(30) == 0
    proc = logjet_with_config("dead-letters", "prune", "--older-than", "14d", settings=settings, directory=tmp_path)
    assert proc.wait(60) == 0, (tmp_path / "logjet.out").read_text()
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": "prune-check",
                         "auto.offset.reset": "earliest"})
    try:
        md = consumer.list_topics(topic, timeout=10).topics[topic]
        remaining = []
        consumer.assign([TopicPartition(topic, p, 0) for p in md.partitions])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(remaining) < 3:
            remaining += [m.value().decode() for m in consumer.consume(10, 1.0) if m.error() is None]
    finally:
        consumer.close()
    assert sorted(remaining) == ["new 0", "new 1", "new 2"]

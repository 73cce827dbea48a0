"""Maintenance of logjet's topics: deleting dead letters older than a given age (Kafka's DeleteRecords)."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaException, TopicPartition

from logjet.config import KafkaSettings
from logjet.errors import KafkaUnavailable
from shippers.kafka.client import consumer_config, make_admin

__all__ = ["prune_older_than"]


def prune_older_than(settings: KafkaSettings, topic: str, age_s: float, timeout: float = 30.0) -> dict[int, int]:
    """Delete the records of ``topic`` written more than ``age_s`` ago; returns partition -> new low watermark."""
    cutoff_ms = int((time.time() - age_s) * 1000)
    consumer = Consumer(consumer_config(settings, f"logjet-maintenance-{uuid.uuid4().hex[:8]}"))
    try:
        md = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if md is None or md.error is not None:
            raise KafkaUnavailable(f"topic {topic} not found: {md.error if md else 'no metadata'}")
        wanted = [TopicPartition(topic, p, cutoff_ms) for p in sorted(md.partitions)]
        found = consumer.offsets_for_times(wanted, timeout=timeout)
        targets = []
        for tp in found:
            if tp.offset < 0:  # nothing at or after the cutoff: everything in the partition is older
                _, high = consumer.get_watermark_offsets(tp, timeout=timeout)
                tp = TopicPartition(topic, tp.partition, high)
            targets.append(tp)
    except KafkaException as exc:
        raise KafkaUnavailable(f"reading offsets of {topic}: {exc}") from exc
    finally:
        consumer.close()
    result: dict[int, int] = {}
    admin = make_admin(settings)
    for tp, future in admin.delete_records([t for t in targets if t.offset > 0]).items():
        try:
            done = future.result(timeout)
        except KafkaException as exc:
            raise KafkaUnavailable(f"deleting records of {topic}[{tp.partition}]: {exc}") from exc
        result[tp.partition] = done.low_watermark
    return result

"""GET /v1/stats: counts over time, top services and containers, error ratio (all within the caller's scope), and
for operators' keys the pipeline's own state: consumer lag per partition and the dead-letter topic's size."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from logjet.config import LogjetSettings
from shippers.kafka import consumer_config

__all__ = ["ERROR_LEVELS", "kafka_stats", "stats_query"]

ERROR_LEVELS = ["error", "critical", "fatal", "alert", "emergency"]


_BY = {"service": "service.name", "dataset": "data_stream.dataset"}


def stats_query(time_from: str, time_to: str, interval: str, scope: dict[str, Any] | None,
                top: int, by: str | None = None) -> dict[str, Any]:
    flt: list[dict[str, Any]] = [{"range": {"@timestamp": {"gte": time_from, "lte": time_to}}}]
    if scope is not None:
        flt.append(scope)
    over_time: dict[str, Any] = {
        "date_histogram": {"field": "@timestamp", "fixed_interval": interval, "min_doc_count": 0,
                           # The whole range, empty buckets included: a gap is information.
                           "extended_bounds": {"min": time_from, "max": time_to}}}
    if by is not None:
        over_time["aggs"] = {"by": {"terms": {"field": _BY[by], "size": top}}}
    return {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"filter": flt}},
        "aggs": {
            "over_time": over_time,
            "services": {"terms": {"field": "service.name", "size": top}},
            "containers": {"terms": {"field": "container.name", "size": top}},
            "datasets": {"terms": {"field": "data_stream.dataset", "size": top}},
            "errors": {"filter": {"terms": {"log.level": ERROR_LEVELS}}},
        },
    }


def _partitions(consumer: Consumer, topic: str) -> list[TopicPartition]:
    md = consumer.list_topics(topic, timeout=5).topics.get(topic)
    if md is None or md.error is not None:
        return []
    return [TopicPartition(topic, p) for p in sorted(md.partitions)]


def kafka_stats(settings: LogjetSettings) -> dict[str, Any]:
    """Consumer lag of the processor group per partition, and how many dead letters the topic holds."""
    consumer = Consumer(consumer_config(settings.kafka, settings.processor.group_id))
    try:
        lag = []
        parts = _partitions(consumer, settings.kafka.topic)
        if parts:
            for tp in consumer.committed(parts, timeout=5):
                low, high = consumer.get_watermark_offsets(tp, timeout=5)
                committed = tp.offset if tp.offset >= 0 else low
                lag.append({"partition": tp.partition, "lag": max(0, high - committed)})
        dead = 0
        for tp in _partitions(consumer, settings.kafka.dead_letter_topic):
            low, high = consumer.get_watermark_offsets(tp, timeout=5)
            dead += high - low
        return {"consumer_lag": lag, "dead_letters": dead}
    except KafkaException as exc:
        return {"error": f"Kafka did not answer: {exc.args[0].str() if exc.args else exc}"}
    finally:
        consumer.close()

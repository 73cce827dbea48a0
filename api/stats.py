"""GET /v1/stats: counts over time, top services and containers, error ratio (all within the caller's scope), and
for operators' keys the pipeline's own state: consumer lag per partition and the dead-letter topic's size."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from logjet.config import LogjetSettings
from shippers.kafka import consumer_config

__all__ = ["ERROR_LEVELS", "StatsRangeError", "bucket_count", "kafka_stats", "stats_query"]

ERROR_LEVELS = ["error", "critical", "fatal", "alert", "emergency"]

# Seconds per unit of Elasticsearch date math; months and years at their longest, so a span is never undercounted.
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "H": 3600, "d": 86400, "w": 7 * 86400, "M": 31 * 86400, "y": 366 * 86400}
_MATH = re.compile(r"([+-])(\d{1,9})([smhHdwMy])|/([smhHdwMy])")
_INTERVAL = re.compile(r"^(\d{1,12})([smhd])$")
_NICE_S = [1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400]


class StatsRangeError(ValueError):
    """A time range or interval /v1/stats refuses, with what to ask instead."""


def _epoch_s(text: str, now: float) -> float:
    """Seconds since the epoch of an ISO 8601 time or of ``now`` with date math (``now-15m``, ``now-1d/d``)."""
    anchor, sep, math_part = text.partition("||")
    if not sep:
        anchor, math_part = ("now", text[3:]) if text.startswith("now") else (text, "")
    if anchor == "now":
        at = now
    elif anchor.isdigit():
        at = int(anchor) / 1000  # epoch milliseconds, as the date field also takes them
    else:
        try:
            parsed = datetime.fromisoformat(anchor)
        except ValueError:
            raise StatsRangeError(f"{text!r} is neither ISO 8601 nor now with date math (now-15m)") from None
        at = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    pos = 0
    for m in _MATH.finditer(math_part):
        if m.start() != pos:
            break
        pos = m.end()
        if m.group(1):  # rounding (/d) moves a bound by less than one unit: it cannot change the bucket count much
            at += (1 if m.group(1) == "+" else -1) * int(m.group(2)) * _UNIT_S[m.group(3)]
    if pos != len(math_part):
        raise StatsRangeError(f"{text!r}: date math is +<n><unit>, -<n><unit> or /<unit>, units y M w d h m s")
    return at


def bucket_count(time_from: str, time_to: str, interval: str, now: float | None = None) -> int:
    """How many buckets the histogram of [from, to] at ``interval`` has (empty ones included)."""
    m = _INTERVAL.match(interval)
    if m is None or int(m.group(1)) == 0:
        raise StatsRangeError(f"interval {interval!r} is <n><unit> with n > 0 and unit s, m, h or d")
    step = int(m.group(1)) * _UNIT_S[m.group(2)]
    now = time.time() if now is None else now
    span = _epoch_s(time_to, now) - _epoch_s(time_from, now)
    if span < 0:
        raise StatsRangeError("from is after to")
    return math.floor(span / step) + 1


def _smallest_interval(span_s: float, cells_per_bucket: int, max_buckets: int) -> str:
    for step in _NICE_S:
        if (math.floor(span_s / step) + 1) * cells_per_bucket <= max_buckets:
            break
    else:
        step = math.ceil(span_s * cells_per_bucket / max(1, max_buckets - cells_per_bucket) / 86400) * 86400
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if step % size == 0:
            return f"{step // size}{unit}"
    return f"{step}s"


def check_buckets(time_from: str, time_to: str, interval: str, top: int, by: str | None, max_buckets: int,
                  now: float | None = None) -> None:
    """Refuse a histogram larger than ``max_buckets`` counts (each bucket holds ``top`` more when split ``by``)."""
    now = time.time() if now is None else now
    buckets = bucket_count(time_from, time_to, interval, now)
    cells = 1 + (top if by else 0)
    if buckets * cells > max_buckets:
        span = _epoch_s(time_to, now) - _epoch_s(time_from, now)
        raise StatsRangeError(
            f"an interval of {interval} over this range makes {buckets} buckets"
            f"{f' of {cells} counts' if by else ''}, more than the {max_buckets} counts allowed: use an interval of "
            f"at least {_smallest_interval(span, cells, max_buckets)}, or a shorter range")


_BY = {"service": "service.name", "dataset": "data_stream.dataset"}


def stats_query(time_from: str, time_to: str, interval: str, scope: dict[str, Any] | None,
                top: int, by: str | None = None, max_buckets: int = 2000) -> dict[str, Any]:
    """The aggregation search; StatsRangeError if the histogram would exceed ``max_buckets`` counts."""
    check_buckets(time_from, time_to, interval, top, by, max_buckets)
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

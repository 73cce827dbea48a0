"""Build confluent-kafka clients from logjet settings; the only place that knows librdkafka's option names.

Operator options (``kafka.options``) are laid over logjet's defaults untouched, so any librdkafka setting works;
librdkafka rejects invalid ones at construction, which is translated into ``ConfigError``.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from logjet.config import HIDDEN, KafkaSettings, is_secret_key, redact_url
from logjet.errors import ConfigError
from logjet.logs import kafka_logger

__all__ = ["consumer_config", "make_admin", "make_consumer", "make_producer", "producer_config"]


def producer_config(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap,
        # Acknowledged once every in-sync replica holds the record (min.insync.replicas of the topic); idempotence
        # makes librdkafka retry without end and without reordering or duplicating what a dying leader took.
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": "zstd",
        "linger.ms": 20,
        "batch.size": 1_000_000,
        # Infinite: the collector holds its checkpoint until Kafka acknowledges, so waiting out an outage loses
        # nothing, while a delivery timeout would force it to re-read and re-send.
        "message.timeout.ms": 0,
        "queue.buffering.max.kbytes": 65536,
        "log_level": 3,
        # librdkafka's lines through Python logging (served by poll()), rate-limited, instead of raw on stderr.
        "logger": kafka_logger(),
    }
    conf.update(overrides)
    conf.update(settings.options)
    return conf


def consumer_config(settings: KafkaSettings, group_id: str, **overrides: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap,
        "group.id": group_id,
        # Offsets are committed by hand, only after Elasticsearch accepted (or the dead-letter topic took)
        # every entry of a batch.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "fetch.max.bytes": 52_428_800,
        "max.partition.fetch.bytes": 10_485_760,
        "partition.assignment.strategy": "cooperative-sticky",
        # librdkafka's default, stated: never read what a transactional producer aborted.
        "isolation.level": "read_committed",
        "log_level": 3,
        "logger": kafka_logger(),
    }
    conf.update(overrides)
    conf.update(settings.options)
    return conf


def _build(cls: type, conf: dict[str, Any]) -> Any:
    try:
        return cls(conf)
    except (KafkaException, ValueError, TypeError) as exc:
        # librdkafka quotes the refused value ('Invalid value "..." for configuration property ...'), which may be a
        # password: every secret option's value is cut out of the message, and the original is not chained.
        message = str(exc)
        for key, value in conf.items():
            if is_secret_key(key) and str(value):
                message = message.replace(str(value), HIDDEN)
        raise ConfigError(f"invalid Kafka client configuration (kafka.options or defaults): {redact_url(message)}"
                          ) from None


def make_producer(settings: KafkaSettings, **overrides: Any) -> Producer:
    return _build(Producer, producer_config(settings, **overrides))


def make_consumer(settings: KafkaSettings, group_id: str, **overrides: Any) -> Consumer:
    return _build(Consumer, consumer_config(settings, group_id, **overrides))


def make_admin(settings: KafkaSettings) -> AdminClient:
    # An admin client serves its log lines only when polled: those of a call that fails are in its exception.
    conf: dict[str, Any] = {"bootstrap.servers": settings.bootstrap, "log_level": 3, "logger": kafka_logger()}
    conf.update({k: v for k, v in settings.options.items() if k.startswith(("security.", "sasl.", "ssl."))})
    return _build(AdminClient, conf)

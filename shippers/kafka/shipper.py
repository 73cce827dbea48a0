"""Produce wire-format records and tell the caller, in order, which ones Kafka acknowledged.

Back-pressure: when librdkafka's local queue is full, ``send`` blocks polling for delivery reports instead of
buffering more; callers upstream therefore stop reading their inputs (the file is the buffer).

An outage (transport failures on the error callback) and Kafka's return (the next acknowledgement) are told apart by
``KafkaReachability``, which logs the return once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from logjet.config import KafkaSettings
from logjet.errors import FatalError
from logjet.logs import kafka_logger
from logjet.wire import Batch, encode_batch
from shippers.kafka.client import make_producer
from shippers.kafka.reachability import KafkaReachability

__all__ = ["KafkaShipper"]

Acked = Callable[[Batch | None], None]


class KafkaShipper:
    def __init__(self, settings: KafkaSettings, topic: str | None = None, producer: Producer | None = None) -> None:
        self.topic = topic or settings.topic
        self.reachability = KafkaReachability(kafka_logger())
        self.producer = producer or make_producer(settings, error_cb=self._on_error)
        self.in_flight = 0
        self._raw_in_flight = 0
        self.acked_records = 0
        # Records sent with produce_raw that Kafka refused for good: the caller must not move past them.
        self.raw_failures: list[str] = []
        self._fatal: KafkaError | None = None

    def _on_error(self, err: KafkaError) -> None:
        # Transient errors (broker down, timeouts) are retried by librdkafka on its own; a fatal one (e.g. the
        # idempotent producer lost its sequence) cannot be, and must stop the component.
        self.reachability.failed(err)
        if err.fatal():
            self._fatal = err

    def _check(self) -> None:
        if self._fatal is not None:
            raise FatalError(f"Kafka producer failed fatally: {self._fatal.str()}")

    def send(self, batch: Batch | None, on_acked: Acked,
             encoded: tuple[bytes, bytes, list[tuple[str, bytes]]] | None = None) -> None:
        """Produce ``batch``'s record (``encoded`` if given: then ``batch`` may be None, the record made elsewhere);
        ``on_acked(batch)`` runs once Kafka acknowledged it."""
        if encoded is None:
            if batch is None:
                raise ValueError("send needs the batch or its encoded record")
            encoded = encode_batch(batch)
        key, value, headers = encoded

        def delivered(err: KafkaError | None, msg: Message) -> None:
            self.in_flight -= 1
            if err is not None:
                # message.timeout.ms is infinite, so only a permanent error lands here: nothing to retry.
                self._fatal = err
                return
            self.reachability.acknowledged(self.in_flight + self._raw_in_flight + 1)
            if self._fatal is not None:
                # An earlier record failed: acknowledging a later one would move a checkpoint past the loss.
                return
            self.acked_records += 1
            on_acked(batch)

        while True:
            self._check()
            try:
                self.producer.produce(self.topic, value=value, key=key, headers=headers, on_delivery=delivered)
                break
            except BufferError:
                self.producer.poll(0.1)
        self.in_flight += 1
        self.producer.poll(0)

    def produce_raw(self, value: bytes, key: bytes | None = None, headers: list[tuple[str, Any]] | None = None,
                    topic: str | None = None) -> None:
        """Produce one record; a permanent delivery failure lands in ``raw_failures``."""

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            self._raw_in_flight -= 1
            if err is not None:
                self.raw_failures.append(err.str())
                return
            self.reachability.acknowledged(self.in_flight + self._raw_in_flight + 1)

        while True:
            self._check()
            try:
                self.producer.produce(topic or self.topic, value=value, key=key, headers=headers,
                                      on_delivery=delivered)
                break
            except BufferError:
                self.producer.poll(0.1)
        self._raw_in_flight += 1

    def poll(self, timeout: float = 0.0) -> None:
        self.producer.poll(timeout)
        self._check()

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for every record to be acknowledged; return whether all were."""
        remaining = self.producer.flush(timeout)
        self._check()
        return remaining == 0

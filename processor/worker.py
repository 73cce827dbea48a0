"""One processor worker: consume a batch, decode, parse, map to ECS, bulk-index, dead-letter, then commit.

Offsets are committed only after every entry of the batch was settled by Elasticsearch (indexed, or refused as
a duplicate of an earlier delivery) or accepted by the dead-letter topic. A crash anywhere before the commit
replays the batch; the stable document ids turn the replay into suppressed duplicates.

One batch is in flight at a time: its bulk requests run on a thread while the main thread consumes and parses the
next batch, so parsing and indexing overlap instead of waiting for each other. Batches are committed in the order
they were consumed, each once its own documents are settled; a revocation waits for the batch in flight and
commits it before the partitions leave.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from logjet.config import LogjetSettings
from logjet.errors import FatalError
from logjet.timeparse import format_ns
from processor import metrics
from processor.transform import Transform, Transformed
from shippers.elasticsearch import (
    BulkResult,
    ElasticsearchShipper,
    EncodedDoc,
    encode_bulk,
    install_template,
    make_client,
)
from shippers.kafka import KafkaShipper, make_consumer

__all__ = ["ProcessorStats", "Worker"]

# How often the consumer lag of the assigned partitions is measured (two requests per partition).
LAG_EVERY_S = 10.0
_LOST_PARTITIONS = frozenset((KafkaError.UNKNOWN_MEMBER_ID, KafkaError.ILLEGAL_GENERATION,
                              KafkaError.REBALANCE_IN_PROGRESS, KafkaError._ASSIGNMENT_LOST))

# Characters (or bytes) of the original entry a dead letter carries at most.
DEAD_LETTER_ORIGINAL_MAX = 256 * 1024

log = logging.getLogger("logjet.processor")


@dataclass
class ProcessorStats:
    records: int = 0
    entries: int = 0
    indexed: int = 0
    duplicates: int = 0
    retried: int = 0
    dead_lettered: int = 0
    batches: int = 0


@dataclass
class _InFlight:
    """A consumed batch whose documents are being indexed (``bulk`` is None when there is nothing to wait for)."""

    msgs: list[Message]
    out: Transformed
    bulk: Future[BulkResult] | None


class Worker:
    def __init__(self, settings: LogjetSettings, consumer: Consumer | None = None) -> None:
        self.settings = settings
        self.ps = settings.processor
        self.es_settings = settings.elasticsearch
        self.transform = Transform(self.ps, self.es_settings)  # imports user parsers: fails before any I/O
        self.consumer = consumer or make_consumer(settings.kafka, self.ps.group_id)
        self.dead_letters = KafkaShipper(settings.kafka, topic=settings.kafka.dead_letter_topic)
        self.shipper: ElasticsearchShipper | None = None
        if self.ps.sink == "elasticsearch":
            client = make_client(self.es_settings)
            install_template(client, self.es_settings)
            self.shipper = ElasticsearchShipper(client, self.es_settings, self.ps.retry_max_s,
                                                self.ps.bulk_max_bytes, on_retry=metrics.RETRIED.inc,
                                                concurrency=self.ps.bulk_concurrency,
                                                bulk_max_docs=self.ps.bulk_max_docs)
        self.stats = ProcessorStats()
        self._lag_at = 0.0
        # One batch's bulk requests run on this thread while the main thread parses the next batch.
        self._bulk = ThreadPoolExecutor(1, thread_name_prefix="logjet-bulk") if self.shipper is not None else None
        self._in_flight: _InFlight | None = None
        # Set by run(); a SIGTERM during an Elasticsearch outage then ends the retries after the shutdown deadline.
        self._stop: threading.Event | None = None

    def _dead_letter(self, msg: Message, kind: str, reason: str, original: str | bytes | None,
                     extra: dict[str, Any]) -> None:
        if original is not None and len(original) > DEAD_LETTER_ORIGINAL_MAX:
            # The dead letter must itself fit a Kafka record; its head says enough to find and replay the rest.
            original = original[:DEAD_LETTER_ORIGINAL_MAX]
            extra = {**extra, "original_truncated": True}
        record = {
            "reason": reason,
            "kind": kind,
            "topic": msg.topic(),
            "partition": msg.partition(),
            "offset": msg.offset(),
            "failed_at": format_ns(time.time_ns()),
            **extra,
        }
        if isinstance(original, bytes):
            record["original_b64"] = base64.b64encode(original).decode()
        else:
            record["original"] = original
        self.dead_letters.produce_raw(orjson.dumps(record), key=msg.key(), headers=[("logjet-reason", reason[:200])])
        self.stats.dead_lettered += 1
        metrics.DEAD_LETTERED.labels(kind).inc()

    def process(self, msgs: list[Message]) -> None:
        """Settle one consumed batch; does not commit."""
        self._finish(self._start(msgs))

    def _start(self, msgs: list[Message]) -> _InFlight:
        """Transform a batch and hand its documents to the bulk thread; dead-letters what cannot be a document."""
        self.stats.records += len(msgs)
        out = self.transform(msgs)
        for d in out.dead:
            self._dead_letter(d.record, d.kind, d.reason, d.original, d.extra)
        docs = out.docs
        self.stats.entries += len(docs)
        metrics.RECORDS_IN.inc(len(msgs))
        metrics.ENTRIES_IN.inc(len(docs))
        if self.shipper is None:
            encode_bulk(docs)  # the discard sink still pays for the encoding, as production does
            return _InFlight(msgs, out, None)
        if not docs:
            return _InFlight(msgs, out, None)
        assert self._bulk is not None
        return _InFlight(msgs, out, self._bulk.submit(self._send, docs))

    def _send(self, docs: list[EncodedDoc]) -> BulkResult:
        assert self.shipper is not None
        started = time.monotonic()
        result = self.shipper.send(self.es_settings.data_stream, docs, stop=self._stop,
                                   grace_s=self.ps.shutdown_deadline_s)
        metrics.BULK_SECONDS.observe(time.monotonic() - started)
        return result

    def _finish(self, batch: _InFlight) -> None:
        """Wait for the batch's bulk requests, dead-letter what Elasticsearch refused, and make the dead-letter topic
        acknowledge; after this the batch may be committed."""
        docs = batch.out.docs
        if batch.bulk is None:
            if self.shipper is None:
                self.stats.indexed += len(docs)
                metrics.INDEXED.inc(len(docs))
        else:
            result = batch.bulk.result()  # re-raises what the bulk thread raised
            self.stats.indexed += result.indexed
            self.stats.duplicates += result.duplicates
            self.stats.retried += result.retried
            metrics.INDEXED.inc(result.indexed)
            metrics.DUPLICATES.inc(result.duplicates)
            metrics.REJECTED.inc(len(result.rejected))
            for pos, reason in result.rejected:
                msg, message, source_id, seq = batch.out.origins[pos]
                self._dead_letter(msg, "rejected", reason, message, {"source_id": source_id, "seq": seq})
        if not self.dead_letters.flush(60):
            raise FatalError("the dead-letter topic did not acknowledge in 60s; not committing")
        if self.dead_letters.raw_failures:
            raise FatalError(f"the dead-letter topic refused records ({self.dead_letters.raw_failures[0]}); "
                             "not committing")
        self.stats.batches += 1

    def _settle_in_flight(self) -> None:
        """Finish and commit the batch whose bulk requests are in flight, if any."""
        batch, self._in_flight = self._in_flight, None
        if batch is not None:
            self._finish(batch)
            self._commit(batch.msgs)

    def _on_revoke(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        # Partitions leave only once the batch read from them is settled and committed: the new owner starts where
        # this worker's work ended, instead of replaying it.
        self._settle_in_flight()

    def _commit(self, msgs: list[Message]) -> None:
        last: dict[tuple[str, int], int] = {}
        for msg in msgs:
            key = (msg.topic(), msg.partition())
            last[key] = max(last.get(key, -1), msg.offset())
        try:
            self.consumer.commit(offsets=[TopicPartition(t, p, o + 1) for (t, p), o in last.items()],
                                 asynchronous=False)
        except KafkaException as exc:
            err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if err is not None and err.code() in _LOST_PARTITIONS:
                # The group moved on while this batch was being indexed (a long Elasticsearch outage outlasts
                # max.poll.interval.ms): the partitions' new owner replays the batch, and the document ids turn
                # what was already indexed into suppressed duplicates.
                log.warning("commit refused after a rebalance (%s); the new owner replays the batch", err.str())
                return
            raise

    def _report_lag(self) -> None:
        self._lag_at = time.monotonic()
        try:
            assigned = self.consumer.assignment()
            if not assigned:
                return
            for tp in self.consumer.committed(assigned, timeout=5):
                _, high = self.consumer.get_watermark_offsets(tp, timeout=5)
                lag = high - tp.offset if tp.offset >= 0 else high
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, lag))
        except KafkaException as exc:  # a metric is not worth stopping for; the next round tries again
            log.debug("consumer lag not measured: %s", exc)

    def _consume_batch(self) -> list[Message]:
        """Records until the batch holds batch_max_records or batch_max_bytes, or batch_max_wait_s went by."""
        ps = self.ps
        msgs: list[Message] = []
        size = 0
        deadline = time.monotonic() + ps.batch_max_wait_s
        while len(msgs) < ps.batch_max_records and size < ps.batch_max_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0 and msgs:
                break
            got = self.consumer.consume(num_messages=min(50, ps.batch_max_records - len(msgs)),
                                        timeout=max(remaining, 0))
            if not got:
                break
            msgs += got
            size += sum(len(m.value() or b"") for m in got)
        return msgs

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        topic = self.settings.kafka.topic
        self.consumer.subscribe([topic], on_revoke=self._on_revoke)
        log.info("processing topic %s into %s (sink: %s)", topic, self.es_settings.data_stream, self.ps.sink)
        try:
            while not stop.is_set():
                msgs = self._consume_batch()
                good = []
                for msg in msgs:
                    err = msg.error()
                    if err is None:
                        good.append(msg)
                    elif err.fatal():
                        raise FatalError(f"Kafka consumer failed fatally: {err.str()}")
                    elif err.code() != KafkaError._PARTITION_EOF:
                        log.warning("consumer: %s", err.str())
                if time.monotonic() - self._lag_at >= LAG_EVERY_S:
                    self._report_lag()
                if not good:
                    self._settle_in_flight()  # a quiet topic: nothing to overlap with
                    continue
                # While Elasticsearch indexes one batch, the next is parsed: the worker's core and the cluster
                # work at the same time. Batches are still committed in order, each after its own acknowledgement.
                started = self._start(good)
                self._settle_in_flight()
                self._in_flight = started
            self._settle_in_flight()
        finally:
            self._leave()
            self.dead_letters.flush(10)
            if self._bulk is not None:
                self._bulk.shutdown(wait=False, cancel_futures=True)

    def _leave(self) -> None:
        """Leave the group: unsubscribe, let the revocation finish, then close.

        Closing in the middle of a cooperative rebalance can hang inside librdkafka (confluentinc/librdkafka#4527);
        unsubscribing first and serving the revocation avoids it.
        """
        try:
            self.consumer.unsubscribe()
            deadline = time.monotonic() + 10
            while self.consumer.assignment() and time.monotonic() < deadline:
                self.consumer.poll(0.1)
        except KafkaException as exc:
            log.warning("leaving the consumer group: %s", exc)
        self.consumer.close()

"""One processor worker: consume a batch, decode, parse, map to ECS, bulk-index, dead-letter, then commit.

Offsets are committed only after every entry of the batch was settled by Elasticsearch (indexed, or refused as
a duplicate of an earlier delivery) or accepted by the dead-letter topic. A crash anywhere before the commit
replays the batch; the stable document ids turn the replay into suppressed duplicates.

One batch is in flight at a time: its bulk requests run on a thread while the main thread consumes and parses the
next batch, so parsing and indexing overlap instead of waiting for each other. Batches are committed in the order
they were consumed, each once its own documents are settled; a revocation waits for the batch in flight and
commits it before the partitions leave.

A 409 on ``create`` says the id was indexed before. Each document carries ``event.hash``, a hash of the entry's text;
for the refused ids (a bounded sample per batch) the stored hash is read back and compared: the same text is a
replay (a suppressed duplicate), another text is an identity collision, a bug: counted, logged as an error and
dead-lettered, never silently dropped.

The consumer lag is read from librdkafka's statistics (``statistics.interval.ms``), not from extra broker requests,
and reported for exactly the partitions this worker owns: a partition given away is dropped from the report.

Third-party records are identified by topic, topic id, partition and offset; the topic ids are read with the admin
client when a partition is first seen (after each assignment) and again whenever its offsets go backwards, as they
do when the topic is deleted and created again under the same name. Every ``topic_check_s`` the ids are compared with
the broker's: a topic re-created under the worker gets a new consumer.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicCollection, TopicPartition

from logjet.config import LogjetSettings
from logjet.errors import ElasticsearchUnavailable, FatalError, KafkaUnavailable
from logjet.timeparse import format_ns
from processor import metrics
from processor.transform import Transform, Transformed
from shippers.elasticsearch import BulkResult, ElasticsearchShipper, EncodedDoc, install_template, make_client
from shippers.elasticsearch.encoder import BulkDocs, bulk_chunks
from shippers.elasticsearch.retry import backoff
from shippers.kafka import KafkaShipper, make_consumer
from shippers.kafka.client import make_admin

__all__ = ["ProcessorStats", "Worker"]

_LOST_PARTITIONS = frozenset((KafkaError.UNKNOWN_MEMBER_ID, KafkaError.ILLEGAL_GENERATION,
                              KafkaError.REBALANCE_IN_PROGRESS, KafkaError._ASSIGNMENT_LOST))

# Characters (or bytes) of the original entry a dead letter carries at most.
DEAD_LETTER_ORIGINAL_MAX = 256 * 1024
# A topic without an id (a broker older than Kafka 2.8) is described with the all-zero UUID.
_NO_TOPIC_ID = "AAAAAAAAAAAAAAAAAAAAAA"
_URLSAFE = str.maketrans("+/", "-_")

log = logging.getLogger("logjet.processor")


@dataclass
class ProcessorStats:
    records: int = 0
    entries: int = 0
    indexed: int = 0
    duplicates: int = 0
    collisions: int = 0
    retried: int = 0
    dead_lettered: int = 0
    batches: int = 0


@dataclass
class _InFlight:
    """A consumed batch whose documents are being indexed (``bulk`` is None when there is nothing to wait for)."""

    msgs: list[Message]
    out: Transformed
    bulk: Future[tuple[BulkResult, list[int]]] | None  # the result and the positions of identity collisions


def _count_retries(n: int, cause: str) -> None:
    metrics.RETRIED.labels(cause).inc(n)


def _count_node_failure(node: str) -> None:
    metrics.ES_NODE_FAILURES.labels(node).inc()


class Worker:
    def __init__(self, settings: LogjetSettings, consumer: Consumer | None = None) -> None:
        self.settings = settings
        self.ps = settings.processor
        self.es_settings = settings.elasticsearch
        self.transform = Transform(self.ps, self.es_settings)  # imports user parsers: fails before any I/O
        self.consumer = consumer or self._make_consumer()
        self._owned: set[tuple[str, int]] = set()  # partitions assigned to this worker
        self._lag: dict[tuple[str, int], int] = {}
        # Third-party record identity: the topic id of each partition seen, and the last offset consumed from it.
        self._admin = make_admin(settings.kafka)
        self._topic_ids: dict[tuple[str, int], str] = {}
        self._last_offset: dict[tuple[str, int], int] = {}
        self._topics_checked_at = time.monotonic()
        self.transform.topic_ids = self._topic_ids
        self.dead_letters = KafkaShipper(settings.kafka, topic=settings.kafka.dead_letter_topic)
        self.shipper: ElasticsearchShipper | None = None
        if self.ps.sink == "elasticsearch":
            client = make_client(self.es_settings, on_node_failure=_count_node_failure)
            install_template(client, self.es_settings)
            self.shipper = ElasticsearchShipper(client, self.es_settings, self.ps.retry_max_s,
                                                self.ps.bulk_max_bytes, on_retry=_count_retries,
                                                concurrency=self.ps.bulk_concurrency,
                                                bulk_max_docs=self.ps.bulk_max_docs)
        self.stats = ProcessorStats()
        # One batch's bulk requests run on this thread while the main thread parses the next batch.
        self._bulk = ThreadPoolExecutor(1, thread_name_prefix="logjet-bulk") if self.shipper is not None else None
        self._in_flight: _InFlight | None = None
        # Set by run(); a SIGTERM during an Elasticsearch outage then ends the retries after the shutdown deadline.
        self._stop: threading.Event | None = None

    def _make_consumer(self) -> Consumer:
        return make_consumer(self.settings.kafka, self.ps.group_id, stats_cb=self._on_stats,
                             **{"statistics.interval.ms": int(self.ps.lag_interval_s * 1000)})

    def _subscribe(self) -> None:
        self.consumer.subscribe([self.settings.kafka.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

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
            # The discard sink still pays for the bodies of the requests the shipper would send, as production does.
            for _ in bulk_chunks(BulkDocs.of(docs), self.ps.bulk_max_bytes, self.ps.bulk_max_docs,
                                 self.ps.bulk_concurrency):
                pass
            return _InFlight(msgs, out, None)
        if not docs:
            return _InFlight(msgs, out, None)
        assert self._bulk is not None
        return _InFlight(msgs, out, self._bulk.submit(self._send, docs, out.hashes))

    def _send(self, docs: BulkDocs | Sequence[EncodedDoc], hashes: Sequence[str]) -> tuple[BulkResult, list[int]]:
        assert self.shipper is not None
        started = time.monotonic()
        result = self.shipper.send(self.es_settings.data_stream, docs, stop=self._stop,
                                   grace_s=self.ps.shutdown_deadline_s)
        collisions = self._collisions(result, docs, hashes)
        metrics.BULK_SECONDS.observe(time.monotonic() - started)
        return result, collisions

    def _collisions(self, result: BulkResult, docs: BulkDocs | Sequence[EncodedDoc], hashes: Sequence[str]
                    ) -> list[int]:
        """Positions of the documents refused as already indexed whose stored namesake holds another text."""
        assert self.shipper is not None
        refused = result.conflicts
        if not refused or self.ps.collision_check_max == 0:
            return []
        if len(refused) > self.ps.collision_check_max:
            refused = random.sample(refused, self.ps.collision_check_max)
        try:
            stored = self.shipper.stored_field([(index, docs[pos][0]) for pos, index in refused], "event.hash")
        except ElasticsearchUnavailable as exc:
            # A check, not a delivery: the batch is settled either way; these are counted as duplicates.
            log.warning("the content of %d refused ids was not compared: %s", len(refused), exc)
            return []
        # A stored document without event.hash (indexed before it existed) cannot be compared: a duplicate.
        return [pos for pos, _ in refused if stored.get(docs[pos][0], hashes[pos]) != hashes[pos]]

    def _finish(self, batch: _InFlight) -> None:
        """Wait for the batch's bulk requests, dead-letter what Elasticsearch refused, and make the dead-letter topic
        acknowledge; after this the batch may be committed."""
        docs = batch.out.docs
        if batch.bulk is None:
            if self.shipper is None:
                self.stats.indexed += len(docs)
                metrics.INDEXED.inc(len(docs))
        else:
            result, collisions = batch.bulk.result()  # re-raises what the bulk thread raised
            duplicates = result.duplicates - len(collisions)  # a collision was refused as a 409 too
            self.stats.indexed += result.indexed
            self.stats.duplicates += duplicates
            self.stats.collisions += len(collisions)
            self.stats.retried += result.retried
            metrics.INDEXED.inc(result.indexed)
            metrics.DUPLICATES.inc(duplicates)
            metrics.REJECTED.inc(len(result.rejected))
            for pos, reason in result.rejected:
                msg, message, source_id, seq = batch.out.origins[pos]
                self._dead_letter(msg, "rejected", reason, message, {"source_id": source_id, "seq": seq})
            if collisions:
                self._report_collisions(batch, collisions)
        if not self.dead_letters.flush(60):
            raise FatalError("the dead-letter topic did not acknowledge in 60s; not committing")
        if self.dead_letters.raw_failures:
            raise FatalError(f"the dead-letter topic refused records ({self.dead_letters.raw_failures[0]}); "
                             "not committing")
        self.stats.batches += 1

    def _report_collisions(self, batch: _InFlight, collisions: list[int]) -> None:
        metrics.COLLISIONS.inc(len(collisions))
        docs, origins = batch.out.docs, batch.out.origins
        shown = [f"{docs[pos][0]} ({origins[pos][2]} seq {origins[pos][3]})" for pos in collisions[:20]]
        log.error("IDENTITY COLLISION: %d documents were refused as already indexed, but the stored documents with "
                  "their ids hold another text: two different entries share an identity (source id, seq). This is "
                  "a bug in what produced them, not a replay; the refused entries are dead-lettered as 'collision'. "
                  "Ids: %s%s", len(collisions), ", ".join(shown), " ..." if len(collisions) > len(shown) else "")
        for pos in collisions:
            msg, message, source_id, seq = origins[pos]
            self._dead_letter(msg, "collision", f"identity collision: document {docs[pos][0]} is already indexed "
                              "with another text", message, {"source_id": source_id, "seq": seq,
                                                             "document_id": docs[pos][0]})

    def _settle_in_flight(self) -> None:
        """Finish and commit the batch whose bulk requests are in flight, if any."""
        batch, self._in_flight = self._in_flight, None
        if batch is not None:
            self._finish(batch)
            self._commit(batch.msgs)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._owned.add(key)
            # Read the topic's id again before this partition's next record: the topic may be another by now.
            self._topic_ids.pop(key, None)
            self._last_offset.pop(key, None)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Partitions leave only once the batch read from them is settled and committed: the new owner starts where
        # this worker's work ended, instead of replaying it.
        try:
            self._settle_in_flight()
        finally:
            for tp in partitions:
                key = (tp.topic, tp.partition)
                self._owned.discard(key)
                self._lag.pop(key, None)
            metrics.report_lag(self._lag)

    def _on_stats(self, raw: str) -> None:
        """librdkafka's statistics (every lag_interval_s): the lag of each owned partition, from the committed
        offset (or the partition's start, before anything is committed) to its end."""
        try:
            topics = orjson.loads(raw).get("topics", {})
        except orjson.JSONDecodeError:
            return
        lag: dict[tuple[str, int], int] = {}
        for topic, tstats in topics.items():
            for part, pstats in tstats.get("partitions", {}).items():
                key = (topic, int(part))
                if key not in self._owned:
                    continue
                n = pstats.get("consumer_lag", -1)
                if n < 0:
                    high, low = pstats.get("hi_offset", -1), pstats.get("lo_offset", -1)
                    if high < 0:
                        continue  # not fetched from yet: no figure rather than a wrong one
                    n = high - max(low, 0)
                lag[key] = n
        self._lag = lag
        metrics.report_lag(lag)

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

    def _segments(self, msgs: list[Message]) -> list[tuple[list[Message], set[tuple[str, int]]]]:
        """Cut a batch where a partition's offsets go backwards (a seek, a replay after a rebalance, or the topic
        deleted and created again), so that each part is decoded with the topic ids current for it. Returns the parts
        with the partitions whose ids must be read again before each."""
        segments: list[tuple[list[Message], set[tuple[str, int]]]] = []
        start = 0
        stale: set[tuple[str, int]] = set()
        last = self._last_offset
        for i, msg in enumerate(msgs):
            key = (msg.topic(), msg.partition())
            offset = msg.offset()
            previous = last.get(key)
            if previous is not None and offset <= previous:
                if i > start:
                    segments.append((msgs[start:i], stale))
                    start, stale = i, set()
                stale.add(key)
            last[key] = offset
        segments.append((msgs[start:], stale))
        return segments

    def _describe(self, topics: list[str]) -> dict[str, str]:
        """Topic name -> id ("" for a broker without topic ids); raises KafkaException."""
        described = self._admin.describe_topics(TopicCollection(topics), request_timeout=10)
        # URL-safe, as Kafka's own tools print topic ids (kafka-topics.sh --describe)
        ids = {t: str(f.result().topic_id).translate(_URLSAFE) for t, f in described.items()}
        return {t: "" if i == _NO_TOPIC_ID else i for t, i in ids.items()}

    def _read_topic_ids(self, partitions: set[tuple[str, int]]) -> None:
        """Describe the topics of ``partitions`` (retrying while Kafka does not answer) and record their ids."""
        if not partitions:
            return
        topics = sorted({t for t, _ in partitions})
        attempt = 0
        while True:
            try:
                ids = self._describe(topics)
                break
            except KafkaException as exc:
                if self._stop is not None and self._stop.is_set():
                    raise KafkaUnavailable(f"describing {topics} for their ids: {exc}") from exc
                delay = backoff(attempt, 10.0)
                log.warning("describing %s for their ids failed (%s); retry in %.1fs", topics, exc, delay)
                attempt += 1
                time.sleep(delay)
        for topic, partition in partitions:
            self._topic_ids[(topic, partition)] = ids.get(topic, "")
        log.info("topic ids: %s", ids)

    def _check_topics(self) -> None:
        """Notice a topic deleted and created again under its name while this worker consumed it.

        librdkafka may go on fetching the gone topic's id without an error, and receive nothing from the new topic
        (confluentinc/confluent-kafka-python#1787); a new consumer reads the new topic (from its start: Kafka drops
        the group's offsets with the topic)."""
        self._topics_checked_at = time.monotonic()
        owned = {key: tid for key, tid in self._topic_ids.items() if key in self._owned}
        if not owned:
            return
        try:
            current = self._describe(sorted({t for t, _ in owned}))
        except KafkaException:
            return  # deleted and not created again yet, or Kafka away: the next round looks again
        changed = sorted({t for (t, _), tid in owned.items() if current.get(t, tid) != tid})
        if not changed:
            return
        log.warning("topic %s was deleted and created again (new id %s); consuming it with a new consumer",
                    ", ".join(changed), ", ".join(current[t] for t in changed))
        self._settle_in_flight()
        self._leave()
        self._owned.clear()
        self._topic_ids.clear()
        self._last_offset.clear()
        self.consumer = self._make_consumer()
        self._subscribe()

    def _ensure_topic_ids(self, msgs: list[Message], stale: set[tuple[str, int]]) -> None:
        known = self._topic_ids
        missing = {key for msg in msgs if (key := (msg.topic(), msg.partition())) not in known}
        self._read_topic_ids(missing | stale)

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
        self._subscribe()
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
                if not good:
                    self._settle_in_flight()  # a quiet topic: nothing to overlap with
                for segment, stale in self._segments(good) if good else ():
                    self._ensure_topic_ids(segment, stale)
                    # While Elasticsearch indexes one batch, the next is parsed: the worker's core and the cluster
                    # work at the same time. Batches are still committed in order, each after its acknowledgement.
                    started = self._start(segment)
                    self._settle_in_flight()
                    self._in_flight = started
                if time.monotonic() - self._topics_checked_at >= self.ps.topic_check_s:
                    self._check_topics()  # settles and commits the batch in flight first, if it must act
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
        metrics.report_lag({})

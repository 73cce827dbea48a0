"""What a 409 means, what is retried and what is dead-lettered, and third-party identities across a topic's
re-creation: against the real Kafka and Elasticsearch."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client import REGISTRY

from logjet.wire import Batch, Entry, Source
from processor.worker import Worker
from shippers.elasticsearch import ElasticsearchShipper, install_template, make_client
from shippers.kafka import KafkaShipper
from tests.integration.conftest import es_count, wait_for


@contextmanager
def _running(settings) -> Iterator[Worker]:  # noqa: ANN001
    """A worker consuming in a thread for the duration of the block."""
    worker = Worker(settings)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()


def _committed(settings) -> int:  # noqa: ANN001
    """Records of the test topic the processor's group has committed, over all partitions."""
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": settings.processor.group_id})
    try:
        md = consumer.list_topics(settings.kafka.topic, timeout=5).topics[settings.kafka.topic]
        parts = [TopicPartition(settings.kafka.topic, p) for p in md.partitions]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=5))
    finally:
        consumer.close()


def _dead_letters(settings, at_least: int, wait_s: float = 30) -> list[dict]:  # noqa: ANN001
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": f"dlq-{time.time_ns()}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([settings.kafka.dead_letter_topic])
    out: list[dict] = []
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline and len(out) < at_least:
            out += [orjson.loads(m.value()) for m in consumer.consume(100, 0.5) if m.error() is None]
    finally:
        consumer.close()
    return out


def _messages(settings) -> list[str]:  # noqa: ANN001
    es = settings.elasticsearch
    httpx.post(f"{es.url}/{es.index_pattern}/_refresh")
    hits = httpx.post(f"{es.url}/{es.index_pattern}/_search", json={"size": 1000}).json()["hits"]["hits"]
    return sorted(h["_source"]["message"] for h in hits)


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_an_entry_refused_under_an_identity_with_other_content_is_a_collision_and_a_replay_a_duplicate(
        make_settings, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings()
    source = Source("file:node-1:8:77:ab12", "file", "node-1", "c-1", "/var/log/app.log")
    first = Batch(source, [Entry(0, 1_795_600_000_000_000_000, "payment 1 accepted")])
    replay = Batch(source, [Entry(0, 1_795_600_000_000_000_999, "payment 1 accepted")])  # re-read later: same text
    other = Batch(source, [Entry(0, 1_795_600_000_000_000_000, "payment 2 declined")])  # same identity, other text
    shipper = KafkaShipper(settings.kafka)
    for batch in (first, replay, other):
        shipper.send(batch, lambda b: None)
    assert shipper.flush(30)
    collisions_before = _metric("logjet_processor_identity_collisions_total")
    caplog.set_level(logging.ERROR, logger="logjet.processor")
    with _running(settings) as worker:
        wait_for(lambda: _committed(settings) >= 3, 60, "the three records to be settled")
    assert (worker.stats.indexed, worker.stats.duplicates, worker.stats.collisions) == (1, 1, 1)
    assert _metric("logjet_processor_identity_collisions_total") == collisions_before + 1
    assert _messages(settings) == ["payment 1 accepted"]
    assert any("IDENTITY COLLISION" in r.getMessage() and source.id in r.getMessage() for r in caplog.records)
    (letter,) = _dead_letters(settings, 1)
    assert (letter["kind"], letter["original"], letter["source_id"], letter["seq"]) == (
        "collision", "payment 2 declined", source.id, 0)

    # The same records again, in another group and so in other batches: one replay of the stored text, one collision.
    again = make_settings(kafka=settings.kafka.model_dump(), elasticsearch=settings.elasticsearch.model_dump(),
                          processor={"group_id": settings.processor.group_id + "-again"})
    with _running(again) as worker:
        wait_for(lambda: _committed(again) >= 3, 60, "the replay to be settled")
    assert (worker.stats.indexed, worker.stats.duplicates, worker.stats.collisions) == (0, 2, 1)


def test_every_third_party_record_of_a_recreated_topic_is_indexed(make_settings) -> None:
    # The worker looks for a new topic under the name every topic_check_s: 30 s by default, 2 s here.
    settings = make_settings(processor={"topic_check_s": 2})
    topic = settings.kafka.topic
    admin = AdminClient({"bootstrap.servers": settings.kafka.bootstrap})

    def create() -> None:
        def attempt() -> bool:
            try:
                admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(10)
                return True
            except Exception:  # noqa: BLE001 - the deletion of the old topic may not be complete yet
                return False
        wait_for(attempt, 60, f"topic {topic} to be created")

    def produce(prefix: str) -> None:
        producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
        for i in range(6):
            producer.produce(topic, f"{prefix} line {i}".encode(), partition=i % 2)
        assert producer.flush(30) == 0

    create()
    produce("old")
    with _running(settings) as worker:
        wait_for(lambda: es_count(settings) == 6 and _committed(settings) == 6, 60, "the first topic's records")
        admin.delete_topics([topic])[topic].result(30)
        create()
        # Same name, same partitions, offsets from 0 again: only the topic's id tells these records apart.
        produce("new")
        wait_for(lambda: es_count(settings) >= 12, 90, "the new topic's records")
    assert worker.stats.duplicates == 0 and worker.stats.collisions == 0
    assert _messages(settings) == sorted([f"{p} line {i}" for p in ("old", "new") for i in range(6)])


def _block_writes(settings, blocked: bool) -> None:  # noqa: ANN001
    es = settings.elasticsearch
    res = httpx.put(f"{es.url}/{es.data_stream}/_settings", json={"index.blocks.write": True if blocked else None})
    assert res.status_code == 200, res.text


def test_a_write_block_is_waited_out_not_dead_lettered_and_nothing_is_committed_meanwhile(make_settings) -> None:
    settings = make_settings(processor={"retry_max_s": 2})
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    producer.produce(settings.kafka.topic, b"before the block")
    assert producer.flush(30) == 0
    forbidden_before = _metric("logjet_processor_documents_retried_total", cause="forbidden")
    with _running(settings) as worker:
        wait_for(lambda: es_count(settings) == 1 and _committed(settings) == 1, 60, "the first document")
        _block_writes(settings, True)  # item-level 403 cluster_block_exception, this test's data stream only
        try:
            for i in range(200):
                producer.produce(settings.kafka.topic, f"during the block {i}".encode())
            assert producer.flush(30) == 0
            wait_for(lambda: _metric("logjet_processor_documents_retried_total", cause="forbidden")
                     > forbidden_before, 30, "the 403s to be retried")
            time.sleep(30)
            assert es_count(settings) == 1 and _committed(settings) == 1
            assert worker.stats.dead_lettered == 0
        finally:
            _block_writes(settings, False)
        wait_for(lambda: _committed(settings) == 201, 60, "everything once the block is lifted")
    httpx.post(f"{settings.elasticsearch.url}/{settings.elasticsearch.index_pattern}/_refresh")
    assert es_count(settings) == 201
    assert worker.stats.dead_lettered == 0 and worker.stats.indexed == 201
    assert _dead_letters(settings, 1, wait_s=3) == []


def test_a_bulk_request_refused_as_a_whole_is_split_until_only_the_bad_document_is_rejected(make_settings) -> None:
    settings = make_settings()
    es = settings.elasticsearch
    client = make_client(es)
    install_template(client, es)
    calls: list[int] = []
    bulk: Callable = client.bulk

    def counted_bulk(**kwargs):  # noqa: ANN003, ANN202 - counts the requests the real client sends
        calls.append(1)
        return bulk(**kwargs)

    client.bulk = counted_bulk  # type: ignore[method-assign]
    docs = [(f"doc-{i:04d}", orjson.dumps({"@timestamp": "2026-11-25T10:00:00Z", "message": f"line {i}"}))
            for i in range(1000)]
    # A body with a raw newline: the bulk parser reads its second half as an action line and refuses the whole
    # request with 400 (orjson never writes one; any other encoder or a hand-built body might).
    docs[537] = ("doc-0537", b'{"@timestamp":"2026-11-25T10:00:00Z","message":"a\nb"}')
    result = ElasticsearchShipper(client, es, retry_max_s=1).send(es.data_stream, docs)
    assert result.indexed == 999 and result.duplicates == 0
    assert [pos for pos, _ in result.rejected] == [537]
    assert result.rejected[0][1].startswith("400 bulk request refused")
    assert len(calls) <= 2 * 10 + 1  # halving: two requests per level of a 1,000-document tree at most
    httpx.post(f"{es.url}/{es.index_pattern}/_refresh")
    assert es_count(settings) == 999

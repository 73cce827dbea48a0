"""Records from third-party producers are indexed; replays are not doubled; broken records are dead-lettered."""

from __future__ import annotations

import threading

import httpx
import orjson
from confluent_kafka import Consumer, Producer

from logjet.wire import HEADER_VERSION
from processor.worker import Worker
from tests.integration.conftest import es_count, wait_for


def _run_worker(settings, until) -> Worker:  # noqa: ANN001
    worker = Worker(settings)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(until, 120, "the processor")
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    return worker


def _messages(settings) -> list[dict]:  # noqa: ANN001
    url = f"{settings.elasticsearch.url}/{settings.elasticsearch.index_pattern}/_search"
    httpx.post(f"{settings.elasticsearch.url}/{settings.elasticsearch.index_pattern}/_refresh")
    return [h["_source"] for h in httpx.post(url, json={"size": 100}).json()["hits"]["hits"]]


def test_third_party_records_are_indexed_and_a_replay_is_not_doubled(make_settings) -> None:
    settings = make_settings()
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    topic = settings.kafka.topic
    producer.produce(topic, b"plain line written by kcat\n")
    producer.produce(topic, orjson.dumps({"message": "hello from omkafka", "level": "ERROR", "app": "billing"}))
    producer.produce(topic, b"latin-1 caf\xe9")
    assert producer.flush(30) == 0

    first = _run_worker(settings, lambda: es_count(settings) >= 3)
    assert first.stats.indexed == 3
    docs = {d["message"]: d for d in _messages(settings)}
    assert set(docs) == {"plain line written by kcat", "hello from omkafka", "latin-1 caf\ufffd"}
    assert docs["hello from omkafka"]["log"]["level"] == "error"
    assert docs["hello from omkafka"]["json"] == {"app": "billing"}
    assert docs["latin-1 caf\ufffd"]["logjet"]["flags"] == ["invalid_utf8"]

    # A second consumer group reads the same records again: same ids, so create refuses them.
    replay = make_settings(kafka=settings.kafka.model_dump(), elasticsearch=settings.elasticsearch.model_dump(),
                           processor={"group_id": settings.processor.group_id + "-replay"})
    second = _run_worker(replay, lambda: second_done_n(replay, 3))
    assert second.stats.duplicates == 3 and second.stats.indexed == 0
    assert es_count(settings) == 3


def test_broken_wire_record_is_dead_lettered_and_the_rest_indexed(make_settings) -> None:
    settings = make_settings()
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    producer.produce(settings.kafka.topic, b"{not json", key=b"k", headers=[(HEADER_VERSION, b"1")])
    producer.produce(settings.kafka.topic, b"a good line")
    assert producer.flush(30) == 0
    worker = _run_worker(settings, lambda: es_count(settings) >= 1)
    assert worker.stats.dead_lettered == 1
    dlq = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": "dlq-reader",
                    "auto.offset.reset": "earliest"})
    dlq.subscribe([settings.kafka.dead_letter_topic])
    try:
        msgs = []
        wait_for(lambda: bool(msgs.extend(m for m in dlq.consume(10, 1.0) if m.error() is None) or msgs), 60,
                 "the dead letter")
    finally:
        dlq.close()
    record = orjson.loads(msgs[0].value())
    assert record["reason"].startswith("wire format: value is not valid JSON")
    assert record["original_b64"]
    assert [d["message"] for d in _messages(settings)] == ["a good line"]


def _dead_letters(settings, expect: int) -> list[dict]:  # noqa: ANN001
    dlq = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": "dlq-reader",
                    "auto.offset.reset": "earliest"})
    dlq.subscribe([settings.kafka.dead_letter_topic])
    msgs: list = []
    try:
        wait_for(lambda: bool(msgs.extend(m for m in dlq.consume(10, 1.0) if m.error() is None))
                 or len(msgs) >= expect, 60, "the dead letters")
    finally:
        dlq.close()
    return [orjson.loads(m.value()) for m in msgs]


def test_documents_elasticsearch_or_the_encoder_refuse_are_dead_lettered_with_the_reason(make_settings) -> None:
    settings = make_settings()
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    topic = settings.kafka.topic
    # Deeper than JSON encoders go (orjson stops at 254 levels), though still a valid JSON line.
    deep = b'{"message":"too deep","deep":' + b'{"d":' * 300 + b'"bottom"' + b"}" * 301
    good = [orjson.dumps({"message": "user as an object", "user": {"id": 1}}), b"plain line", b"x" * 900_000]
    for value in good:
        producer.produce(topic, value, key=b"same-partition")
    assert producer.flush(30) == 0
    _run_worker(settings, lambda: es_count(settings) >= 3)
    # Deeper than the index takes (json is a flattened field, 20 levels at most), though orjson encodes it.
    too_deep = b'{"message":"user nested too deep","user":' + b'{"d":' * 25 + b'"bottom"' + b"}" * 26
    producer.produce(topic, too_deep, key=b"same-partition")
    producer.produce(topic, deep, key=b"same-partition")
    producer.produce(topic, b"after the bad ones", key=b"same-partition")
    assert producer.flush(30) == 0
    worker = _run_worker(settings, lambda: es_count(settings) >= 4)
    assert worker.stats.dead_lettered == 2
    letters = {d["original"][:16]: d for d in _dead_letters(settings, 2)}
    assert letters['{"message":"user']["reason"].startswith("400 document_parsing_exception") or \
        letters['{"message":"user']["reason"].startswith("400 mapper_parsing_exception")
    assert letters['{"message":"too ']["reason"].startswith("cannot encode the document")
    assert sorted(d["message"][:20] for d in _messages(settings)) == sorted(
        ["user as an object", "plain line", "x" * 20, "after the bad ones"])


def test_the_data_stream_gets_its_retention_and_ilm_without_ilm_fails_at_start_up(make_settings) -> None:
    import pytest

    from logjet.errors import ConfigError

    settings = make_settings(elasticsearch={"retention": "7d"})
    Worker(settings).consumer.close()
    es = settings.elasticsearch
    body = httpx.get(f"{es.url}/_index_template/logjet-logs-{es.dataset}").json()
    assert body["index_templates"][0]["index_template"]["template"]["lifecycle"]["data_retention"] == "7d"
    with pytest.raises(ConfigError, match="has no ILM"):
        Worker(make_settings(elasticsearch={"ilm_policy": "logs-30d"}))


def test_collector_batches_become_ecs_documents_and_a_second_delivery_changes_nothing(make_settings) -> None:
    from logjet.wire import Batch, Entry, Source
    from shippers.kafka import KafkaShipper

    settings = make_settings(processor={"parsers": [
        {"name": "checkout-timing", "when": {"container_name": "checkout-*"},
         "regex": r"^checkout (?P<event__action>\w+) took=(?P<event__duration>\d+)ns$"}]})
    source = Source("container:node-7:1:2:ab", "container", "node-7", "node-7",
                    "/var/lib/docker/containers/ab/ab-json.log",
                    {"container.id": "ab" * 32, "container.name": "checkout-1", "container.image.name": "shop/co:2",
                     "kubernetes.namespace": "shop", "kubernetes.pod.name": "checkout-7d9", "team": "payments"})
    entries = [
        Entry(0, 1_795_600_000_000_000_000, '{"level":"warn","msg":"cart slow","service":"checkout"}', (),
              {"log.iostream": "stderr"}),
        Entry(60, 1_795_600_000_000_000_001, "checkout paid took=1200ns", (), {"log.iostream": "stdout"}),
        Entry(90, 1_795_600_000_000_000_002, "2026-11-25 10:00:00,123 ERROR [main] shop.Pay: declined", (),
              {"log.iostream": "stdout"}),
    ]
    shipper = KafkaShipper(settings.kafka)
    for _ in range(2):  # the same batch delivered twice (a collector re-sending after a crash)
        shipper.send(Batch(source, entries), lambda b: None)
    assert shipper.flush(30)
    worker = _run_worker(settings, lambda: second_done_n(settings, 2))
    assert worker.stats.indexed == 3 and worker.stats.duplicates == 3
    wait_for(lambda: es_count(settings) == 3, 30, "the 3 documents to be searchable")
    docs = sorted(_messages(settings), key=lambda d: d["log"]["offset"])
    first, second, third = docs
    for d in docs:
        assert d["container"] == {"id": "ab" * 32, "name": "checkout-1", "image": {"name": "shop/co:2"}}
        assert d["kubernetes"] == {"namespace": "shop", "pod": {"name": "checkout-7d9"}}
        assert d["host"]["name"] == "node-7" and d["labels"] == {"team": "payments"}
        assert d["log"]["file"]["path"] == "/var/lib/docker/containers/ab/ab-json.log"
        assert d["data_stream"] == {"type": "logs", "dataset": settings.elasticsearch.dataset, "namespace": "default"}
        assert d["event"]["ingested"] and len(d["event"]["id"]) == 20
    assert (first["message"], first["log"]["level"], first["service"]["name"], first["log"]["iostream"]) == (
        "cart slow", "warn", "checkout", "stderr")
    assert second["event"]["action"] == "paid" and second["event"]["duration"] == "1200"
    assert (third["message"], third["log"]["level"], third["@timestamp"]) == (
        "declined", "error", "2026-11-25T10:00:00.123000000Z")


def second_done_n(settings, n: int) -> bool:  # noqa: ANN001
    consumer = Consumer({"bootstrap.servers": settings.kafka.bootstrap, "group.id": settings.processor.group_id})
    try:
        from confluent_kafka import TopicPartition

        md = consumer.list_topics(settings.kafka.topic, timeout=5)
        parts = [TopicPartition(settings.kafka.topic, p) for p in md.topics[settings.kafka.topic].partitions]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=5)) >= n
    finally:
        consumer.close()

"""Scopes against forged content, with the real Elasticsearch: a line claiming another team's service, namespace and
labels, through Kafka, the processor and the HTTP API; and the generated documents of ``tests/unit/test_scope.py``
indexed with the real index template and searched with each key's real scope filter."""

from __future__ import annotations

import threading
import uuid

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from api.auth import _from_key
from logjet.config import ApiKey, LogjetSettings
from logjet.wire import Batch, Entry, Source
from processor.worker import Worker
from shippers.elasticsearch import encode_bulk, install_template, make_client
from shippers.kafka import KafkaShipper
from tests.integration.conftest import api_key, es_count, wait_for
from tests.unit import test_scope as model

FORGED = ('{"msg":"forged %s","service":"payments","kubernetes":{"namespace":"bank"},"kubernetes.namespace":"bank",'
          '"labels":{"team":"payments"},"labels.team":"payments","container.labels.team":"payments"}')
T0 = 1_795_600_000_000_000_000


@pytest.fixture(scope="module")
def api(endpoints):  # noqa: ANN001, ANN201
    """The bank's real payments logs, an operator-tagged file of the payments team, and forged lines from a pod in
    namespace evil, a syslog sender and a third-party producer, indexed once by the real processor."""
    from confluent_kafka import Producer

    tag = uuid.uuid4().hex[:10]
    tokens = {name: api_key(**scope) for name, scope in (
        ("bank", {"namespaces": ["bank"]}), ("payments", {"services": ["bank/payments"]}),
        ("team", {"labels": {"team": ["payments"]}}), ("evil", {"namespaces": ["evil"]}),
        ("evil-payments", {"services": ["evil/payments"]}), ("ops", {"all_logs": True}))}
    s = LogjetSettings(kafka={"bootstrap": endpoints.kafka, "topic": f"scope-{tag}",
                              "dead_letter_topic": f"scope-{tag}-d"},
                       elasticsearch={"url": endpoints.elasticsearch, "dataset": f"scope{tag}"},
                       processor={"group_id": f"scope-{tag}", "batch_max_wait_s": 0.2},
                       api={"keys": [key for _, key in tokens.values()]})
    bank = Source("container:n:bank", "container", "n", "n", None,
                  {"kubernetes.namespace": "bank", "kubernetes.pod.name": "payments-1", "container.name": "payments"})
    tagged = Source("file:n:1:2:ab", "file", "n", "n", "/var/log/payments.log", {"team": "payments"})
    evil = Source("container:n:evil", "container", "n", "n", None,
                  {"kubernetes.namespace": "evil", "kubernetes.pod.name": "x-1", "container.name": "x"})
    syslog = Source("syslog:n:udp:514:10.6.6.6:1", "syslog", "n", "n", None,
                    {"source.ip": "10.6.6.6", "network.transport": "udp"})
    shipper = KafkaShipper(s.kafka)
    shipper.send(Batch(bank, [Entry(0, T0, '{"msg":"real payment","service":"payments"}')]), lambda b: None)
    shipper.send(Batch(tagged, [Entry(0, T0, "real tagged line")]), lambda b: None)
    shipper.send(Batch(evil, [Entry(0, T0, FORGED % "pod", (), {"kubernetes.namespace": "bank"})]), lambda b: None)
    shipper.send(Batch(syslog, [Entry(0, T0, "<14>1 2026-11-26T10:00:00Z h app - - - " + FORGED % "syslog")]),
                 lambda b: None)
    assert shipper.flush(30)
    producer = Producer({"bootstrap.servers": endpoints.kafka})
    producer.produce(s.kafka.topic, (FORGED % "kafka").encode())
    assert producer.flush(30) == 0
    worker = Worker(s)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: es_count(s) >= 5, 120, "the documents")
    finally:
        stop.set()
        thread.join(60)
    assert worker.stats.dead_lettered == 0
    return TestClient(create_app(s)), {name: token for name, (token, _) in tokens.items()}


def _messages(client: TestClient, token: str, **params: str) -> list[str]:
    res = client.get("/v1/logs", params={"from": "2026-11-25T00:00:00Z", "to": "now+1h", **params},
                     headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200, res.text
    return sorted(d["message"] for d in res.json()["documents"])


def test_a_forged_line_is_invisible_to_the_team_it_names_and_visible_in_its_writers_scope(api) -> None:  # noqa: ANN001
    client, token = api
    assert _messages(client, token["bank"]) == ["real payment"]
    assert _messages(client, token["payments"]) == ["real payment"]
    assert _messages(client, token["payments"], service="payments") == ["real payment"]
    assert _messages(client, token["team"]) == ["real tagged line"]
    assert _messages(client, token["evil"]) == ["forged pod"]
    assert _messages(client, token["evil-payments"]) == ["forged pod"]
    assert len(_messages(client, token["ops"])) == 5
    # The claim is kept, where no scope looks.
    forged = client.get("/v1/logs", params={"from": "2026-11-25T00:00:00Z", "to": "now+1h"},
                        headers={"Authorization": f"Bearer {token['evil']}"}).json()["documents"][0]
    assert forged["kubernetes"]["namespace"] == "evil" and "labels" not in forged
    assert forged["json"]["kubernetes"] == {"namespace": "bank"} and forged["json"]["labels.team"] == "payments"
    # Asking for the bank's namespace with a key bound elsewhere is refused, not answered empty.
    bad = client.get("/v1/logs", params={"namespace": "bank"}, headers={"Authorization": f"Bearer {token['evil']}"})
    assert bad.status_code == 403
    res = client.get("/v1/stats", params={"from": "2026-11-25T00:00:00Z", "to": "now+1h", "interval": "1h"},
                     headers={"Authorization": f"Bearer {token['payments']}"})
    assert res.status_code == 200, res.text
    assert res.json()["total"] == 1


@pytest.fixture(scope="module")
def stream(endpoints):  # noqa: ANN001, ANN201
    """A data stream with the real index template, for the generated documents."""
    s = LogjetSettings(elasticsearch={"url": endpoints.elasticsearch, "dataset": f"scopeprop{uuid.uuid4().hex[:8]}"})
    install_template(make_client(s.elasticsearch), s.elasticsearch)
    return s.elasticsearch


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=model.documents(min_size=4, max_size=16), scoped=st.lists(model.keys(), min_size=1, max_size=4))
def test_elasticsearch_never_returns_a_key_a_document_outside_its_scope(stream, items, scoped) -> None:  # noqa: ANN001
    run = uuid.uuid4().hex
    # Identities unique to this example: the data stream holds every example's documents.
    items = [(Source(f"{run}:{src.id}", src.kind, src.host, src.collector, src.path, src.tags) if src else None,
              entry) for src, entry in items]
    docs = model.transform(items, first_offset=int(run[:12], 16))
    encoded = [(doc["event"]["id"], orjson.dumps(doc)) for _, doc in docs]
    res = httpx.post(f"{stream.url}/{stream.data_stream}/_bulk", params={"refresh": "true"},
                     content=encode_bulk(encoded), headers={"content-type": "application/x-ndjson"},
                     timeout=60)
    assert res.status_code == 200 and not res.json()["errors"], res.text[:2000]
    ids = [event_id for event_id, _ in encoded]
    position = {event_id: i for i, event_id in enumerate(ids)}
    for key in scoped:
        query = {"bool": {"filter": [{"terms": {"event.id": ids}}, _from_key(key).scope_filter()]}}
        found = httpx.post(f"{stream.url}/{stream.data_stream}/_search", timeout=60,
                           json={"query": query, "size": len(ids), "_source": ["event.id"]}).json()
        hits = {position[h["_source"]["event"]["id"]] for h in found["hits"]["hits"]}
        model.check_scopes(docs, key, hits)
        # The model of the filter and Elasticsearch agree, document by document.
        assert hits == {i for i, (_, doc) in enumerate(docs) if model.matches(query["bool"]["filter"][1], doc)}


def test_keys_bound_to_nothing_content_can_write_are_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="namespace"):
        ApiKey(name="old", sha256="0" * 64, services=["payments"])

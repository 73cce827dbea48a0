"""The HTTP API against the real Elasticsearch: keys and their scopes, point-in-time paging, problem details."""

from __future__ import annotations

import string
import threading

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from logjet.wire import Batch, Entry, Source
from processor.worker import Worker
from shippers.kafka import KafkaShipper
from tests.integration.conftest import api_key, es_count, wait_for

TEAMS = {"shop": "checkout", "bank": "payments", "ops": "cron"}  # namespace -> service
PER_TEAM = 60


@pytest.fixture(scope="module")
def indexed(endpoints, tmp_path_factory):  # noqa: ANN001, ANN201
    """Documents of three teams (namespace and service each), indexed by the real processor once for the module."""
    from logjet.config import LogjetSettings

    tag = tmp_path_factory.mktemp("api").name.replace("_", "").lower()[-10:]
    keys = {ns: api_key(namespaces=[ns]) for ns in TEAMS}
    svc_key = api_key(services=["payments"])
    admin = api_key(all_logs=True)
    s = LogjetSettings(kafka={"bootstrap": endpoints.kafka, "topic": f"api-{tag}", "dead_letter_topic": f"api-{tag}-d"},
                       elasticsearch={"url": endpoints.elasticsearch, "dataset": f"api{tag}"},
                       processor={"group_id": f"api-{tag}", "batch_max_wait_s": 0.2},
                       api={"keys": [k for _, k in keys.values()] + [svc_key[1], admin[1]], "max_page_size": 50})
    shipper = KafkaShipper(s.kafka)
    for ns, service in TEAMS.items():
        source = Source(f"container:n:{ns}", "container", "node-1", "node-1", None,
                        {"kubernetes.namespace": ns, "container.name": f"{service}-1"})
        entries = [Entry(i, 1_795_600_000_000_000_000 + i * 1_000_000,
                         f'{{"msg":"{service} event {i} shared words","service":"{service}","level":"info"}}')
                   for i in range(PER_TEAM)]
        shipper.send(Batch(source, entries), lambda b: None)
    assert shipper.flush(30)
    worker = Worker(s)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: es_count(s) >= PER_TEAM * len(TEAMS), 120, "the documents")
    finally:
        stop.set()
        thread.join(60)
    client = TestClient(create_app(s))
    return client, {ns: tok for ns, (tok, _) in keys.items()}, svc_key[0], admin[0]


def _get(client: TestClient, token: str, **params: object):  # noqa: ANN202
    base = {"from": "2026-11-24T00:00:00Z", "to": "2026-11-27T00:00:00Z"}
    return client.get("/v1/logs", params={**base, **params}, headers={"Authorization": f"Bearer {token}"})


def test_keys_are_required_and_checked(indexed) -> None:  # noqa: ANN001
    client, *_ = indexed
    assert client.get("/healthz").status_code == 200
    for headers in ({}, {"Authorization": "Bearer lj_not-a-key"}, {"Authorization": "Basic abc"}):
        res = client.get("/v1/logs", headers=headers)
        assert res.status_code == 401 and res.headers["content-type"] == "application/problem+json"
        assert res.json()["title"] == "unauthorized"
    assert client.get("/metrics").status_code == 401


def test_a_team_key_sees_its_namespace_only_and_asking_for_another_is_forbidden(indexed) -> None:  # noqa: ANN001
    client, keys, svc_token, admin = indexed
    res = _get(client, keys["shop"], size=50)
    assert res.status_code == 200
    docs = res.json()["documents"]
    assert docs and {d["kubernetes"]["namespace"] for d in docs} == {"shop"}
    assert _get(client, keys["shop"], namespace="bank").status_code == 403
    only_payments = _get(client, svc_token, size=50).json()["documents"]
    assert {d["service"]["name"] for d in only_payments} == {"payments"}
    assert _get(client, admin, size=1).json()["total"]["value"] == PER_TEAM * len(TEAMS)


def test_paging_walks_a_stable_snapshot_exactly_once(indexed) -> None:  # noqa: ANN001
    client, keys, _, _ = indexed
    seen: list[str] = []
    cursor = None
    while True:
        params = {"size": 7, "sort": "asc"} | ({"cursor": cursor} if cursor else {})
        page = _get(client, keys["bank"], **params).json()
        seen += [d["event"]["id"] for d in page["documents"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == PER_TEAM
    assert _get(client, keys["bank"], cursor="bm90LWEtY3Vyc29y").status_code == 400


_WORDS = st.sampled_from(["checkout", "payments", "cron", "event", "shared", "words", "OR", "AND", "NOT", "*", "-",
                          "|", '"', "(", ")", "bank", "shop", "ops", "kubernetes.namespace:bank", "1"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(team=st.sampled_from(sorted(TEAMS)),
       q=st.none() | st.lists(_WORDS, max_size=6).map(" ".join) | st.text(string.printable, max_size=30),
       service=st.none() | st.sampled_from(sorted(TEAMS.values())),
       container=st.none() | st.sampled_from([f"{s}-1" for s in TEAMS.values()]),
       sort=st.sampled_from(["asc", "desc"]), pages=st.integers(1, 3))
def test_a_scoped_key_never_receives_a_document_outside_its_scope(indexed, team: str, q: str | None,  # noqa: ANN001
                                                                  service: str | None, container: str | None,
                                                                  sort: str, pages: int) -> None:
    client, keys, _, _ = indexed
    params: dict[str, object] = {"size": 11, "sort": sort}
    for name, value in (("q", q), ("service", service), ("container", container)):
        if value:
            params[name] = value
    for _ in range(pages):
        res = _get(client, keys[team], **params)
        assert res.status_code in (200, 400, 403), res.text
        if res.status_code != 200:
            return
        body = res.json()
        assert all(d["kubernetes"]["namespace"] == team for d in body["documents"])
        if not body["next_cursor"]:
            return
        params["cursor"] = body["next_cursor"]

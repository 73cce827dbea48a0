"""The HTTP API against the real Elasticsearch: keys and their scopes, point-in-time paging, problem details."""

from __future__ import annotations

import string
import threading
import uuid

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

    tag = uuid.uuid4().hex[:10]
    keys = {ns: api_key(namespaces=[ns]) for ns in TEAMS}
    svc_key = api_key(services=["bank/payments"])
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


def test_live_tail_streams_new_documents_in_scope_and_resumes_after_a_disconnect(indexed, endpoints) -> None:  # noqa: ANN001
    import time

    import httpx
    import uvicorn

    from tests.integration.conftest import free_port

    client, keys, _, _ = indexed
    app = client.app
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the API")
    try:
        settings_ = client.app.state.settings
        shipper = KafkaShipper(settings_.kafka)
        got: list[tuple[str, dict]] = []
        last_id = None

        def read(n: int, headers: dict) -> None:
            nonlocal last_id
            with httpx.stream("GET", f"http://127.0.0.1:{port}/v1/logs/tail", params={"poll_s": 0.3},
                              headers={"Authorization": f"Bearer {keys['shop']}", **headers}, timeout=60) as res:
                assert res.status_code == 200
                event, event_id = None, None
                for line in res.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("id: "):
                        event_id = line[4:]
                    elif line.startswith("data: ") and event == "log":
                        doc = __import__("orjson").loads(line[6:])
                        assert doc["kubernetes"]["namespace"] == "shop"
                        last_id = event_id
                        # Documents indexed just before the tail opened may come first: only ours are counted.
                        if doc["message"].split()[0] in ("first", "second"):
                            got.append((event_id, doc))
                        if len(got) >= n:
                            return

        def produce(tag: str) -> None:
            time.sleep(1.5)
            for ns in ("shop", "bank"):
                source = Source(f"container:n:{ns}:tail", "container", "node-1", "node-1", None,
                                {"kubernetes.namespace": ns})
                shipper.send(Batch(source, [Entry(int(time.time_ns()) % 10**12, time.time_ns(), f"{tag} {ns}")]),
                             lambda b: None)
            assert shipper.flush(30)
            worker = Worker(settings_)
            stop = threading.Event()
            t = threading.Thread(target=worker.run, args=(stop,), daemon=True)
            t.start()
            time.sleep(4)
            stop.set()
            t.join(60)

        threading.Thread(target=produce, args=("first",), daemon=True).start()
        read(1, {})
        assert [d["message"] for _, d in got] == ["first shop"]
        threading.Thread(target=produce, args=("second",), daemon=True).start()
        read(2, {"Last-Event-ID": last_id})  # resumes after the first, without repeating it
        assert [d["message"] for _, d in got] == ["first shop", "second shop"]
    finally:
        server.should_exit = True
        thread.join(10)


def test_readyz_turns_503_naming_the_part_that_is_down_and_back(indexed, endpoints) -> None:  # noqa: ANN001
    if endpoints.stack is None:
        pytest.skip("needs the session's own local stack (LOGJET_*_URL point elsewhere)")
    client, _, _, admin = indexed
    auth = {"Authorization": f"Bearer {admin}"}
    assert client.get("/readyz", headers=auth).status_code == 200
    for server in (endpoints.stack.elasticsearch, endpoints.stack.kafka):
        name = "elasticsearch" if server is endpoints.stack.elasticsearch else "kafka"
        assert server.process.stop(timeout=60)
        try:
            res = client.get("/readyz", headers=auth)
            assert res.status_code == 503
            checks = res.json()["checks"]
            assert not checks[name]["ok"] and checks[name]["error"]
            assert all(c["ok"] for n, c in checks.items() if n != name)
        finally:
            endpoints.stack.up()
        wait_for(lambda: client.get("/readyz", headers=auth).status_code == 200, 120, f"{name} back")


def test_stats_are_scoped_and_operators_see_the_pipeline(indexed) -> None:  # noqa: ANN001
    client, keys, _, admin = indexed
    # The fixture's documents only: the live-tail test adds some at the present time.
    params = {"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T10:00:00Z", "interval": "1h"}
    team = client.get("/v1/stats", params=params, headers={"Authorization": f"Bearer {keys['ops']}"}).json()
    assert team["total"] == PER_TEAM and [s["name"] for s in team["services"]] == ["cron"]
    assert sum(b["count"] for b in team["over_time"]) == PER_TEAM
    assert team["error_ratio"] == 0.0 and "pipeline" not in team
    def operators() -> dict:
        return client.get("/v1/stats", params=params, headers={"Authorization": f"Bearer {admin}"}).json()

    # Kafka may still be coming back from the readiness test's stop.
    wait_for(lambda: "dead_letters" in operators()["pipeline"], 60, "Kafka to answer the stats")
    ops = operators()
    assert ops["total"] == PER_TEAM * len(TEAMS)
    assert {s["name"] for s in ops["services"]} == set(TEAMS.values())
    assert ops["pipeline"]["dead_letters"] == 0
    assert ops["pipeline"]["consumer_lag"] and all(p["lag"] == 0 for p in ops["pipeline"]["consumer_lag"])


def test_stats_histogram_split_by_service(indexed) -> None:  # noqa: ANN001
    client, _, _, admin = indexed
    params = {"from": "2026-11-25T09:00:00Z", "to": "2026-11-25T10:00:00Z", "interval": "1h", "by": "service"}
    body = client.get("/v1/stats", params=params, headers={"Authorization": f"Bearer {admin}"}).json()
    assert body["over_time"][0]["by"] == {service: PER_TEAM for service in TEAMS.values()}


def _with_api(client: TestClient, **api: object) -> TestClient:
    """Another app over the same documents and keys, with other API settings."""
    s = client.app.state.settings
    return TestClient(create_app(s.model_copy(update={"api": type(s.api).model_validate(s.api.model_dump() | api)})))


def _open_contexts(client: TestClient) -> int:
    """Search contexts (points in time among them) open on the test's own indices: the counter
    `GET _nodes/stats/indices/search` sums over the node, which other clients of a shared cluster move too."""
    import httpx

    es = client.app.state.settings.elasticsearch
    stats = httpx.get(f"{es.url}/{es.index_pattern}/_stats/search").json()
    return stats["_all"]["total"]["search"]["open_contexts"]


def test_single_page_answers_leave_no_point_in_time_open(indexed) -> None:  # noqa: ANN001
    client, keys, _, admin = indexed
    client = _with_api(client)  # its own count of points in time: earlier tests leave walks unfinished
    before = _open_contexts(client)
    for i in range(1000):
        res = _get(client, keys["shop"] if i % 2 else admin, size=50, q=f"event {i % PER_TEAM}")
        assert res.status_code == 200 and res.json()["next_cursor"] is None, res.text
    assert len(client.app.state.pits) == 0
    assert _open_contexts(client) <= before  # earlier tests' unfinished walks may expire meanwhile


def test_a_walk_opens_one_point_in_time_and_its_last_page_closes_it(indexed) -> None:  # noqa: ANN001
    client, keys, _, _ = indexed
    client = _with_api(client)
    pits = client.app.state.pits
    first = _get(client, keys["ops"], size=25, sort="asc").json()
    assert first["next_cursor"] and len(pits) == 1
    second = _get(client, keys["ops"], size=25, sort="asc", cursor=first["next_cursor"]).json()
    assert second["next_cursor"] and len(pits) == 1
    last = _get(client, keys["ops"], size=25, sort="asc", cursor=second["next_cursor"]).json()
    assert last["next_cursor"] is None and len(pits) == 0
    ids = [d["event"]["id"] for page in (first, second, last) for d in page["documents"]]
    assert len(ids) == len(set(ids)) == PER_TEAM
    # The closed point in time is gone: its cursor is expired, not silently restarted.
    assert _get(client, keys["ops"], size=25, sort="asc", cursor=second["next_cursor"]).status_code == 410


def test_points_in_time_are_bounded_per_key_and_walks_beyond_go_on_without_one(indexed) -> None:  # noqa: ANN001
    client, keys, _, _ = indexed
    small = _with_api(client, pit_max_per_key=2, pit_max_total=3)
    pits = small.app.state.pits
    cursors = [_get(small, keys["bank"], size=10, sort="asc").json()["next_cursor"] for _ in range(5)]
    assert len(pits) == 2
    _get(small, keys["shop"], size=10).json()
    _get(small, keys["shop"], size=10).json()
    assert len(pits) == 3  # shop's first walk has one; the total (3) leaves its second without
    for cursor in cursors:  # each walk, with or without a point in time, sees each document once
        seen: list[str] = []
        while cursor:
            page = _get(small, keys["bank"], size=10, sort="asc", cursor=cursor).json()
            seen += [d["event"]["id"] for d in page["documents"]]
            cursor = page["next_cursor"]
        assert len(seen) == len(set(seen)) == PER_TEAM - 10
    assert len(pits) == 1  # the bank walks closed theirs at their last page; shop's is left to expire
    metrics = small.get("/metrics", headers={"Authorization": f"Bearer {keys['bank']}"}).text
    assert "logjet_api_points_in_time 1.0" in metrics


def test_pages_are_bounded_by_bytes_and_the_cursor_goes_on_after_the_cut(indexed) -> None:  # noqa: ANN001
    client, keys, _, _ = indexed
    small = _with_api(client, max_page_bytes=2048)
    cursor, pages, seen = None, 0, []
    while True:
        page = _get(small, keys["shop"], size=50, sort="asc", **({"cursor": cursor} if cursor else {})).json()
        import orjson

        assert len(page["documents"]) == 1 or len(orjson.dumps(page["documents"])) <= 2048 + 2 * 50
        seen += [d["event"]["id"] for d in page["documents"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == PER_TEAM and pages > 5
    assert len(small.app.state.pits) == 0


def test_a_cursor_cannot_be_forged_or_carried_to_another_key(indexed) -> None:  # noqa: ANN001
    import base64

    import orjson

    client, keys, svc_token, admin = indexed
    cursor = _get(client, keys["bank"], size=10).json()["next_cursor"]
    assert _get(client, keys["bank"], size=10, cursor=cursor).status_code == 200
    for other in (keys["shop"], svc_token, admin):  # another scope, another key reading the same, an operator
        res = _get(client, other, size=10, cursor=cursor)
        assert res.status_code == 400 and res.json()["title"] == "invalid cursor"
    payload, mac = cursor.split(".")
    value = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    value["a"] = ["2026-11-27T00:00:00.000000000Z", "zzz"]
    forged = base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")
    for bad in (f"{forged}.{mac}", payload, f"{payload}.{mac[::-1]}"):
        assert _get(client, keys["bank"], size=10, cursor=bad).status_code == 400
    # A cursor from another server (another secret) is refused as well.
    other_server = _with_api(client, cursor_secret="another secret of enough bytes")
    assert _get(other_server, keys["bank"], size=10, cursor=cursor).status_code == 400

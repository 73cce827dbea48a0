"""The explorer's endpoints against the real Elasticsearch: /v1/facets (counts, exclusions, the key's scope),
/v1/logs/{id}/context (a line's neighbours in its source, in order, within the key's scope) and /v1/patterns (the
log patterns' counts, and a pattern's lines through /v1/logs), over documents the real processor indexed."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from logjet.config import LogjetSettings
from logjet.wire import Batch, Entry, Source, entry_id
from processor.patterns import pattern_id
from processor.worker import Worker
from shippers.kafka import KafkaShipper
from tests.integration.conftest import api_key, es_count, wait_for

T0 = 1_795_600_000_000_000_000  # 2026-11-25T09:46:40Z
RANGE = {"from": "2026-11-24T00:00:00Z", "to": "2026-11-28T00:00:00Z"}
N_MAIN, N_OTHER, N_BANK = 120, 30, 20


def _level(i: int) -> str:
    return "error" if i % 10 == 0 else "debug" if i % 3 == 0 else "info"


def _service(i: int) -> str:
    return "cart" if i % 7 == 0 else "checkout"  # one pod, two services' lines (the scope by service cuts it)


@pytest.fixture(scope="module")
def explore(endpoints):  # noqa: ANN001, ANN201
    """Three sources: a checkout pod in namespace shop (its lines interleaved in time with a second shop pod's), and
    a payments pod in namespace bank."""
    tag = uuid.uuid4().hex[:10]
    tokens = {name: api_key(**scope) for name, scope in (
        ("shop", {"namespaces": ["shop"]}), ("bank", {"namespaces": ["bank"]}),
        ("checkout", {"services": ["shop/checkout"]}), ("ops", {"all_logs": True}))}
    s = LogjetSettings(kafka={"bootstrap": endpoints.kafka, "topic": f"explore-{tag}",
                              "dead_letter_topic": f"explore-{tag}-d"},
                       elasticsearch={"url": endpoints.elasticsearch, "dataset": f"explore{tag}"},
                       processor={"group_id": f"explore-{tag}", "batch_max_wait_s": 0.2},
                       api={"keys": [key for _, key in tokens.values()]})
    main = Source(f"container:n1:main-{tag}", "container", "node-1", "node-1", None,
                  {"kubernetes.namespace": "shop", "kubernetes.pod.name": "checkout-1", "container.name": "checkout"})
    other = Source(f"container:n2:other-{tag}", "container", "node-2", "node-2", None,
                   {"kubernetes.namespace": "shop", "kubernetes.pod.name": "checkout-2", "container.name": "checkout"})
    bank = Source(f"container:n3:bank-{tag}", "container", "node-3", "node-3", None,
                  {"kubernetes.namespace": "bank", "kubernetes.pod.name": "payments-1", "container.name": "payments"})
    ms = 1_000_000
    batches = [
        Batch(main, [Entry(i, T0 + i * ms, f'{{"msg":"main line {i}","service":"{_service(i)}","level":"{_level(i)}"}}')
                     for i in range(N_MAIN)]),
        # Between the main pod's lines in time: a context by time would pick them up, one by source must not.
        Batch(other, [Entry(i, T0 + (4 * i + 1) * ms // 2, f'{{"msg":"other line {i}","service":"checkout",'
                                                          f'"level":"warn"}}') for i in range(N_OTHER)]),
        Batch(bank, [Entry(i, T0 + i * ms, f'{{"msg":"bank line {i}","service":"payments","level":"info"}}')
                     for i in range(N_BANK)]),
    ]
    shipper = KafkaShipper(s.kafka)
    for batch in batches:
        shipper.send(batch, lambda b: None)
    assert shipper.flush(30)
    worker = Worker(s)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: es_count(s) >= N_MAIN + N_OTHER + N_BANK, 120, "the documents")
    finally:
        stop.set()
        thread.join(60)
    assert worker.stats.dead_lettered == 0
    client = TestClient(create_app(s))
    return client, {name: token for name, (token, _) in tokens.items()}, main, other


def _get(client: TestClient, token: str, path: str, **params: Any):  # noqa: ANN202
    return client.get(path, params={**RANGE, **params}, headers={"Authorization": f"Bearer {token}"})


def _facets(client: TestClient, token: str, **params: Any) -> dict[str, dict[str, int]]:
    res = _get(client, token, "/v1/facets", **params)
    assert res.status_code == 200, res.text
    return {name: {v["value"]: v["count"] for v in values} for name, values in res.json()["facets"].items()}


def test_facets_count_the_matching_documents_within_the_key_s_scope(explore) -> None:  # noqa: ANN001
    client, tokens, _, _ = explore
    main_levels = Counter(_level(i) for i in range(N_MAIN))
    shop = _facets(client, tokens["shop"])
    assert shop["level"] == dict(main_levels + Counter({"warn": N_OTHER}))
    assert shop["namespace"] == {"shop": N_MAIN + N_OTHER}
    assert shop["service"] == dict(Counter(_service(i) for i in range(N_MAIN)) + Counter({"checkout": N_OTHER}))
    assert shop["host"] == {"node-1": N_MAIN, "node-2": N_OTHER}
    assert shop["container"] == {"checkout": N_MAIN + N_OTHER}
    # Another team's key counts its own documents only; an operator's counts all.
    bank = _facets(client, tokens["bank"])
    assert bank["namespace"] == {"bank": N_BANK} and bank["level"] == {"info": N_BANK}
    assert _facets(client, tokens["ops"])["namespace"] == {"shop": N_MAIN + N_OTHER, "bank": N_BANK}
    # A key scoped to one service counts that service's lines of the pod, not the other service's.
    checkout = _facets(client, tokens["checkout"])
    assert checkout["service"] == {"checkout": sum(_service(i) == "checkout" for i in range(N_MAIN)) + N_OTHER}
    # The counts follow the query and the filters.
    assert _facets(client, tokens["shop"], q="other")["host"] == {"node-2": N_OTHER}
    assert _facets(client, tokens["shop"], level="error")["host"] == {"node-1": main_levels["error"]}
    # Asking for another team's namespace is refused, as in a search.
    assert _get(client, tokens["shop"], "/v1/facets", namespace="bank").status_code == 403


def test_facets_histogram_splits_each_bucket_by_level(explore) -> None:  # noqa: ANN001
    client, tokens, _, _ = explore
    res = _get(client, tokens["shop"], "/v1/facets", **{"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T23:59:59Z"},
               interval="1h")
    assert res.status_code == 200, res.text
    body = res.json()
    buckets = body["over_time"]
    assert len(buckets) == 24 and body["total"] == {"value": N_MAIN + N_OTHER, "relation": "eq"}
    assert sum(b["count"] for b in buckets) == N_MAIN + N_OTHER
    by: Counter[str] = Counter()
    for b in buckets:
        assert sum(b["by"].values()) == b["count"]
        by.update(b["by"])
    assert by == Counter(_level(i) for i in range(N_MAIN)) + Counter({"warn": N_OTHER})
    # Bounded as /v1/stats is: a second over four days is refused with the interval that fits.
    res = _get(client, tokens["shop"], "/v1/facets", interval="1s")
    assert res.status_code == 400 and "interval" in res.json()["detail"]


def test_exclusions_remove_values_from_search_facets_and_never_widen_the_scope(explore) -> None:  # noqa: ANN001
    client, tokens, _, _ = explore
    main_levels = Counter(_level(i) for i in range(N_MAIN))
    not_debug = N_MAIN + N_OTHER - main_levels["debug"]
    page = _get(client, tokens["shop"], "/v1/logs", exclude="level:debug", size=1).json()
    assert page["total"] == {"value": not_debug, "relation": "eq"}
    levels = _facets(client, tokens["shop"], exclude=["level:debug", "host:node-2"])["level"]
    assert levels == {k: v for k, v in main_levels.items() if k != "debug"}
    # Included and excluded together: the errors of the main pod, without the cart service's.
    errors = [i for i in range(N_MAIN) if _level(i) == "error" and _service(i) != "cart"]
    res = _get(client, tokens["shop"], "/v1/logs", level="error", exclude="service:cart", size=200)
    assert sorted(d["logjet"]["seq"] for d in res.json()["documents"]) == errors
    # Excluding a key's own namespace leaves nothing: it never opens another.
    assert _get(client, tokens["bank"], "/v1/logs", exclude="namespace:bank").json()["total"]["value"] == 0
    assert _facets(client, tokens["bank"], exclude="namespace:bank")["namespace"] == {}
    for bad in ("level", "message:x", "event.id:x"):
        res = _get(client, tokens["shop"], "/v1/logs", exclude=bad)
        assert res.status_code == 400 and res.json()["title"] == "invalid exclusion", bad


def _context(client: TestClient, token: str, source: Source, seq: int, **params: Any):  # noqa: ANN202
    return client.get(f"/v1/logs/{entry_id(source.id, seq)}/context", params=params,
                      headers={"Authorization": f"Bearer {token}"})


def test_context_is_the_lines_around_one_in_its_source_in_order(explore) -> None:  # noqa: ANN001
    client, tokens, main, other = explore
    res = _context(client, tokens["shop"], main, 60)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["document"]["message"] == "main line 60"
    assert [d["logjet"]["seq"] for d in body["before"]] == list(range(10, 60))
    assert [d["logjet"]["seq"] for d in body["after"]] == list(range(61, 111))
    assert {d["logjet"]["source"]["id"] for d in body["before"] + body["after"]} == {main.id}
    # At the start of a source there is less before it; the counts are the caller's.
    body = _context(client, tokens["shop"], main, 3, before=50, after=2).json()
    assert [d["logjet"]["seq"] for d in body["before"]] == [0, 1, 2]
    assert [d["logjet"]["seq"] for d in body["after"]] == [4, 5]
    body = _context(client, tokens["shop"], other, 29).json()
    assert [d["message"] for d in body["before"]][-2:] == ["other line 27", "other line 28"] and body["after"] == []
    assert _context(client, tokens["shop"], main, 60, before=501).status_code == 422


def test_context_is_scoped_like_search(explore) -> None:  # noqa: ANN001
    client, tokens, main, _ = explore
    # A key that cannot see the document gets the same 404 as for one that does not exist.
    outside = _context(client, tokens["bank"], main, 60)
    missing = client.get(f"/v1/logs/{entry_id('no-such-source', 1)}/context",
                         headers={"Authorization": f"Bearer {tokens['bank']}"})
    assert outside.status_code == missing.status_code == 404
    assert outside.json() == missing.json()
    assert _context(client, "lj_not_a_key", main, 60).status_code == 401
    # A key scoped to the checkout service: a cart line is not its to see, and the neighbours of its own lines skip
    # the cart lines of the same pod.
    assert _context(client, tokens["checkout"], main, 70).status_code == 404  # 70 % 7 == 0: cart
    body = _context(client, tokens["checkout"], main, 60, before=10, after=10).json()
    expected_before = [i for i in range(60) if _service(i) == "checkout"][-10:]
    expected_after = [i for i in range(61, N_MAIN) if _service(i) == "checkout"][:10]
    assert [d["logjet"]["seq"] for d in body["before"]] == expected_before
    assert [d["logjet"]["seq"] for d in body["after"]] == expected_after
    assert all(d["service"]["name"] == "checkout" for d in body["before"] + body["after"])


def test_patterns_count_each_template_s_lines_within_the_key_s_scope(explore) -> None:  # noqa: ANN001
    client, tokens, _, _ = explore
    res = _get(client, tokens["shop"], "/v1/patterns", **{"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T23:59:59Z"},
               interval="1h")
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["total"] == {"value": N_MAIN + N_OTHER, "relation": "eq"} and body["others"] == 0
    found = {p["template"]: p for p in body["patterns"]}
    assert {t: p["count"] for t, p in found.items()} == {"main line <*>": N_MAIN, "other line <*>": N_OTHER}
    main = found["main line <*>"]
    assert main["id"] == pattern_id("main line <*>")
    assert main["first_seen"].startswith("2026-11-25T09:46:40.000") and main["sample"] == f"main line {N_MAIN - 1}"
    assert len(main["over_time"]) == 24 and sum(b["count"] for b in main["over_time"]) == N_MAIN
    # The most frequent first; another team's key sees its own patterns only, an operator's all of them.
    assert [p["template"] for p in body["patterns"]] == ["main line <*>", "other line <*>"]
    bank = _get(client, tokens["bank"], "/v1/patterns", **{"from": "2026-11-25T00:00:00Z",
                                                           "to": "2026-11-25T23:59:59Z"}, interval="1h").json()
    assert [(p["template"], p["count"]) for p in bank["patterns"]] == [("bank line <*>", N_BANK)]
    ops = _get(client, tokens["ops"], "/v1/patterns", top=2, interval="1d").json()
    assert [p["template"] for p in ops["patterns"]] == ["main line <*>", "other line <*>"] and ops["others"] == N_BANK
    # Filters narrow it as they narrow a search; out of scope is refused; the histogram is bounded.
    assert [p["count"] for p in _get(client, tokens["shop"], "/v1/patterns", level="error",
                                     interval="1d").json()["patterns"]] == \
        [sum(_level(i) == "error" for i in range(N_MAIN))]
    assert _get(client, tokens["shop"], "/v1/patterns", namespace="bank").status_code == 403
    res = _get(client, tokens["shop"], "/v1/patterns", interval="1s")
    assert res.status_code == 400 and "interval" in res.json()["detail"]


def test_a_pattern_s_lines_are_one_filter_away(explore) -> None:  # noqa: ANN001
    client, tokens, _, _ = explore
    other = pattern_id("other line <*>")
    page = _get(client, tokens["shop"], "/v1/logs", pattern=other, size=100, sort="asc").json()
    assert [d["message"] for d in page["documents"]] == [f"other line {i}" for i in range(N_OTHER)]
    assert {d["logjet"]["pattern"]["id"] for d in page["documents"]} == {other}
    # The facets and their histogram count the pattern's lines only.
    facets = _get(client, tokens["shop"], "/v1/facets", pattern=other, interval="1d").json()
    assert facets["total"]["value"] == N_OTHER
    assert {v["value"]: v["count"] for v in facets["facets"]["level"]} == {"warn": N_OTHER}
    assert sum(b["count"] for b in facets["over_time"]) == N_OTHER
    # A pattern id is no way around the scope: the bank's lines stay out of the shop's key.
    bank = pattern_id("bank line <*>")
    assert _get(client, tokens["shop"], "/v1/logs", pattern=bank).json()["total"]["value"] == 0
    assert _get(client, tokens["bank"], "/v1/logs", pattern=bank).json()["total"]["value"] == N_BANK

"""The index mapping against content, with the real Elasticsearch: a tenant logging thousands of distinct JSON keys
cannot exhaust the field limit, and the first document after a rollover cannot fix a field's type, for anyone else."""

from __future__ import annotations

import threading

import httpx
import orjson

from logjet.config import LogjetSettings
from logjet.wire import Batch, Entry, Source
from processor.worker import Worker
from shippers.kafka import KafkaShipper
from tests.integration.conftest import es_count, wait_for

T0 = 1_795_600_000_000_000_000


def _run_worker(settings: LogjetSettings, documents: int) -> Worker:
    worker = Worker(settings)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: worker.stats.indexed + worker.stats.dead_lettered >= documents, 120, "the processor")
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    return worker


def _ship(settings: LogjetSettings, source: Source, lines: list[str], first_seq: int = 0) -> None:
    shipper = KafkaShipper(settings.kafka)
    shipper.send(Batch(source, [Entry(first_seq + i, T0 + i, line) for i, line in enumerate(lines)]), lambda b: None)
    assert shipper.flush(30)


def _source(namespace: str) -> Source:
    return Source(f"container:n:{namespace}", "container", "n", "n", None,
                  {"kubernetes.namespace": namespace, "container.name": namespace})


# Lines of an ordinary tenant, each bringing fields a fresh index has not mapped yet.
QUIET = [
    '{"@timestamp":"2026-11-25T10:00:00Z","level":"info","msg":"ecs","service":{"name":"cart","version":"1.2"},'
    '"trace.id":"t1","span.id":"s1","error":{"type":"E","message":"m"},"log":{"logger":"a.b"},"process.pid":7}',
    '10.1.2.3 - bob [25/Nov/2026:10:00:00 +0000] "GET /cart HTTP/1.1" 200 512 "http://r/" "curl/8.0"',
    "Nov 25 10:00:00 web-1 sshd[42]: Accepted publickey for deploy",
    "2026-11-25 10:00:00,123 WARN [main] c.e.Service - slow",
    'level=info msg="reconciled" objects=3',
]


def _mapping(settings: LogjetSettings) -> dict:
    es = settings.elasticsearch
    res = httpx.get(f"{es.url}/{es.data_stream}/_mapping")
    res.raise_for_status()
    return res.json()


def _leaves(node: dict) -> int:
    return sum(_leaves(v["properties"]) if "properties" in v else 1 for v in node.values())


def test_a_tenant_logging_5000_distinct_json_keys_costs_one_field_and_fails_nobody(make_settings) -> None:
    settings = make_settings()
    noisy = [orjson.dumps({"msg": f"noisy {i}", **{f"k{i * 100 + j}": j for j in range(100)}}).decode()
             for i in range(50)]  # 5,000 distinct keys, 100 a line
    _ship(settings, _source("noisy"), noisy)
    _ship(settings, _source("quiet"), QUIET)
    worker = _run_worker(settings, len(noisy) + len(QUIET))
    assert worker.stats.dead_lettered == 0 and worker.stats.indexed == len(noisy) + len(QUIET)
    wait_for(lambda: es_count(settings) == len(noisy) + len(QUIET), 30, "every document searchable")
    (index_mapping,) = _mapping(settings).values()
    assert _leaves(index_mapping["mappings"]["properties"]) < 150
    # The noisy tenant's own keys are still searchable, all of them, in the one flattened field.
    es = settings.elasticsearch
    for key, value in (("k4999", "99"), ("k0", "0")):
        found = httpx.post(f"{es.url}/{es.data_stream}/_count", json={"query": {"term": {f"json.{key}": value}}})
        assert found.json()["count"] == 1


def test_the_first_document_after_a_rollover_fixes_no_type_for_the_others(make_settings) -> None:
    settings = make_settings(processor={"parsers": [
        {"name": "reason", "when": {"kubernetes_namespace": "*"}, "regex": r"^T (?P<event__reason>\S+)$"}]})
    es = settings.elasticsearch
    _ship(settings, _source("warm"), ["the data stream's first document"])
    _run_worker(settings, 1)
    rolled = httpx.post(f"{es.url}/{es.data_stream}/_rollover")
    assert rolled.status_code == 200 and rolled.json()["rolled_over"], rolled.text
    new_index = rolled.json()["new_index"]

    # An attacker writes first into the new backing index: every field with a value of the wrong type.
    first = [orjson.dumps({"msg": "first", "service.name": 1, "trace.id": 7, "process.pid": "abc",
                           "log.origin.file.line": "x", "error": {"message": {"x": 1}}, "span": {"id": [1, 2]},
                           "json": 5, "labels": {"team": 1}, "kubernetes.namespace": 5}).decode(),
             "T 2026-01-01", '{"msg":"dates","when":"2026-01-01","n":1}']
    _ship(settings, _source("evil"), first)
    assert _run_worker(settings, len(first)).stats.dead_lettered == 0
    others = ['{"msg":"a","service":"payments","trace.id":"abc","process.pid":42,"log.origin.file.line":12}',
              '{"msg":"b","service":{"name":"ledger"},"error":{"message":"boom"},"span.id":"s","json":"x"}',
              "T timeout", '{"msg":"dates","when":"soon","n":"many"}', *QUIET]
    _ship(settings, _source("payments"), others)
    worker = _run_worker(settings, len(others))
    assert worker.stats.dead_lettered == 0 and worker.stats.indexed == len(others)

    props = _mapping(settings)[new_index]["mappings"]["properties"]
    assert props["service"]["properties"]["name"]["type"] == "keyword"
    assert props["process"]["properties"]["pid"]["type"] == "long"
    assert props["log"]["properties"]["origin"]["properties"]["file"]["properties"]["line"]["type"] == "long"
    assert props["event"]["properties"]["reason"]["type"] == "keyword"  # not a date, though a date came first
    assert props["event"]["properties"]["hash"] == {"type": "keyword", "index": False}
    assert props["json"]["type"] == "flattened" and props["kubernetes"]["properties"]["namespace"]["type"] == "keyword"
    # The attacker's values are kept where they do no harm.
    httpx.post(f"{es.url}/{es.data_stream}/_refresh")
    hits = httpx.post(f"{es.url}/{new_index}/_search", json={"query": {"term": {"json.process.pid": "abc"}}}).json()
    (hit,) = hits["hits"]["hits"]
    assert hit["_source"]["service"] == {"name": 1} and hit["_source"]["kubernetes"] == {"namespace": "evil"}


def many_fields(message: str) -> dict[str, str] | None:
    """A user parser function that makes a field of every word of the line (content choosing field names)."""
    if not message.startswith("MANY "):
        return None
    return {f"event.{word}": "x" for word in message.split()[1:]}


def test_fields_past_the_limit_are_left_unmapped_instead_of_failing_the_next_tenant(make_settings) -> None:
    settings = make_settings(processor={"parsers": [
        {"name": "many", "when": {"kubernetes_namespace": "noisy"},
         "function": "tests.integration.test_mapping:many_fields"},
        {"name": "checkout", "when": {"kubernetes_namespace": "quiet"},
         "regex": r"^checkout (?P<event__action>\w+)$"}]})
    noisy = ["MANY " + " ".join(f"k{i * 500 + j}" for j in range(500)) for i in range(3)]  # 1,500 new fields
    _ship(settings, _source("noisy"), noisy)
    assert _run_worker(settings, len(noisy)).stats.dead_lettered == 0
    _ship(settings, _source("quiet"), ["checkout paid"])
    worker = _run_worker(settings, 1)
    assert worker.stats.dead_lettered == 0 and worker.stats.indexed == 1
    es = settings.elasticsearch
    httpx.post(f"{es.url}/{es.data_stream}/_refresh")
    hits = httpx.post(f"{es.url}/{es.data_stream}/_search",
                      json={"query": {"term": {"kubernetes.namespace": "quiet"}}}).json()["hits"]["hits"]
    assert [h["_source"]["event"]["action"] for h in hits] == ["paid"]  # kept in _source, though not mapped
    (index_mapping,) = _mapping(settings).values()
    assert _leaves(index_mapping["mappings"]["properties"]) <= 1000

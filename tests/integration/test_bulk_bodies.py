"""The compiled core's bulk buffer sent as it is: requests cut from it by the shipper reach the real Elasticsearch
intact, documents of records handed back to the Python path (user parsers) spliced in their place."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson

from benchmarks.corpus import wire_records
from benchmarks.hot_path import StandInRecord
from logjet.config import ParserRule
from processor.transform import Transform
from shippers.elasticsearch import ElasticsearchShipper, install_template, make_client
from shippers.elasticsearch.encoder import BulkDocs


def test_requests_cut_from_the_core_buffer_index_every_document_as_encoded(make_settings) -> None:
    rule = ParserRule(name="sys", when={"source_kind": "syslog"}, regex=r"^(?P<never__matches>\x00)")
    settings = make_settings(processor={"parsers": [rule.model_dump()]})
    es = settings.elasticsearch
    records = [StandInRecord(k, v, h, i) for i, (k, v, h) in enumerate(wire_records(3000, 100))]
    assert any(b'"kind":"syslog"' in r.value() for r in records)  # records the rule sends to the Python path
    transform = Transform(settings.processor, es)
    transform.clock = lambda: 1_800_000_000_123_456_789  # event.ingested: the same for both transforms
    out = transform(records)
    docs = out.docs
    assert isinstance(docs, BulkDocs) and len(docs) == 3000 and not out.dead
    assert docs.body(0, len(docs)) == BulkDocs.of(transform.reference(records).docs).body(0, 3000)

    client = make_client(es)
    install_template(client, es)
    bodies: list[bytes] = []
    bulk: Callable = client.bulk

    def recorded_bulk(**kwargs):  # noqa: ANN003, ANN202 - records what the real client is given
        bodies.append(kwargs["operations"])
        return bulk(**kwargs)

    client.bulk = recorded_bulk  # type: ignore[method-assign]
    shipper = ElasticsearchShipper(client, es, retry_max_s=1, bulk_max_bytes=256 << 10, concurrency=3,
                                   bulk_max_docs=400)
    result = shipper.send(es.data_stream, docs)
    assert result.indexed == 3000 and not result.rejected and not result.conflicts
    # Each request is one run of consecutive documents: together the buffer, in order, within the limits.
    assert b"".join(sorted(bodies, key=docs.body(0, 3000).index)) == docs.body(0, 3000)
    assert len(bodies) == len(docs.chunks(1 << 20, 400)) and all(len(b) <= 1 << 20 for b in bodies)

    httpx.post(f"{es.url}/{es.index_pattern}/_refresh")
    wanted = [docs[i] for i in range(0, 3000, 97)]
    hits = httpx.post(f"{es.url}/{es.index_pattern}/_search", json={
        "size": 100, "query": {"ids": {"values": [doc_id for doc_id, _ in wanted]}}}).json()["hits"]["hits"]
    assert {h["_id"]: h["_source"] for h in hits} == {i: orjson.loads(b) for i, b in wanted}

"""Translate /v1/logs parameters into an Elasticsearch search: no scripts, no raw DSL from clients.

Paging runs in a point in time: the first page opens one, every cursor carries its id and the last hit's sort
values, so deep paging is stable while data arrives. The caller's scope is added to every query by the server,
whatever the cursor says.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

__all__ = ["FILTER_FIELDS", "Cursor", "build_search", "decode_cursor", "encode_cursor"]

# Query parameter -> ECS field, for exact-match filters.
FILTER_FIELDS = {
    "level": "log.level", "host": "host.name", "path": "log.file.path", "service": "service.name",
    "container": "container.name", "pod": "kubernetes.pod.name", "namespace": "kubernetes.namespace",
    "stream": "log.iostream",
}

Cursor = tuple[str | None, list[Any]]  # (point-in-time id, search_after)


def encode_cursor(pit_id: str | None, sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"p": pit_id, "a": sort_values})).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise ValueError("cursor is not one this API issued") from exc
    if not isinstance(doc, dict):
        raise ValueError("cursor is not one this API issued")
    pit, after = doc.get("p"), doc.get("a")
    if not (pit is None or isinstance(pit, str)) or not isinstance(after, list) or not 2 <= len(after) <= 3 \
            or not all(isinstance(v, int | str) for v in after):
        raise ValueError("cursor is not one this API issued")
    return pit, after


def build_search(*, time_from: str, time_to: str, q: str | None, filters: dict[str, str | None],
                 fields: dict[str, str], size: int, order: str, search_after: list[Any] | None,
                 scope: dict[str, Any] | None) -> dict[str, Any]:
    must: list[dict[str, Any]] = []
    flt: list[dict[str, Any]] = [{"range": {"@timestamp": {"gte": time_from, "lte": time_to}}}]
    if scope is not None:
        flt.append(scope)
    if q:
        must.append({"simple_query_string": {"query": q, "fields": ["message"], "default_operator": "and",
                                             # No regexes, no fuzzy expansions: a client cannot make it slow.
                                             "flags": "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE"}})
    for param, value in filters.items():
        if value is not None:
            flt.append({"term": {FILTER_FIELDS[param]: value}})
    for field, value in fields.items():
        flt.append({"term": {field: value}})
    body: dict[str, Any] = {
        "query": {"bool": {"must": must, "filter": flt}},
        "size": size,
        # event.id (the stable entry id) breaks ties between equal timestamps, so search_after never skips.
        "sort": [{"@timestamp": {"order": order, "format": "strict_date_optional_time_nanos"}},
                 {"event.id": {"order": order}}],
        "track_total_hits": 10_000,
    }
    if search_after:
        body["search_after"] = search_after
    return body

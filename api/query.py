"""Translate /v1/logs parameters into an Elasticsearch search: no scripts, no raw DSL from clients."""

from __future__ import annotations

import base64
from typing import Any

import orjson

__all__ = ["FILTER_FIELDS", "build_search", "decode_cursor", "encode_cursor"]

# Query parameter -> ECS field, for exact-match filters.
FILTER_FIELDS = {"level": "log.level", "host": "host.name", "path": "log.file.path"}


def encode_cursor(sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(sort_values)).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise ValueError("cursor is not one this API issued") from exc
    if not isinstance(values, list) or len(values) != 2 or not all(isinstance(v, (int, str)) for v in values):
        raise ValueError("cursor is not one this API issued")
    return values


def build_search(*, time_from: str, time_to: str, q: str | None, filters: dict[str, str | None], size: int,
                 order: str, cursor: str | None) -> dict[str, Any]:
    must: list[dict[str, Any]] = []
    flt: list[dict[str, Any]] = [{"range": {"@timestamp": {"gte": time_from, "lte": time_to}}}]
    if q:
        must.append({"simple_query_string": {"query": q, "fields": ["message"], "default_operator": "and"}})
    for param, value in filters.items():
        if value is not None:
            flt.append({"term": {FILTER_FIELDS[param]: value}})
    body: dict[str, Any] = {
        "query": {"bool": {"must": must, "filter": flt}},
        "size": size,
        # event.id (the stable entry id) breaks ties between equal timestamps, so search_after never skips.
        "sort": [{"@timestamp": {"order": order, "format": "strict_date_optional_time_nanos"}},
                 {"event.id": {"order": order}}],
        "track_total_hits": 10_000,
    }
    if cursor:
        body["search_after"] = decode_cursor(cursor)
    return body

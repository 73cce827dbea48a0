"""The explorer's questions: the values of a search's facets with their counts, its histogram split by level, and the
lines around one document in its source.

Both are searches the server builds (no client DSL) with the caller's scope as one more filter, as for /v1/logs: a
facet counts only what the key may read, and a document outside the scope has no context (it is not found).
"""

from __future__ import annotations

from typing import Any

__all__ = ["FACETS", "LEVEL_SPLIT", "context_queries", "facets_query", "read_facets", "target_query"]

# Facet name (as the /v1/logs filter of the same name) -> ECS field.
FACETS = {"level": "log.level", "service": "service.name", "namespace": "kubernetes.namespace",
          "container": "container.name", "host": "host.name"}
# Levels a histogram bucket is split into; a source with more distinct levels is a data problem, not a chart's.
LEVEL_SPLIT = 12

# Where the processor writes a line's origin (processor/ecs.py): the source's id and the entry's sequence number in it.
SOURCE_ID, SEQ = "logjet.source.id", "logjet.seq"


def facets_query(search: dict[str, Any], size: int, interval: str | None, time_from: str,
                 time_to: str) -> dict[str, Any]:
    """The aggregation search over ``search``'s query (a ``build_search`` body): each facet's top ``size`` values, and
    with ``interval`` the counts over time by level."""
    aggs: dict[str, Any] = {name: {"terms": {"field": field, "size": size}} for name, field in FACETS.items()}
    if interval is not None:
        aggs["over_time"] = {
            "date_histogram": {"field": "@timestamp", "fixed_interval": interval, "min_doc_count": 0,
                               "extended_bounds": {"min": time_from, "max": time_to}},
            "aggs": {"by": {"terms": {"field": FACETS["level"], "size": LEVEL_SPLIT}}}}
    return {"query": search["query"], "size": 0, "track_total_hits": True, "aggs": aggs}


def read_facets(resp: dict[str, Any]) -> dict[str, Any]:
    aggs = resp.get("aggregations", {})
    total = resp["hits"]["total"]
    out: dict[str, Any] = {
        "total": {"value": total["value"], "relation": total["relation"]},
        "facets": {name: [{"value": b["key"], "count": b["doc_count"]} for b in aggs.get(name, {}).get("buckets", [])]
                   for name in FACETS},
    }
    if "over_time" in aggs:
        out["over_time"] = [{"time": b["key_as_string"], "count": b["doc_count"],
                             "by": {k["key"]: k["doc_count"] for k in b["by"]["buckets"]}}
                            for b in aggs["over_time"]["buckets"]]
    return out


def _filters(scope: dict[str, Any] | None, *more: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"filter": [*more, *([scope] if scope is not None else [])]}}


def target_query(event_id: str, scope: dict[str, Any] | None) -> dict[str, Any]:
    """The document with this ``event.id``, if the scope lets the caller read it."""
    return {"query": _filters(scope, {"term": {"event.id": event_id}}), "size": 1}


def context_queries(source_id: str, seq: int, before: int, after: int,
                    scope: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The searches for the ``before`` entries of the same source just before ``seq`` (nearest first) and the
    ``after`` entries just after it, each within the scope: a neighbour the key may not read is not shown."""
    same = {"term": {SOURCE_ID: source_id}}

    def side(op: str, size: int, order: str) -> dict[str, Any]:
        return {"query": _filters(scope, same, {"range": {SEQ: {op: seq}}}), "size": size,
                # A backing index that has never seen the field (an older generation) sorts without failing.
                "sort": [{SEQ: {"order": order, "unmapped_type": "long"}}]}

    return side("lt", before, "desc"), side("gt", after, "asc")

"""GET /v1/patterns: the log patterns (processor/patterns.py) of a search, most frequent first, each with its count,
first and last time seen, its latest line and its counts over time; the search's scope and filters are the caller's,
exactly as for /v1/logs."""

from __future__ import annotations

from typing import Any

__all__ = ["PATTERN_FIELD", "patterns_query", "read_patterns"]

PATTERN_FIELD = "logjet.pattern.id"


def patterns_query(search: dict[str, Any], top: int, interval: str, time_from: str, time_to: str) -> dict[str, Any]:
    """The aggregation search over ``search``'s query (a ``build_search`` body)."""
    return {
        "query": search["query"],
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "patterns": {
                # A shard_size above size: the counts of the top patterns are exact far more often over many shards.
                "terms": {"field": PATTERN_FIELD, "size": top, "shard_size": max(top * 5, 50)},
                "aggs": {
                    "first": {"min": {"field": "@timestamp"}},
                    "last": {"max": {"field": "@timestamp"}},
                    "sample": {"top_hits": {"size": 1, "sort": [{"@timestamp": "desc"}],
                                            "_source": ["message", "logjet.pattern.template"]}},
                    "over_time": {"date_histogram": {"field": "@timestamp", "fixed_interval": interval,
                                                     "min_doc_count": 0,
                                                     "extended_bounds": {"min": time_from, "max": time_to}}},
                },
            },
        },
    }


def read_patterns(resp: dict[str, Any]) -> dict[str, Any]:
    aggs = resp.get("aggregations", {}).get("patterns", {})
    out = []
    for b in aggs.get("buckets", []):
        hits = b["sample"]["hits"]["hits"]
        source = hits[0]["_source"] if hits else {}
        out.append({
            "id": b["key"],
            "template": source.get("logjet", {}).get("pattern", {}).get("template", ""),
            "count": b["doc_count"],
            "first_seen": b["first"].get("value_as_string"),
            "last_seen": b["last"].get("value_as_string"),
            "sample": source.get("message", ""),
            "over_time": [{"time": t["key_as_string"], "count": t["doc_count"]} for t in b["over_time"]["buckets"]],
        })
    total = resp["hits"]["total"]
    return {"total": {"value": total["value"], "relation": total["relation"]},
            "others": aggs.get("sum_other_doc_count", 0), "patterns": out}

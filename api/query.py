"""Translate /v1/logs parameters into an Elasticsearch search: no scripts, no raw DSL from clients.

Paging: the first page is a plain search for one document more than asked, so a single-page answer never opens a
point in time; only when a next page exists is one opened (kept ``api.pit_keep_alive`` after each page) and its id
carried in the cursor, with the last hit's sort values; the last page closes it. The open points in time are
counted per key and in all (``PitRegistry``): beyond either limit a walk goes on without one. The caller's scope is
added to every query by the server, whatever the cursor says.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson

__all__ = ["FILTER_FIELDS", "MAX_EXCLUDES", "Cursor", "PitRegistry", "build_search", "check_cursor", "cut_page",
           "parse_excludes"]

# Query parameter -> ECS field, for exact-match filters.
FILTER_FIELDS = {
    "level": "log.level", "host": "host.name", "path": "log.file.path", "service": "service.name",
    "container": "container.name", "pod": "kubernetes.pod.name", "namespace": "kubernetes.namespace",
    "stream": "log.iostream", "pattern": "logjet.pattern.id",
}

# Bounds an exclusion list, so no request makes a query of unbounded size.
MAX_EXCLUDES = 32

Cursor = tuple[str | None, list[Any], str]  # (point-in-time id, search_after, sort order)


def parse_excludes(items: list[str] | None) -> list[tuple[str, str]]:
    """``exclude=<filter>:<value>`` parameters as (ECS field, value); ValueError naming what is accepted."""
    out: list[tuple[str, str]] = []
    for item in items or []:
        name, sep, value = item.partition(":")
        if not sep or name not in FILTER_FIELDS:
            raise ValueError(f"exclusions are name:value with name in {sorted(FILTER_FIELDS)}")
        out.append((FILTER_FIELDS[name], value))
    if len(out) > MAX_EXCLUDES:
        raise ValueError(f"at most {MAX_EXCLUDES} exclusions")
    return out


def check_cursor(value: Any) -> Cursor:
    """The parts of a verified cursor's payload (``{"p": pit id, "a": search_after, "o": order}``)."""
    if not isinstance(value, dict):
        raise ValueError("cursor is not one this API issued")
    pit, after, order = value.get("p"), value.get("a"), value.get("o")
    if not (pit is None or isinstance(pit, str)) or not isinstance(after, list) or not 2 <= len(after) <= 3 \
            or not all(isinstance(v, int | str) for v in after) or order not in ("asc", "desc"):
        raise ValueError("cursor is not one this API issued")
    return pit, after, order


def cut_page(hits: list[dict[str, Any]], size: int, max_bytes: int) -> tuple[list[dict[str, Any]], bool]:
    """The hits a page returns (at most ``size``, and no more than ``max_bytes`` of JSON unless that leaves none)
    and whether documents remain after them (``hits`` holds one more than ``size`` when a next page exists)."""
    page: list[dict[str, Any]] = []
    used = 0
    for hit in hits[:size]:
        used += len(orjson.dumps(hit["_source"]))
        if page and used > max_bytes:
            return page, True
        page.append(hit)
    return page, len(hits) > size


class PitRegistry:
    """The points in time this API process opened and has not closed, by key, each until it would expire.

    Elasticsearch closes an abandoned one at its keep-alive; counting it until then keeps the number open bounded
    however many walks clients start and leave.
    """

    def __init__(self, per_key: int, total: int, keep_alive_s: float) -> None:
        self.per_key, self.total, self.keep_alive_s = per_key, total, keep_alive_s
        self._open: dict[str, tuple[str, float]] = {}  # pit id -> (key, expiry on the monotonic clock)
        self._lock = threading.Lock()  # pages are served on the thread pool

    def _prune(self) -> None:
        now = time.monotonic()
        for pit_id in [p for p, (_, expiry) in self._open.items() if expiry <= now]:
            del self._open[pit_id]

    def reserve(self, key: str) -> bool:
        """Count a point in time about to be opened for ``key``, if both limits allow it."""
        with self._lock:
            self._prune()
            mine = sum(1 for owner, _ in self._open.values() if owner == key)
            if len(self._open) >= self.total or mine >= self.per_key:
                return False
            self._open[f"reserved:{key}:{time.monotonic_ns()}"] = (key, time.monotonic() + self.keep_alive_s)
            return True

    def opened(self, pit_id: str | None, key: str) -> None:
        """The reserved point in time is open (``pit_id``) or could not be (None)."""
        with self._lock:
            reserved = next((p for p, (owner, _) in self._open.items()
                             if owner == key and p.startswith("reserved:")), None)
            if reserved:
                del self._open[reserved]
            if pit_id:
                self._open[pit_id] = (key, time.monotonic() + self.keep_alive_s)

    def used(self, old_id: str, new_id: str, key: str) -> None:
        """A page was served with ``old_id``; Elasticsearch may answer with a new id for the same context. A point in
        time opened by another replica is counted here from now on."""
        with self._lock:
            self._open.pop(old_id, None)
            self._open[new_id] = (key, time.monotonic() + self.keep_alive_s)

    def closed(self, pit_id: str) -> None:
        with self._lock:
            self._open.pop(pit_id, None)

    def __len__(self) -> int:
        with self._lock:
            self._prune()
            return len(self._open)


def build_search(*, time_from: str, time_to: str, q: str | None, filters: dict[str, str | None],
                 fields: dict[str, str], size: int, order: str, search_after: list[Any] | None,
                 scope: dict[str, Any] | None, exclude: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The search body; the scope is one more filter, and exclusions only remove documents from what it allows."""
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
    if exclude:
        flt.append({"bool": {"must_not": [{"term": {field: value}} for field, value in exclude]}})
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

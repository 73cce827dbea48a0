"""Live tail: documents in the order Elasticsearch indexed them, as Server-Sent Events, resumable with
``Last-Event-ID``.

The order. Each shard of a data stream's backing index numbers the operations it indexes: ``_seq_no``, dense and
increasing per shard. A tail follows, per data stream, the write index and the one before it, each shard from a
sequence number, and delivers a shard's matching documents in ``_seq_no`` order. Timestamps are not used: a
timestamp is taken before the document becomes searchable, so a cursor on one can pass a document that shows up
later; a sequence number is not passed until every operation up to it is known to be searchable, in one of two ways
(``Follower._safe``):

- counted (a shard without replicas): it holds exactly ``C - s`` documents with a sequence number in ``(s, C]``, so
  all of them are visible (a sequence number belongs to one document);
- refreshed: ``C`` was the shard's global checkpoint (every operation up to it processed) when the shard's copies
  had made ``R`` refreshes, and every copy has now made ``R + 2``: the second of those began after ``C`` was
  processed, and a refresh makes searchable all that was processed before it began. A number still missing then is
  an operation that left no document (Elasticsearch refused it) and is passed.

Nothing before the position is sent again, nothing at or below a safe bound is missed, whatever the bulk latency or
the refresh interval. A document indexed into a backing index two rollovers old is not followed (data streams write
to the newest; the one before is kept for the operations in flight at the rollover).

The tail holds two pages (``page_size`` documents each: the one being written, the next read ahead) and its
position (a few numbers per data stream); it writes no faster than the client reads. The shards' state (``_stats``)
is read once for all tails of the process.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from elasticsearch import Elasticsearch, NotFoundError
from fastapi.concurrency import run_in_threadpool

__all__ = ["Follower", "IndexState", "ShardState", "ShardWatcher", "TailSlots", "check_position", "sse"]

_BACKING = re.compile(r"^\.ds-(?P<stream>.+)-\d{4}\.\d\d\.\d\d-(?P<generation>\d+)$")
_TRACKED_GENERATIONS = 2  # the write index and the one before it (operations in flight at a rollover)
_MAX_OBSERVATIONS = 16
Position = dict[str, dict[str, list[int]]]  # data stream -> generation -> next-to-last sequence number per shard


def sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    head = f"event: {event}\nid: {event_id}\n" if event_id else f"event: {event}\n"
    return head.encode() + b"data: " + orjson.dumps(data) + b"\n\n"


def check_position(value: Any) -> Position:
    """A verified Last-Event-ID's payload, checked for shape."""
    ok = isinstance(value, dict) and all(
        isinstance(stream, str) and isinstance(gens, dict) and len(gens) <= _TRACKED_GENERATIONS
        and all(g.isdigit() and isinstance(seqs, list) and seqs and all(isinstance(s, int) for s in seqs)
                for g, seqs in gens.items())
        for stream, gens in value.items())
    if not ok:
        raise ValueError("Last-Event-ID is not one this API issued")
    return value


@dataclass(frozen=True)
class ShardState:
    checkpoint: int  # the global checkpoint: every operation at or below it is processed on every copy
    refreshes: tuple[tuple[str, int], ...]  # (copy, refreshes it made), per copy


@dataclass(frozen=True)
class IndexState:
    name: str
    stream: str
    generation: int
    shards: tuple[ShardState, ...]


def parse_stats(stats: dict[str, Any]) -> dict[str, list[IndexState]]:
    """Backing indices by data stream, oldest generation first, from ``_stats`` at shard level."""
    out: dict[str, list[IndexState]] = {}
    for name, index in stats.get("indices", {}).items():
        m = _BACKING.match(name)
        if not m:
            continue
        shards = []
        for number in sorted(index.get("shards", {}), key=int):
            copies = [c for c in index["shards"][number] if c.get("routing", {}).get("state") == "STARTED"]
            if not copies:
                break
            shards.append(ShardState(min(c["seq_no"]["global_checkpoint"] for c in copies),
                                     tuple(sorted((f'{c["routing"]["node"]}:{c["routing"]["primary"]}',
                                                   c["refresh"]["external_total"]) for c in copies))))
        else:
            out.setdefault(m["stream"], []).append(IndexState(name, m["stream"], int(m["generation"]),
                                                              tuple(shards)))
    for indices in out.values():
        indices.sort(key=lambda i: i.generation)
    return out


class ShardWatcher:
    """The shards' state, read at most every ``ttl_s`` for all tails of the process."""

    def __init__(self, client: Elasticsearch, pattern: str, ttl_s: float = 0.2) -> None:
        self.client, self.pattern, self.ttl_s = client, pattern, ttl_s
        self._lock = asyncio.Lock()
        self._at = 0.0
        self._view: dict[str, list[IndexState]] = {}

    def _read(self) -> dict[str, list[IndexState]]:
        try:
            stats = self.client.indices.stats(
                index=self.pattern, metric="refresh", level="shards", expand_wildcards="open",
                filter_path="indices.*.shards.*.routing,indices.*.shards.*.seq_no,"
                            "indices.*.shards.*.refresh.external_total")
        except NotFoundError:
            return {}
        return parse_stats(dict(stats))

    async def view(self) -> dict[str, list[IndexState]]:
        async with self._lock:
            if time.monotonic() - self._at >= self.ttl_s:
                self._view = await run_in_threadpool(self._read)
                self._at = time.monotonic()
            return self._view


class TailSlots:
    """Open tails, per key and in all; a tail that cannot have a slot is refused (429)."""

    def __init__(self, per_key: int, total: int) -> None:
        self.per_key, self.total = per_key, total
        self._by_key: dict[str, int] = {}

    def acquire(self, key: str) -> bool:
        if self.open() >= self.total or self._by_key.get(key, 0) >= self.per_key:
            return False
        self._by_key[key] = self._by_key.get(key, 0) + 1
        return True

    def release(self, key: str) -> None:
        left = self._by_key.get(key, 0) - 1
        if left > 0:
            self._by_key[key] = left
        else:
            self._by_key.pop(key, None)

    def open(self) -> int:
        return sum(self._by_key.values())


class Follower:
    """One tail's position and the observations that make its shards' sequence numbers safe to pass."""

    def __init__(self, client: Elasticsearch, filters: list[dict[str, Any]], page_size: int,
                 position: Position | None, preference: str) -> None:
        self.client, self.filters, self.page_size = client, filters, page_size
        self.position: Position = position if position is not None else {}
        self.fresh = position is None  # start at the present: what the first view shows is history
        self.preference = preference  # the same copy of a shard answers each of this tail's searches
        self._seen: dict[tuple[str, int], list[tuple[dict[str, int], int]]] = {}

    def track(self, view: dict[str, list[IndexState]]) -> None:
        """Bring the position in line with the indices that exist: new ones from their start (or, on the first
        view of a new tail, from their present), the oldest beyond the tracked generations dropped."""
        for stream, indices in view.items():
            gens = self.position.setdefault(stream, {})
            newest_known = max((int(g) for g in gens), default=-1)
            for index in indices[-_TRACKED_GENERATIONS:]:
                if index.generation > newest_known:
                    start = [s.checkpoint for s in index.shards] if self.fresh else [-1] * len(index.shards)
                    gens[str(index.generation)] = start
            for g in sorted(gens, key=int)[:-_TRACKED_GENERATIONS]:
                del gens[g]
        self.fresh = False

    def _count(self, index: str, shard: int, after: int, upto: int) -> int:
        resp = self.client.count(index=index, preference=f"_shards:{shard}|{self.preference}",
                                 query={"range": {"_seq_no": {"gt": after, "lte": upto}}})
        return int(resp["count"])

    def _safe(self, index: IndexState, shard: int, after: int) -> int:
        """The highest sequence number of this shard up to which every document is searchable (at least ``after``)."""
        state = index.shards[shard]
        seen = self._seen.setdefault((index.name, shard), [])
        if state.checkpoint > (seen[-1][1] if seen else after):
            seen.append((dict(state.refreshes), state.checkpoint))
            del seen[:-_MAX_OBSERVATIONS]
        now = dict(state.refreshes)
        safe = after
        for counts, checkpoint in seen:
            if counts.keys() == now.keys() and all(now[c] >= n + 2 for c, n in counts.items()):
                safe = max(safe, checkpoint)
        seen[:] = [(c, cp) for c, cp in seen if cp > safe]
        if len(now) != 1:  # with replicas the copy counted might not be the copy searched next: wait for refreshes
            return safe
        # Counting is cheaper than waiting: the newest observation (all visible on a quiet index), else the newest
        # one a refresh has ended since (most likely visible under steady writes).
        refreshed = [cp for c, cp in seen if c.keys() == now.keys() and all(now[k] > n for k, n in c.items())]
        for checkpoint in dict.fromkeys([cp for _, cp in seen[-1:]] + refreshed[-1:]):
            if self._count(index.name, shard, safe, checkpoint) == checkpoint - safe:
                safe = checkpoint
                seen[:] = [(c, cp) for c, cp in seen if cp > safe]
                break
        return safe

    def _fetch(self, index: str, shard: int, after: int, upto: int) -> list[dict[str, Any]]:
        flt = [*self.filters, {"range": {"_seq_no": {"gt": after, "lte": upto}}}]
        resp = self.client.search(index=index, preference=f"_shards:{shard}|{self.preference}",
                                  query={"bool": {"filter": flt}}, size=self.page_size,
                                  sort=[{"_seq_no": "asc"}], seq_no_primary_term=True, track_total_hits=False)
        return resp["hits"]["hits"]

    async def run(self, view: dict[str, list[IndexState]],
                  event_id: Callable[[Position], str]) -> AsyncIterator[list[tuple[str, dict[str, Any]]]]:
        """One round: every matching document up to each shard's safe bound, in order, a page at a time (each with
        the position just after it); then the position stands at those bounds."""
        self.track(view)
        for stream, indices in view.items():
            gens = self.position[stream]
            for index in indices:
                seqs = gens.get(str(index.generation))
                if seqs is None:
                    continue
                for shard in range(min(len(seqs), len(index.shards))):
                    try:
                        safe = await run_in_threadpool(self._safe, index, shard, seqs[shard])
                        if safe <= seqs[shard]:
                            continue
                        fetch = asyncio.ensure_future(
                            run_in_threadpool(self._fetch, index.name, shard, seqs[shard], safe))
                        while fetch is not None:
                            hits = await fetch
                            # The next page is read while this one is written to the client.
                            fetch = asyncio.ensure_future(run_in_threadpool(
                                self._fetch, index.name, shard, hits[-1]["_seq_no"], safe)) \
                                if len(hits) == self.page_size else None
                            page = []
                            for hit in hits:
                                seqs[shard] = hit["_seq_no"]
                                page.append((event_id(self.position), hit["_source"]))
                            try:
                                if page:
                                    yield page
                            except BaseException:
                                if fetch is not None:
                                    fetch.cancel()
                                raise
                        seqs[shard] = safe
                    except NotFoundError:  # the index was deleted (retention): nothing more comes from it
                        continue

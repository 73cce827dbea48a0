"""Send bulk requests and settle every item: indexed, refused as already indexed, or rejected for its content.

Only the unsettled items are re-sent, with capped jittered back-off, for as long as it takes: 429 and 5xx (the
cluster pushing back or failing), connection errors, and 401/403/404 (no privilege, a write block, a data stream that
cannot be made): those are the cluster's state, which changes, not the documents' fault. A 409 on ``create`` means
the id was indexed before and comes back in ``conflicts`` (with the backing index holding it) so the caller can tell
a replay from an identity collision. Any other 4xx item is the document's own fault and comes back in ``rejected``
with Elasticsearch's reason, for the dead-letter topic. A whole request refused for its size (413) or its content
(400) is split in halves until the documents at fault stand alone: only they are rejected. Nothing is dropped here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from logjet.config import ElasticsearchSettings
from logjet.errors import ElasticsearchUnavailable
from shippers.elasticsearch.encoder import BulkDocs, EncodedDoc, bulk_chunks
from shippers.elasticsearch.retry import backoff, retry_cause

__all__ = ["BulkResult", "ElasticsearchShipper"]

log = logging.getLogger("logjet.shippers.elasticsearch")


def _reason(status: int, item: dict) -> str:
    """An item's failure as dead letters and logs give it: ``<status> <type>: <reason>``."""
    err = item.get("error", {})
    return f"{status} {err.get('type')}: {err.get('reason')}"


@dataclass
class BulkResult:
    indexed: int = 0
    retried: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (position in the input, reason)
    # 409 on create: (position in the input, the backing index that holds the id)
    conflicts: list[tuple[int, str]] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return len(self.conflicts)


class ElasticsearchShipper:
    def __init__(self, client: Elasticsearch, settings: ElasticsearchSettings, retry_max_s: float = 30.0,
                 bulk_max_bytes: int = 10 << 20, on_retry: Callable[[int, str], None] | None = None,
                 concurrency: int = 1, bulk_max_docs: int = 20_000) -> None:
        self.client = client
        self.bulk_max_docs = bulk_max_docs
        self.concurrency = concurrency  # bulk requests in flight at once
        self._pool: ThreadPoolExecutor | None = None
        self.on_retry = on_retry  # told how many documents are re-sent and why, as it happens (metrics)
        self.settings = settings
        self.retry_max_s = retry_max_s
        self.bulk_max_bytes = bulk_max_bytes

    def send(self, index: str, docs: BulkDocs | Sequence[EncodedDoc], stop: threading.Event | None = None,
             grace_s: float = 20.0) -> BulkResult:
        """Index ``docs`` into ``index`` in requests of at most ``bulk_max_bytes``; returns once every item is
        settled. Positions in the result are indexes into ``docs``.

        Retries without end while running; once ``stop`` is set it keeps retrying for ``grace_s`` more seconds and
        then raises ``ElasticsearchUnavailable``, leaving the batch uncommitted for the next consumer.
        """
        bulk = BulkDocs.of(docs)
        # Each first request is a run of consecutive documents, its body one slice of the batch's buffer.
        chunks = list(bulk_chunks(bulk, self.bulk_max_bytes, self.bulk_max_docs, self.concurrency))
        results = [BulkResult() for _ in chunks]
        if len(chunks) == 1 or self.concurrency == 1:
            for (run, body), result in zip(chunks, results, strict=True):
                self._send_chunk(index, bulk, run, result, stop, grace_s, body)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="bulk")
            futures = [self._pool.submit(self._send_chunk, index, bulk, run, result, stop, grace_s, body)
                       for (run, body), result in zip(chunks, results, strict=True)]
            for future in futures:
                future.result()  # re-raises ElasticsearchUnavailable from any of them
        total = BulkResult()
        for r in results:
            total.indexed += r.indexed
            total.conflicts.extend(r.conflicts)
            total.retried += r.retried
            total.rejected.extend(r.rejected)
        return total

    def _send_chunk(self, index: str, docs: BulkDocs, pending: Sequence[int], result: BulkResult,
                    stop: threading.Event | None, grace_s: float, body: bytes | None = None) -> None:
        """Send the documents at ``pending`` (a ``range`` when consecutive: its body is one slice) until settled."""
        deadline: float | None = None
        attempt = 0
        while pending:
            if body is None:
                body = docs.body_of(pending)
            causes: Counter[str] = Counter()
            sample = ""  # one refusal's words, for the log
            try:
                resp = self.client.bulk(index=index, operations=body, filter_path="errors,items.*.status,"
                                        "items.*.error.type,items.*.error.reason,items.*.error.index")
            except (TransportError, ApiError) as exc:
                status = int(getattr(exc, "status_code", 0) or getattr(getattr(exc, "meta", None), "status", 0) or 0)
                if isinstance(exc, ApiError) and status in (400, 413):
                    # Refused as a whole, for its size (larger than http.max_content_length) or for what one of its
                    # documents holds (a line the bulk parser cannot read): halve until the culprits stand alone.
                    if len(pending) == 1:
                        reason = ("413 document larger than the cluster accepts (http.max_content_length)"
                                  if status == 413 else f"400 bulk request refused: {exc.message}")
                        log.warning("bulk request refused for one document alone: %s", reason)
                        result.rejected.append((pending[0], reason))
                        return
                    half = len(pending) // 2
                    self._send_chunk(index, docs, pending[:half], result, stop, grace_s)
                    self._send_chunk(index, docs, pending[half:], result, stop, grace_s)
                    return
                # 401/403 (credentials, privileges), 404 (no data stream could be made), 408, 429, 5xx, no
                # connection: the cluster or its configuration, not the documents. Dead-lettering would lose them all.
                causes[retry_cause(status) or "unavailable"] = len(pending)
                sample = str(exc)
                failed = pending
            else:
                failed = []
                items = resp.get("items", [])
                for pos, item in zip(pending, items, strict=True):
                    (res,) = item.values()
                    status = res["status"]
                    if status < 300:
                        result.indexed += 1
                    elif status == 409:
                        result.conflicts.append((pos, res.get("error", {}).get("index", "")))
                    elif (cause := retry_cause(status)) is not None:
                        failed.append(pos)
                        causes[cause] += 1
                        sample = sample or _reason(status, res)
                    else:
                        result.rejected.append((pos, _reason(status, res)))
            if not failed:
                return
            result.retried += len(failed)
            if self.on_retry is not None:
                for cause, n in causes.items():
                    self.on_retry(n, cause)
            # A request refused whole is sent again as the same bytes; a subset of its items is joined anew.
            pending, body = failed, (body if failed is pending else None)
            delay = backoff(attempt, self.retry_max_s)
            if attempt % 10 == 0:
                log.warning("%d documents not settled (%s; e.g. %s): the cluster's state, not the documents' fault, "
                            "so they are neither dead-lettered nor committed; retry %d in %.1fs", len(failed),
                            ", ".join(f"{n} {c}" for c, n in causes.items()), sample[:300], attempt + 1, delay)
            attempt += 1
            if stop is not None and stop.is_set() and deadline is None:
                deadline = time.monotonic() + grace_s
            if deadline is not None and time.monotonic() + delay > deadline:
                raise ElasticsearchUnavailable(f"{len(pending)} documents still unsettled at the deadline")
            time.sleep(delay)

    def stored_field(self, refs: Sequence[tuple[str, str]], path: str) -> dict[str, Any]:
        """The value at the dotted ``path`` of stored documents, by id, read in real time (no refresh needed);
        ``refs`` are (backing index, id). Documents or fields not found are left out.

        Raises ``ElasticsearchUnavailable`` when the cluster does not answer.
        """
        if not refs:
            return {}
        try:
            resp = self.client.mget(docs=[{"_index": idx, "_id": doc_id} for idx, doc_id in refs],
                                    source_includes=[path], realtime=True)
        except (TransportError, ApiError) as exc:
            raise ElasticsearchUnavailable(f"reading {path} of {len(refs)} stored documents: {exc}") from exc
        keys = path.split(".")
        found: dict[str, Any] = {}
        for doc in resp.get("docs", []):
            node: Any = doc.get("_source") if doc.get("found") else None
            for key in keys:
                node = node.get(key) if isinstance(node, dict) else None
            if node is not None:
                found[doc["_id"]] = node
        return found

"""Send bulk requests and settle every item: indexed, duplicate, or rejected for its content.

Only the failed items are re-sent, and only on 429, 5xx and connection errors, with capped jittered back-off;
a 409 on ``create`` means the entry was indexed before (a replay) and counts as a suppressed duplicate; any other
4xx is the document's own fault and comes back in ``rejected`` with Elasticsearch's reason, for the dead-letter
topic. A whole request refused for its size (413) is split; refused for credentials or a missing index, it is
retried like an outage, never dead-lettered wholesale. Nothing is dropped here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from elasticsearch import ApiError, Elasticsearch, TransportError

from logjet.config import ElasticsearchSettings
from logjet.errors import ElasticsearchUnavailable
from shippers.elasticsearch.encoder import EncodedDoc, chunks_by_size, encode_bulk
from shippers.elasticsearch.retry import backoff, retriable_status

__all__ = ["BulkResult", "ElasticsearchShipper"]

log = logging.getLogger("logjet.shippers.elasticsearch")


@dataclass
class BulkResult:
    indexed: int = 0
    duplicates: int = 0
    retried: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (position in the input, reason)


class ElasticsearchShipper:
    def __init__(self, client: Elasticsearch, settings: ElasticsearchSettings, retry_max_s: float = 30.0,
                 bulk_max_bytes: int = 10 << 20, on_retry: Callable[[int], None] | None = None,
                 concurrency: int = 1, bulk_max_docs: int = 20_000) -> None:
        self.client = client
        self.bulk_max_docs = bulk_max_docs
        self.concurrency = concurrency  # bulk requests in flight at once
        self._pool: ThreadPoolExecutor | None = None
        self.on_retry = on_retry  # told how many documents are re-sent, as it happens (metrics)
        self.settings = settings
        self.retry_max_s = retry_max_s
        self.bulk_max_bytes = bulk_max_bytes

    def send(self, index: str, docs: Sequence[EncodedDoc], stop: threading.Event | None = None,
             grace_s: float = 20.0) -> BulkResult:
        """Index ``docs`` into ``index`` in requests of at most ``bulk_max_bytes``; returns once every item is
        settled.

        Retries without end while running; once ``stop`` is set it keeps retrying for ``grace_s`` more seconds and
        then raises ``ElasticsearchUnavailable``, leaving the batch uncommitted for the next consumer.
        """
        limit = self.bulk_max_bytes
        if self.concurrency > 1:
            # Spread a large batch over the requests in flight; below ~1 MB one request is cheaper than several.
            total = sum(len(i) + len(b) for i, b in docs)
            limit = max(1 << 20, min(limit, -(-total // self.concurrency)))
        chunks = list(chunks_by_size(range(len(docs)), docs, limit, self.bulk_max_docs))
        results = [BulkResult() for _ in chunks]
        if len(chunks) == 1 or self.concurrency == 1:
            for chunk, result in zip(chunks, results, strict=True):
                self._send_chunk(index, docs, chunk, result, stop, grace_s)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="bulk")
            futures = [self._pool.submit(self._send_chunk, index, docs, chunk, result, stop, grace_s)
                       for chunk, result in zip(chunks, results, strict=True)]
            for future in futures:
                future.result()  # re-raises ElasticsearchUnavailable from any of them
        total = BulkResult()
        for r in results:
            total.indexed += r.indexed
            total.duplicates += r.duplicates
            total.retried += r.retried
            total.rejected.extend(r.rejected)
        return total

    def _send_chunk(self, index: str, docs: Sequence[EncodedDoc], pending: list[int], result: BulkResult,
                    stop: threading.Event | None, grace_s: float) -> None:
        deadline: float | None = None
        attempt = 0
        while pending:
            body = encode_bulk(docs[i] for i in pending)
            try:
                resp = self.client.bulk(index=index, operations=body, filter_path="errors,items.*.status,"
                                        "items.*.error.type,items.*.error.reason")
            except (TransportError, ApiError) as exc:
                status = int(getattr(exc, "status_code", 0) or getattr(getattr(exc, "meta", None), "status", 0) or 0)
                if isinstance(exc, ApiError) and status == 413:
                    # Larger than http.max_content_length: halve it; a lone document that large is its own fault.
                    if len(pending) == 1:
                        result.rejected.append((pending[0], "413 document larger than the cluster accepts "
                                                            "(http.max_content_length)"))
                        return
                    half = len(pending) // 2
                    self._send_chunk(index, docs, pending[:half], result, stop, grace_s)
                    self._send_chunk(index, docs, pending[half:], result, stop, grace_s)
                    return
                if isinstance(exc, ApiError) and status == 400:
                    # The request itself was refused for its content: every item in it is bad.
                    result.rejected.extend((i, f"bulk request refused: {exc.message}") for i in pending)
                    return
                # 401/403 (credentials), 404 (no data stream could be made), 408, 429, 5xx, no connection: the
                # cluster or its configuration, not the documents. Dead-lettering would lose them all: wait.
                log.warning("bulk request failed (%s); retrying %d documents", exc, len(pending))
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
                        result.duplicates += 1
                    elif retriable_status(status):
                        failed.append(pos)
                    else:
                        err = res.get("error", {})
                        result.rejected.append((pos, f"{status} {err.get('type')}: {err.get('reason')}"))
            if not failed:
                return
            result.retried += len(failed)
            if self.on_retry is not None:
                self.on_retry(len(failed))
            pending = failed
            delay = backoff(attempt, self.retry_max_s)
            if attempt % 10 == 0:
                log.warning("%d documents not settled (Elasticsearch pushing back or away); retry %d in %.1fs",
                            len(failed), attempt + 1, delay)
            attempt += 1
            if stop is not None and stop.is_set() and deadline is None:
                deadline = time.monotonic() + grace_s
            if deadline is not None and time.monotonic() + delay > deadline:
                raise ElasticsearchUnavailable(f"{len(pending)} documents still unsettled at the deadline")
            time.sleep(delay)

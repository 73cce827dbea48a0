"""Send bulk requests and settle every item: indexed, duplicate, or rejected for its content.

Only the failed items are re-sent, and only on 429, 5xx and connection errors, with capped jittered back-off;
a 409 on ``create`` means the entry was indexed before (a replay) and counts as a suppressed duplicate; any other
4xx is the document's own fault and comes back in ``rejected`` with Elasticsearch's reason, for the dead-letter
topic. Nothing is dropped here.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from logjet.config import ElasticsearchSettings
from logjet.errors import ElasticsearchUnavailable
from shippers.elasticsearch.encoder import encode_bulk
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
    def __init__(self, client: Elasticsearch, settings: ElasticsearchSettings, retry_max_s: float = 30.0) -> None:
        self.client = client
        self.settings = settings
        self.retry_max_s = retry_max_s

    def send(self, index: str, docs: list[tuple[str, dict[str, Any]]], stop: threading.Event | None = None,
             grace_s: float = 20.0) -> BulkResult:
        """Index ``docs`` into ``index``; returns once every item is settled.

        Retries without end while running; once ``stop`` is set it keeps retrying for ``grace_s`` more seconds and
        then raises ``ElasticsearchUnavailable``, leaving the batch uncommitted for the next consumer.
        """
        deadline: float | None = None
        result = BulkResult()
        pending = list(range(len(docs)))
        attempt = 0
        while pending:
            body, _ = encode_bulk(docs[i] for i in pending)
            try:
                resp = self.client.bulk(index=index, operations=body, filter_path="errors,items.*.status,"
                                        "items.*.error.type,items.*.error.reason")
            except (TransportError, ApiError) as exc:
                status = getattr(exc, "status_code", None) or getattr(getattr(exc, "meta", None), "status", 0)
                if isinstance(exc, ApiError) and not retriable_status(int(status or 0)):
                    # The whole request was refused for its content (e.g. a bad index name): every item is bad.
                    result.rejected.extend((i, f"bulk request refused: {exc.message}") for i in pending)
                    return result
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
                break
            result.retried += len(failed)
            pending = failed
            delay = backoff(attempt, self.retry_max_s)
            attempt += 1
            if stop is not None and stop.is_set() and deadline is None:
                deadline = time.monotonic() + grace_s
            if deadline is not None and time.monotonic() + delay > deadline:
                raise ElasticsearchUnavailable(f"{len(pending)} documents still unsettled at the deadline")
            time.sleep(delay)
        return result

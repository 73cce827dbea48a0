"""Capped exponential back-off with full jitter, and which bulk item statuses are worth retrying (and why)."""

from __future__ import annotations

import random

__all__ = ["backoff", "retriable_status", "retry_cause"]

# Item statuses that say something about the cluster, not about the document: the same document succeeds once the
# cluster changes (a write block lifted, a privilege granted, a data stream's template restored).
_CLUSTER_STATE = {401: "unauthorized", 403: "forbidden", 404: "not_found"}


def retry_cause(status: int) -> str | None:
    """Why a bulk item with this status is sent again (a metric label), or None when it is the document's fault."""
    if status == 429:  # Elasticsearch pushing back: queue full, disk flood-stage block
        return "pushback"
    if status >= 500:
        return "server_error"
    return _CLUSTER_STATE.get(status)


def retriable_status(status: int) -> bool:
    return retry_cause(status) is not None


def backoff(attempt: int, cap_s: float, base_s: float = 0.1) -> float:
    return random.uniform(0, min(cap_s, base_s * (2 ** min(attempt, 30))))

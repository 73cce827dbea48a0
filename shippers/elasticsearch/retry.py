"""Capped exponential back-off with full jitter, and which bulk item statuses are worth retrying."""

from __future__ import annotations

import random

__all__ = ["backoff", "retriable_status"]


def retriable_status(status: int) -> bool:
    # 429: Elasticsearch is pushing back (queue full, disk flood-stage block); 5xx: the node had a problem.
    return status == 429 or status >= 500


def backoff(attempt: int, cap_s: float, base_s: float = 0.1) -> float:
    return random.uniform(0, min(cap_s, base_s * (2 ** min(attempt, 30))))

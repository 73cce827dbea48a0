"""Readiness checks of the API's dependencies, each with its latency.

The checks run on a thread and an Elasticsearch connection pool of their own: when searches hold every worker thread
and every pooled connection, /readyz still answers, within the checks' own time limits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from elasticsearch import Elasticsearch

from logjet.config import KafkaSettings, LogjetSettings
from shippers.elasticsearch import make_client
from shippers.kafka import make_admin

__all__ = ["ReadinessProbe", "check_elasticsearch", "check_kafka"]


def check_kafka(settings: KafkaSettings, timeout: float = 2.0) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        md = make_admin(settings).list_topics(timeout=timeout)
        ok, error = bool(md.brokers), None if md.brokers else "no broker in metadata"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the reason is reported
        ok, error = False, type(exc).__name__
    return {"ok": ok, "latency_ms": round((time.perf_counter() - t0) * 1000, 1), **({"error": error} if error else {})}


def check_elasticsearch(client: Elasticsearch, timeout: float = 2.0) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        health = client.options(request_timeout=timeout, max_retries=0).cluster.health()
        ok = health.get("status") in ("green", "yellow")
        error = None if ok else f"cluster status {health.get('status')}"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the reason is reported
        ok, error = False, type(exc).__name__
    return {"ok": ok, "latency_ms": round((time.perf_counter() - t0) * 1000, 1), **({"error": error} if error else {})}


class ReadinessProbe:
    """Both checks, one run at a time: callers that arrive while a run is under way share its answer, so a flood of
    /readyz requests costs one check, not a queue of them."""

    def __init__(self, settings: LogjetSettings) -> None:
        self._kafka = settings.kafka
        self._es = make_client(settings.elasticsearch)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readyz")
        self._lock = threading.Lock()
        self._running: Future[dict[str, dict[str, Any]]] | None = None

    def _check(self) -> dict[str, dict[str, Any]]:
        return {"kafka": check_kafka(self._kafka), "elasticsearch": check_elasticsearch(self._es)}

    async def check(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._running is None or self._running.done():
                self._running = self._thread.submit(self._check)
            running = self._running
        # Shielded: a caller that goes away must not cancel the run the others wait for.
        return await asyncio.shield(asyncio.wrap_future(running))

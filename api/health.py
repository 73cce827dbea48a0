"""Readiness checks of the API's dependencies, each with its latency."""

from __future__ import annotations

import time
from typing import Any

from elasticsearch import Elasticsearch

from logjet.config import KafkaSettings
from shippers.kafka import make_admin

__all__ = ["check_elasticsearch", "check_kafka"]


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

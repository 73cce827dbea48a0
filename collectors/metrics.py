"""The collector's Prometheus metrics and its small HTTP port: ``/metrics`` and ``/healthz``.

Every metric is documented in the README (section "Collector metrics"); keep both in step.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge

from logjet.probe import ProbeServer, health_route, metrics_route

__all__ = ["CollectorMetrics", "MetricsServer"]


class CollectorMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.lines_read = Counter("logjet_collector_lines_read", "Lines (or messages) read, per input.",
                                  ["input"], registry=r)
        self.bytes_read = Counter("logjet_collector_bytes_read", "Bytes read, per input.", ["input"], registry=r)
        self.entries_published = Counter("logjet_collector_entries_published",
                                         "Entries handed to the Kafka producer, per input.", ["input"], registry=r)
        self.entries_acked = Counter("logjet_collector_entries_acked",
                                     "Entries Kafka acknowledged (acks=all), per input.", ["input"], registry=r)
        self.entries_dropped = Counter("logjet_collector_entries_dropped",
                                       "Entries dropped, per input and reason.", ["input", "reason"], registry=r)
        self.entries_flagged = Counter("logjet_collector_entries_flagged",
                                       "Entries delivered with a flag (truncated, invalid_utf8, malformed), per "
                                       "input and flag.", ["input", "flag"], registry=r)
        self.bytes_behind = Gauge("logjet_collector_file_bytes_behind",
                                  "Bytes between the read position and the end of each open file.", ["path"],
                                  registry=r)
        self.open_files = Gauge("logjet_collector_open_files", "Files held open.", registry=r)
        self.records_in_flight = Gauge("logjet_collector_records_in_flight",
                                       "Kafka records sent and not yet acknowledged.", registry=r)
        self.connections = Gauge("logjet_collector_syslog_connections", "Open syslog TCP connections, per input.",
                                 ["input"], registry=r)
        self.connections_closed = Counter(
            "logjet_collector_syslog_connections_closed", "Syslog TCP connections closed or refused, per input and "
            "reason (closed_by_peer, idle_timeout, handshake_timeout, replaced_idle, per_source_limit, "
            "max_connections, error, stopping).", ["input", "reason"], registry=r)
        self.queue_depth = Gauge("logjet_collector_syslog_queue_depth",
                                 "Syslog messages received and waiting for Kafka, per input.", ["input"], registry=r)
        self.heartbeat = time.monotonic()
        self.failure: str | None = None

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def health(self, stale_after_s: float = 15.0) -> tuple[bool, dict[str, object]]:
        age = time.monotonic() - self.heartbeat
        ok = self.failure is None and age < stale_after_s
        return ok, {"status": "ok" if ok else "failing", "loop_age_s": round(age, 3), "failure": self.failure}


class MetricsServer(ProbeServer):
    """Serves the metrics and the health check on a daemon thread."""

    def __init__(self, metrics: CollectorMetrics, host: str, port: int) -> None:
        super().__init__(host, port, {"/metrics": metrics_route(lambda: metrics.registry),
                                      "/healthz": health_route(metrics.health)})

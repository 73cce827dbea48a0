"""Kafka coming back after an outage, said once.

librdkafka logs a broker that fails (its FAIL lines, rate-limited by ``logjet.logs.KafkaLogLimiter``) but nothing at
logjet's log level when it connects again, so an operator reading the log could not tell whether the outage ended.
The return is derived here from what the client does report: transport failures on the error callback start an
outage, and the next record Kafka acknowledges ends it, with one INFO line saying how long it lasted and how many
records waited meanwhile.

One failure alone is not an outage: librdkafka also reports an idle connection that a broker closed (a single
``_TRANSPORT`` error, then nothing until the connection is needed, when it reconnects at once). An unreachable
broker fails again at every reconnect attempt (about every 100 ms, backing off to 10 s), so a second failure before
an acknowledgement marks an outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import KafkaError

from logjet.logs import kafka_reachable_again

__all__ = ["OUTAGE_ERRORS", "KafkaReachability"]

# The errors librdkafka reports when it cannot reach a broker (refused, reset, timed out, name not resolved).
OUTAGE_ERRORS = frozenset({KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._RESOLVE})


class KafkaReachability:
    """Called on the client's polling thread (error callback and delivery reports are both served by ``poll``), so
    it needs no lock."""

    def __init__(self, logger: logging.Logger, clock: Callable[[], float] = time.monotonic,
                 on_back: Callable[[], None] = kafka_reachable_again) -> None:
        self.logger, self.clock, self.on_back = logger, clock, on_back
        self.since: float | None = None  # the first failure of the current run of failures
        self.failures = 0
        self.outages = 0  # outages that ended, for the tests and metrics

    def failed(self, err: KafkaError) -> None:
        if err.code() not in OUTAGE_ERRORS:
            return
        if self.since is None:
            self.since = self.clock()
        self.failures += 1

    def acknowledged(self, waiting: int) -> None:
        """Kafka acknowledged a record; ``waiting`` records (that one included) were unacknowledged just before."""
        if self.since is None:
            return
        if self.failures >= 2:
            self.outages += 1
            self.logger.info("Kafka reachable again after %.1f s (%d record%s held back meanwhile)",
                             self.clock() - self.since, waiting, "" if waiting == 1 else "s")
            self.on_back()
        self.since, self.failures = None, 0

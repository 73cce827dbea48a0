"""What every input shares: batching entries into wire records, the bound on unacknowledged records, metrics.

Only the collector's main thread calls into the output (librdkafka's delivery callbacks run in ``poll``, on that
thread too), so the acknowledgement bookkeeping needs no locks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from collectors.metrics import CollectorMetrics
from logjet.config import CollectorSettings
from logjet.wire import CONTENT_TYPE, FLAG_TRUNCATED, HEADER_VERSION, VERSION, Batch, Entry, Source, encode_batch
from shippers.kafka import KafkaShipper

__all__ = ["Output"]

_HEADERS = ((HEADER_VERSION, str(VERSION).encode()), ("content-type", CONTENT_TYPE.encode()))


class Output:
    def __init__(self, settings: CollectorSettings, shipper: KafkaShipper, metrics: CollectorMetrics) -> None:
        self.settings = settings
        self.shipper = shipper
        self.metrics = metrics

    @property
    def full(self) -> bool:
        return self.shipper.in_flight >= self.settings.max_in_flight_records

    def wait_for_room(self, stopping: Callable[[], bool] = lambda: False) -> bool:
        """Block, serving delivery reports, until fewer records than the bound await acknowledgement.

        Returns False when ``stopping`` turned true first (Kafka may be down: shutdown must not hang on it).
        """
        while self.full:
            if stopping():
                return False
            self.shipper.poll(0.05)
        return True

    def ship(self, input_name: str, source: Source, entries: Sequence[Entry],
             on_acked: Callable[[], None] | None = None) -> None:
        """Send ``entries`` in as many records as the batch limits need; ``on_acked`` runs once Kafka acknowledged
        the last of them (and, records of one source being delivered in order, every one before it)."""
        max_n, max_b = self.settings.batch_max_entries, self.settings.batch_max_bytes
        chunks: list[Sequence[Entry]] = []
        start, size = 0, 0
        for i, entry in enumerate(entries):
            n = len(entry.message)
            if i > start and (i - start >= max_n or size + n > max_b):
                chunks.append(entries[start:i])
                start, size = i, 0
            size += n
            if entry.flags:
                for flag in entry.flags:
                    self.metrics.entries_flagged.labels(input_name, flag).inc()
        if start < len(entries):
            chunks.append(entries[start:])
        records = [r for chunk in chunks for r in self._fit(source, chunk)]
        acked = self.metrics.entries_acked.labels(input_name)
        for i, (batch, encoded) in enumerate(records):
            last = i == len(records) - 1

            def done(_: Batch | None, count: int = len(batch.entries), last: bool = last) -> None:
                acked.inc(count)
                if last and on_acked is not None:
                    on_acked()

            self.shipper.send(batch, done, encoded)
        self.metrics.entries_published.labels(input_name).inc(len(entries))
        self.metrics.records_in_flight.set(self.shipper.in_flight)

    def ship_records(self, input_name: str, records: Sequence[tuple[bytes, bytes, int]],
                     flagged: Sequence[tuple[str, int]]) -> None:
        """Send records the compiled core encoded (``logjet._core.syslog_drain``: what ``ship`` sends for the same
        entries, split and encoded there), each ``(key, value, entries)``; ``flagged`` counts entries per flag."""
        for flag, count in flagged:
            self.metrics.entries_flagged.labels(input_name, flag).inc(count)
        acked = self.metrics.entries_acked.labels(input_name)
        published = 0
        for key, value, count in records:

            def done(_: Batch | None, count: int = count) -> None:
                acked.inc(count)

            self.shipper.send(None, done, (key, value, list(_HEADERS)))
            published += count
        self.metrics.entries_published.labels(input_name).inc(published)
        self.metrics.records_in_flight.set(self.shipper.in_flight)

    def _fit(self, source: Source, entries: Sequence[Entry]) -> list[tuple[Batch, tuple]]:
        """Encode, splitting until every record fits ``record_max_bytes`` (JSON escaping can double a message)."""
        batch = Batch(source, entries)
        encoded = encode_batch(batch)
        limit = self.settings.record_max_bytes
        if len(encoded[1]) <= limit:
            return [(batch, encoded)]
        if len(entries) > 1:
            half = len(entries) // 2
            return self._fit(source, entries[:half]) + self._fit(source, entries[half:])
        entry = entries[0]
        # One entry alone is too large: cut its message in proportion, then by tenths until it fits.
        message = entry.message
        keep = len(message) * (limit - 4096) // len(encoded[1])
        while True:
            cut = Entry(entry.seq, entry.time_ns, message[:keep],
                        entry.flags if FLAG_TRUNCATED in entry.flags else (FLAG_TRUNCATED, *entry.flags), entry.attrs)
            batch = Batch(source, [cut])
            encoded = encode_batch(batch)
            if len(encoded[1]) <= limit or keep == 0:
                return [(batch, encoded)]
            keep = keep * 9 // 10

    def poll(self, timeout: float = 0.0) -> None:
        self.shipper.poll(timeout)
        self.metrics.records_in_flight.set(self.shipper.in_flight)

    def flush(self, timeout: float) -> bool:
        return self.shipper.flush(timeout)

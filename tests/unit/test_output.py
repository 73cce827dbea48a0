"""Batching and record sizing, with a recording stand-in for the producer (Kafka itself is tested in
tests/integration)."""

from __future__ import annotations

from collectors.metrics import CollectorMetrics
from collectors.output import Output
from logjet.config import CollectorSettings
from logjet.wire import Batch, Entry, Source, decode_record


class RecordingShipper:
    def __init__(self) -> None:
        self.sent: list[tuple[Batch, bytes]] = []
        self.callbacks = []
        self.in_flight = 0

    def send(self, batch, on_acked, encoded=None) -> None:  # noqa: ANN001
        self.sent.append((batch, encoded[1]))
        self.callbacks.append(lambda: on_acked(batch))

    def poll(self, timeout: float = 0) -> None:
        pass


def _output(**settings: object) -> tuple[Output, RecordingShipper]:
    shipper = RecordingShipper()
    return Output(CollectorSettings(**settings), shipper, CollectorMetrics()), shipper  # type: ignore[arg-type]


SRC = Source("file:h:1:2:ab", "file")


def test_batches_split_by_count_and_only_the_last_acknowledgement_moves_the_checkpoint() -> None:
    out, shipper = _output(batch_max_entries=3)
    done = []
    out.ship("files", SRC, [Entry(i, 0, f"line {i}") for i in range(7)], lambda: done.append(True))
    assert [len(b.entries) for b, _ in shipper.sent] == [3, 3, 1]
    for cb in shipper.callbacks[:2]:
        cb()
    assert done == []
    shipper.callbacks[2]()
    assert done == [True]


def test_records_fit_the_kafka_limit_even_when_json_escaping_doubles_them() -> None:
    out, shipper = _output(record_max_bytes=65536, batch_max_bytes=1 << 20)
    quotes = '"' * 40000  # 80,000 bytes once escaped
    out.ship("files", SRC, [Entry(0, 0, quotes), Entry(1, 0, "small"), Entry(2, 0, "x" * 30000)])
    assert all(len(value) <= 65536 for _, value in shipper.sent)
    entries = [e for b, _ in shipper.sent for e in b.entries]
    assert [e.seq for e in entries] == [0, 1, 2]
    assert entries[0].flags == ("truncated",) and entries[0].message == quotes[: len(entries[0].message)]
    assert entries[1].message == "small" and entries[2].message == "x" * 30000
    for batch, value in shipper.sent:
        decoded = decode_record(value, [("logjet-wire", b"1")], topic="t", partition=0, offset=0, timestamp_ms=0)
        assert decoded.entries == batch.entries

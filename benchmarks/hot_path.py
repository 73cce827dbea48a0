"""B1: the processor's hot path in one process, no network.

The records are the corpus as collector records (wire format v1; file, container and syslog sources). The timed work
is exactly what a worker does to a consumed batch before the bulk request: ``processor.transform.Transform`` (decode,
parse, ECS mapping, JSON encoding of each document) and ``encode_bulk`` (the bulk body), in batches as large as the
worker's (``batch_max_bytes``). The floor, timed in the same run on the same record bytes: ``orjson.loads`` of each
record and ``orjson.dumps`` of each entry, joined into one body: the JSON work no pipeline can avoid.

Time is this process's CPU time (one thread: one core). The garbage collector is set as in a worker
(``processor.transform.tune_gc``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from benchmarks.corpus import wire_records
from logjet.config import ElasticsearchSettings, ProcessorSettings
from processor.transform import Transform, tune_gc
from shippers.elasticsearch import encode_bulk

__all__ = ["HotPathRun", "StandInRecord", "make_batches", "run_floor", "run_logjet"]


class StandInRecord:
    """The methods of confluent_kafka.Message the transform reads (Message cannot be built outside a consumer)."""

    __slots__ = ("_headers", "_key", "_offset", "_value")

    def __init__(self, key: bytes, value: bytes, headers: list, offset: int) -> None:
        self._key, self._value, self._headers, self._offset = key, value, headers, offset

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes:
        return self._key

    def headers(self) -> list:
        return self._headers

    def topic(self) -> str:
        return "bench"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_795_000_000_000)


@dataclass
class HotPathRun:
    entries: int
    bytes: int
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.entries / self.cpu_s

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.cpu_s / 1e6


def make_batches(entries: int) -> tuple[list[list[StandInRecord]], int]:
    """The corpus as the worker's batches of records; also the total bytes of the record values."""
    max_bytes = ProcessorSettings().batch_max_bytes
    batches: list[list[StandInRecord]] = [[]]
    size = total = 0
    for i, (key, value, headers) in enumerate(wire_records(entries)):
        if size >= max_bytes:
            batches.append([])
            size = 0
        batches[-1].append(StandInRecord(key, value, headers, i))
        size += len(value)
        total += len(value)
    return batches, total


def run_logjet(batches: list[list[StandInRecord]], size: int) -> HotPathRun:
    transform = Transform(ProcessorSettings(), ElasticsearchSettings())
    tune_gc()
    n = 0
    t0 = time.process_time()
    for batch in batches:
        out = transform(batch)
        if out.dead:
            raise RuntimeError(f"the corpus produced dead letters: {out.dead[0].reason}")
        encode_bulk(out.docs)
        n += len(out.docs)
    return HotPathRun(n, size, time.process_time() - t0)


def run_floor(batches: list[list[StandInRecord]], size: int) -> HotPathRun:
    loads, dumps = orjson.loads, orjson.dumps
    n = 0
    t0 = time.process_time()
    for batch in batches:
        parts: list[bytes] = []
        for record in batch:
            entries = loads(record.value())["entries"]
            parts += [dumps(e) for e in entries]
        b"\n".join(parts)
        n += len(parts)
    return HotPathRun(n, size, time.process_time() - t0)

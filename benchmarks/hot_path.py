"""B1: the processor's hot path in one process, no network.

The records are the corpus as collector records (wire format v1; file, container and syslog sources). The timed work
is exactly what a worker does to a consumed batch up to the bulk requests: ``processor.transform.Transform`` (decode,
parse, ECS mapping, JSON encoding of each document, its bulk lines) and the bodies of the requests the shipper sends
first (``shippers.elasticsearch.encoder.bulk_chunks``, cut by the worker's ``bulk_max_bytes``, ``bulk_max_docs`` and
``bulk_concurrency``), in batches as large as the worker's (``batch_max_bytes``). The floor, timed in the same run on
the same record bytes: ``orjson.loads`` of each record and ``orjson.dumps`` of each entry, joined into one body: the
JSON work no pipeline can avoid.

Time is the CPU time of the process that runs the transform (one thread: one core). The garbage collector is set as
in a worker (``processor.transform.tune_gc``).

Both implementations of the transform are timed in the same run (``native``: the whole batch in the compiled core's
``transform_batch``; ``python``: the reference): ``processor.parsers`` reads ``LOGJET_CORE`` once, at import, so each
core runs in a process of its own (``CoreWorker``: ``python -m benchmarks.hot_path``, started with
``LOGJET_CORE=native`` or ``python``), which builds the same batches from the same seed and times one run each time it
is asked. The harness asks each in turn, then times the floor, run by run: the two cores and the floor are interleaved
and meet the same machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass

import orjson

from benchmarks.corpus import wire_records
from logjet.config import ElasticsearchSettings, ProcessorSettings
from processor.transform import Transform, tune_gc
from shippers.elasticsearch.encoder import BulkDocs, bulk_chunks

__all__ = ["CORES", "VARIANTS", "CoreWorker", "HotPathRun", "StandInRecord", "floor_body", "make_batches", "run_floor",
           "run_logjet"]

# The processor's two parse steps: the compiled core (the default) and the Python reference.
CORES = ("native", "python")
# What B1 times, by the name its figures carry: (LOGJET_CORE, log patterns on). The compiled core without log
# patterns shows what mining them costs.
VARIANTS = {"native": ("native", True), "python": ("python", True), "native, no patterns": ("native", False)}


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


def run_logjet(batches: list[list[StandInRecord]], size: int, patterns: bool = True) -> HotPathRun:
    ps = ProcessorSettings(patterns=patterns)
    transform = Transform(ps, ElasticsearchSettings())
    tune_gc()
    n = 0
    t0 = time.process_time()
    for batch in batches:
        out = transform(batch)
        if out.dead:
            raise RuntimeError(f"the corpus produced dead letters: {out.dead[0].reason}")
        for _ in bulk_chunks(BulkDocs.of(out.docs), ps.bulk_max_bytes, ps.bulk_max_docs, ps.bulk_concurrency):
            pass
        n += len(out.docs)
    return HotPathRun(n, size, time.process_time() - t0)


def floor_body(batch: list[StandInRecord]) -> tuple[int, bytes]:
    """The floor's work on one batch: each record decoded, each entry encoded, the entries joined into one body."""
    loads, dumps = orjson.loads, orjson.dumps
    parts: list[bytes] = []
    for record in batch:
        parts += [dumps(e) for e in loads(record.value())["entries"]]
    return len(parts), b"\n".join(parts)


def run_floor(batches: list[list[StandInRecord]], size: int) -> HotPathRun:
    n = 0
    t0 = time.process_time()
    for batch in batches:
        n += floor_body(batch)[0]
    return HotPathRun(n, size, time.process_time() - t0)


class CoreWorker:
    """A process that times ``run_logjet`` with one core of the parse step, on the corpus of ``entries`` entries.

    The protocol is one line each way: the process announces ``ready <core> <entries> <bytes>`` once its batches are
    built; each ``run`` line from here is answered with ``<entries> <bytes> <cpu_s>``.
    """

    def __init__(self, core: str, entries: int, patterns: bool = True) -> None:
        env = {**os.environ, "LOGJET_CORE": core}
        self.core = core
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.hot_path", str(entries),
                                      "patterns" if patterns else "no-patterns"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        word, got, n, size = self._read().split()
        if word != "ready" or got != core:
            self.close()
            raise RuntimeError(f"the B1 worker for LOGJET_CORE={core} runs the {got} core")
        self.entries, self.bytes = int(n), int(size)

    def _read(self) -> str:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise RuntimeError(f"the B1 worker for LOGJET_CORE={self.core} stopped (exit {self.proc.wait()})")
        return line

    def run(self) -> HotPathRun:
        assert self.proc.stdin is not None
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        n, size, cpu = self._read().split()
        return HotPathRun(int(n), int(size), float(cpu))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> CoreWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(entries: int, patterns: bool) -> None:
    """The worker's side of ``CoreWorker`` (``python -m benchmarks.hot_path ENTRIES patterns|no-patterns``)."""
    from processor.parsers import CORE

    batches, size = make_batches(entries)
    print("ready", CORE, sum(len(orjson.loads(r.value())["entries"]) for b in batches for r in b), size, flush=True)
    for line in sys.stdin:
        if line.strip() == "run":
            run = run_logjet(batches, size, patterns)
            print(run.entries, run.bytes, repr(run.cpu_s), flush=True)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2:3] != ["no-patterns"])

"""Standard input as a source (sidecar mode: ``app | logjet collect stdin``).

A reader thread feeds a bounded queue; when Kafka is slow the queue fills, the thread blocks, and so does the
writer on the other end of the pipe: the pipe is the buffer. Lines longer than ``max_line_bytes`` are cut and
flagged without being held whole. A pipe cannot be re-read, so identities are unique to this run.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import BinaryIO

from collectors.files.decoder import PlainDecoder
from collectors.metrics import CollectorMetrics
from collectors.output import Output
from logjet.config import CollectorSettings
from logjet.wire import Source

__all__ = ["StdinInput"]

_EOF = None


class StdinInput:
    name = "stdin"

    def __init__(self, settings: CollectorSettings, metrics: CollectorMetrics, run_id: int, stream: BinaryIO) -> None:
        self.cs = settings
        self.metrics = metrics
        self.stream = stream
        self.queue: queue.Queue[tuple[int, bytes, bool] | None] = queue.Queue(maxsize=20000)
        self.source = Source(f"stdin:{settings.host_name}:{run_id}", "stdin", settings.host_name,
                             settings.collector_id or settings.host_name)
        self.decoder = PlainDecoder()
        self.finished = False
        self._thread = threading.Thread(target=self._read, name="stdin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        limit = self.cs.max_line_bytes
        offset = 0
        skipping = False
        readline = self.stream.readline
        while True:
            line = readline(limit + 1)
            if not line:
                break
            start, offset = offset, offset + len(line)
            ended = line.endswith(b"\n")
            if skipping:
                skipping = not ended
                continue
            raw = line[:-1] if ended else line
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            cut = len(raw) > limit
            if cut:
                raw, skipping = raw[:limit], not ended
            self.queue.put((start, raw, cut))
        self.queue.put(_EOF)

    def drain(self, output: Output) -> int:
        if output.full or self.finished:
            return 0
        lines = []
        while len(lines) < 20000:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is _EOF:
                self.finished = True
                break
            lines.append(item)
        if not lines:
            return 0
        self.metrics.lines_read.labels(self.name).inc(len(lines))
        self.metrics.bytes_read.labels(self.name).inc(sum(len(r) + 1 for _, r, _ in lines))
        output.ship(self.name, self.source, self.decoder.decode(lines, time.time_ns()))
        return len(lines)

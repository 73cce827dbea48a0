"""The file collector: discover files by glob, tail them, publish batches, checkpoint what Kafka acknowledged.

Delivery is at-least-once with stable identities: the registry advances only in Kafka's delivery callback, so
after a crash the collector re-sends from the last acknowledged offset, and the re-sent entries carry the same
(source id, seq) as before, which the processor turns into the same document ids.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from collectors.files.registry import Checkpoint, Registry
from collectors.files.tailer import Tailer, fingerprint
from logjet.config import LogjetSettings
from logjet.wire import Batch, Entry, Source
from shippers.kafka import KafkaShipper

__all__ = ["CollectorStats", "FileCollector"]

log = logging.getLogger("logjet.collector.files")

# A rotated or deleted file is released once it has not grown for this long after reaching its end.
RELEASE_AFTER_S = 1.0
# How often acknowledged progress is written to the registry: what a crash makes the collector send again.
SAVE_EVERY_S = 0.25
# Upper bound on records waiting for Kafka's acknowledgement; beyond it reading pauses (the file is the buffer).
MAX_IN_FLIGHT_RECORDS = 2000


@dataclass
class CollectorStats:
    lines_read: int = 0
    bytes_read: int = 0
    records_sent: int = 0
    records_acked: int = 0
    entries_acked: int = 0
    open_files: int = 0
    truncated_lines: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class FileCollector:
    def __init__(self, settings: LogjetSettings, paths: list[str] | None = None,
                 shipper: KafkaShipper | None = None) -> None:
        self.settings = settings
        self.cs = settings.collector
        self.patterns = list(paths if paths is not None else self.cs.paths)
        self.collector_id = self.cs.collector_id or self.cs.host_name
        self.registry = Registry(self.cs.registry_path)
        self.shipper = shipper or KafkaShipper(settings.kafka)
        self.tailers: dict[str, Tailer] = {}  # by file identity key
        self.sources: dict[str, Source] = {}
        self.stats = CollectorStats()
        self._first_scan = True
        self._last_save = 0.0

    # -- discovery ----------------------------------------------------------------------------------------
    def _expand(self) -> list[str]:
        seen: list[str] = []
        for pattern in self.patterns:
            matches = glob.glob(pattern) if glob.has_magic(pattern) else [pattern]
            for path in sorted(matches):
                if os.path.isfile(path) and path not in seen:
                    seen.append(path)
        return seen

    def _discover(self) -> None:
        open_inodes = {(t.dev, t.ino) for t in self.tailers.values()}
        for path in self._expand():
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) in open_inodes:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError as exc:
                log.warning("cannot open %s: %s", path, exc)
                continue
            fp = fingerprint(fd)
            if fp is None:  # first line not complete yet: its identity is not known; look again next poll
                os.close(fd)
                continue
            cp = self.registry.get(st.st_dev, st.st_ino, fp)
            if cp is not None:
                offset = cp.offset
            elif self._first_scan and self.cs.start_at == "end":
                offset = os.fstat(fd).st_size
            else:
                offset = 0
            tailer = Tailer.open(path, fd, fp, offset, self.cs.max_line_bytes)
            self.tailers[tailer.key] = tailer
            self.sources[tailer.key] = Source(
                id=f"file:{self.cs.host_name}:{tailer.key}",
                kind="file",
                host=self.cs.host_name,
                collector=self.collector_id,
                path=os.path.abspath(path),
            )
            open_inodes.add((st.st_dev, st.st_ino))
            log.info("tailing %s from offset %d", path, offset)
        self._first_scan = False
        self.stats.open_files = len(self.tailers)

    def _release_finished(self) -> None:
        now = time.monotonic()
        for key, tailer in list(self.tailers.items()):
            try:
                st = os.stat(tailer.path)
                replaced = (st.st_dev, st.st_ino) != (tailer.dev, tailer.ino)
            except FileNotFoundError:
                replaced = True
            if tailer.truncated():
                # copytruncate or truncation: the bytes before were read; what is there now is a new file.
                log.info("%s was truncated; reading it again from the start", tailer.path)
                tailer.close()
                del self.tailers[key]
                continue
            if replaced and tailer.offset >= tailer.size() and now - tailer.last_growth >= RELEASE_AFTER_S:
                log.info("%s was rotated or removed and is read to its end; releasing it", tailer.path)
                tailer.close()
                del self.tailers[key]
        self.stats.open_files = len(self.tailers)

    # -- reading and shipping -----------------------------------------------------------------------------
    def _ship(self, tailer: Tailer, entries: list[Entry]) -> None:
        source = self.sources[tailer.key]
        max_n, max_b = self.cs.batch_max_entries, self.cs.batch_max_bytes
        batches: list[list[Entry]] = [[]]
        size = 0
        for entry in entries:
            if batches[-1] and (len(batches[-1]) >= max_n or size + len(entry.message) > max_b):
                batches.append([])
                size = 0
            batches[-1].append(entry)
            size += len(entry.message)
        ends = [b[0].seq for b in batches[1:]] + [tailer.resume_offset]
        for chunk, end in zip(batches, ends, strict=True):
            cp = Checkpoint(tailer.path, tailer.dev, tailer.ino, tailer.fingerprint, end)
            self.shipper.send(Batch(source, chunk), lambda b, cp=cp: self._acked(b, cp))
            self.stats.records_sent += 1

    def _acked(self, batch: Batch, cp: Checkpoint) -> None:
        self.stats.records_acked += 1
        self.stats.entries_acked += len(batch.entries)
        self.registry.advance(cp)

    def poll_once(self) -> int:
        """One round over every file; returns the number of lines read."""
        self._discover()
        read = 0
        for tailer in list(self.tailers.values()):
            while self.shipper.in_flight >= MAX_IN_FLIGHT_RECORDS:
                self.shipper.poll(0.1)
            entries = tailer.read(time.time_ns(), self.cs.batch_max_entries * 8)
            if entries:
                read += len(entries)
                self.stats.lines_read += len(entries)
                self.stats.truncated_lines += sum(1 for e in entries if e.flags and "truncated" in e.flags)
                self._ship(tailer, entries)
        self._release_finished()
        self.shipper.poll(0)
        now = time.monotonic()
        if now - self._last_save >= SAVE_EVERY_S:
            self.registry.save()
            self._last_save = now
        return read

    def run(self, stop: threading.Event) -> None:
        log.info("collecting %s into topic %s", self.patterns, self.shipper.topic)
        try:
            while not stop.is_set():
                if self.poll_once() == 0:
                    self.shipper.poll(self.cs.poll_interval_s)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        complete = self.shipper.flush(self.cs.shutdown_deadline_s)
        self.registry.save()
        for tailer in self.tailers.values():
            tailer.close()
        self.tailers.clear()
        if not complete:
            log.warning("shutdown deadline reached with records unacknowledged; they will be re-sent on restart")

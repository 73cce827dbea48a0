"""Tail sets of files (application logs, container logs), publish their entries, checkpoint what Kafka acknowledged.

Delivery is at-least-once with stable identities: the registry advances only in Kafka's delivery callback, and
never past a line a decoder still holds (an open multi-line record, a split container line). After a crash the
collector re-reads from the last acknowledged offset, and the re-read entries carry the same (source id, seq) as
before, which the processor turns into the same document ids.
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from collectors.files.decoder import Decoder, MultilineDecoder, PlainDecoder
from collectors.files.registry import Checkpoint, Registry
from collectors.files.tailer import Tailer, fingerprint
from collectors.metrics import CollectorMetrics
from collectors.output import Output
from logjet.config import CollectorSettings, FileInputSettings
from logjet.wire import Source

__all__ = ["FileCollector", "FileSet", "file_set"]

log = logging.getLogger("logjet.collector.files")

# A rotated or deleted file is released once it has not grown for this long after reaching its end.
RELEASE_AFTER_S = 1.0
# How often acknowledged progress is written to the registry: what a crash makes the collector send again.
SAVE_EVERY_S = 0.25
# A new file with the first line of a file still open is held back this long: it is most likely the copy of a
# copytruncate about to happen, and must continue the original's identity rather than start a new one.
COPY_GRACE_S = 10.0
# Lines read from one file per turn, so that one busy file cannot starve the others.
LINES_PER_TURN = 16384


@dataclass
class FileSet:
    """Files found by the same patterns and read the same way."""

    name: str  # the metrics' input label: files, containers
    kind: str  # the source kind: file, container
    patterns: list[str]
    start_at: str
    make_decoder: Callable[[str], Decoder]  # path -> decoder
    tags_for: Callable[[str], dict[str, str]] = field(default=lambda path: {})
    exclude: list[str] = field(default_factory=list)


def file_set(settings: FileInputSettings) -> FileSet:
    tags = dict(settings.tags)
    multiline = settings.multiline
    if multiline is not None:
        return FileSet("files", "file", settings.paths, settings.start_at,
                       lambda _path: MultilineDecoder(multiline), lambda _path: tags, list(settings.exclude))
    plain = PlainDecoder()  # stateless: one for all files
    return FileSet("files", "file", settings.paths, settings.start_at, lambda _path: plain, lambda _path: tags,
                   list(settings.exclude))


@dataclass
class _Open:
    tailer: Tailer
    decoder: Decoder
    source: Source
    fileset: FileSet


class FileCollector:
    def __init__(self, settings: CollectorSettings, filesets: list[FileSet], output: Output,
                 metrics: CollectorMetrics) -> None:
        self.cs = settings
        self.filesets = filesets
        self.output = output
        self.metrics = metrics
        self.collector_id = settings.collector_id or settings.host_name
        self.registry = Registry(settings.registry_path)
        self.open: dict[str, _Open] = {}  # by file identity key
        self._first_scan = True
        self._last_save = 0.0
        self._last_discover = 0.0
        self._warned_limit = False
        self._behind_paths: set[str] = set()
        self._idle: dict[tuple[int, int], int] = {}  # files closed as inactive: (dev, ino) -> size then
        self.stopping: Callable[[], bool] = lambda: False
        self._held: dict[tuple[int, int], float] = {}  # possible copies held back, since when

    # -- discovery ----------------------------------------------------------------------------------------
    def _expand(self, fileset: FileSet) -> list[str]:
        seen: dict[str, None] = {}
        for pattern in fileset.patterns:
            matches = glob.glob(pattern) if glob.has_magic(pattern) else [pattern]
            for path in sorted(matches):
                if not any(fnmatch.fnmatch(path, ex) for ex in fileset.exclude):
                    seen.setdefault(path, None)
        return list(seen)

    def discover(self) -> None:
        open_inodes = {(o.tailer.dev, o.tailer.ino) for o in self.open.values()}
        self._seen: set[tuple[int, int]] = set()
        for fileset in self.filesets:
            for path in self._expand(fileset):
                if len(self.open) >= self.cs.max_open_files:
                    if not self._warned_limit:
                        log.warning("max_open_files (%d) reached: new files wait", self.cs.max_open_files)
                        self._warned_limit = True
                    break
                self._open(fileset, path, open_inodes)
        self._first_scan = False
        self._idle = {k: v for k, v in self._idle.items() if k in self._seen}
        self.metrics.open_files.set(len(self.open))

    def _open(self, fileset: FileSet, path: str, open_inodes: set[tuple[int, int]]) -> None:
        try:
            st = os.stat(path)
        except OSError:  # gone between glob and stat, or a dangling symlink
            return
        if (st.st_dev, st.st_ino) in open_inodes or not os.path.isfile(path):
            return
        self._seen.add((st.st_dev, st.st_ino))
        if self._idle.get((st.st_dev, st.st_ino)) == st.st_size:
            return  # closed as inactive and not grown since
        self._idle.pop((st.st_dev, st.st_ino), None)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            log.warning("cannot open %s: %s", path, exc)
            return
        try:
            fp = fingerprint(fd)
            st = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            log.warning("cannot read %s: %s", path, exc)
            return
        if fp is None:  # first line not complete yet: its identity is not known; look again next time
            os.close(fd)
            return
        cp = self.registry.get(st.st_dev, st.st_ino, fp)
        identity = ""
        if cp is None:
            origin = self.registry.find_truncated(fp)
            if origin is None and self._copy_pending(fp, (st.st_dev, st.st_ino)):
                os.close(fd)
                return
            if origin is not None and origin.offset <= st.st_size:
                # The copy of a copytruncate: it holds the original's bytes at the same offsets, so it continues
                # the original's identity from its checkpoint, neither re-sending nor skipping a line.
                log.info("%s is the copy of truncated %s; continuing at offset %d", path, origin.path, origin.offset)
                cp = Checkpoint(path, st.st_dev, st.st_ino, fp, origin.offset, origin.identity or origin.key)
                self.registry.forget(origin.key)
                self.registry.advance(cp)
        if cp is not None and cp.offset <= st.st_size:
            offset, identity = cp.offset, cp.identity
        elif cp is None and self._first_scan and fileset.start_at == "end":
            offset = st.st_size
        else:
            # Unknown, or known but now shorter than its checkpoint: truncated and rewritten with the same first
            # line. Everything in it is new.
            offset = 0
        tailer = Tailer.open(path, fd, fp, offset, self.cs.max_line_bytes)
        tailer.identity = identity
        source = Source(
            id=f"{fileset.kind}:{self.cs.host_name}:{tailer.source_key}",
            kind=fileset.kind,
            host=self.cs.host_name,
            collector=self.collector_id,
            path=os.path.abspath(path),
            tags=fileset.tags_for(path),
        )
        self.open[tailer.key] = _Open(tailer, fileset.make_decoder(path), source, fileset)
        open_inodes.add((st.st_dev, st.st_ino))
        log.info("tailing %s from offset %d", path, offset)

    def _copy_pending(self, fp: str, inode: tuple[int, int]) -> bool:
        if not any(o.tailer.fingerprint == fp for o in self.open.values()):
            self._held.pop(inode, None)
            return False
        first = self._held.setdefault(inode, time.monotonic())
        return time.monotonic() - first < COPY_GRACE_S

    def _release(self, key: str, forget: bool) -> None:
        o = self.open.pop(key)
        # A file that will not grow any more (rotated away, removed) ends its last line and its open record here;
        # an idle one keeps them: the checkpoint stops before them and they are re-read when it is opened again.
        if forget:
            entries = o.decoder.decode(o.tailer.take_partial(), time.time_ns())
            self._ship(o, entries + o.decoder.flush(time.monotonic(), force=True), final=True)
        o.tailer.close()
        if o.tailer.path in self._behind_paths:
            self._behind_paths.discard(o.tailer.path)
            self.metrics.bytes_behind.remove(o.tailer.path)

    def _release_finished(self) -> None:
        now = time.monotonic()
        open_inodes = {(o.tailer.dev, o.tailer.ino) for o in self.open.values()}
        for key, o in list(self.open.items()):
            tailer = o.tailer
            try:
                st = os.stat(tailer.path)
                replaced = (st.st_dev, st.st_ino) != (tailer.dev, tailer.ino)
                gone = False
                if replaced and (st.st_dev, st.st_ino) not in open_inodes:
                    # Rotated by rename: the new file is looked for at once, not at the next discovery, which
                    # could come after it was itself renamed out of the patterns by a fast rotation.
                    self._last_discover = 0.0
            except FileNotFoundError:
                replaced = gone = True
            except OSError:
                continue
            size = tailer.size()
            if size < tailer.offset:
                # copytruncate or truncation: the bytes before were read; what is there now is a new file.
                log.info("%s was truncated; reading it again from the start", tailer.path)
                self._ship(o, o.decoder.flush(now, force=True), final=True)
                self._release(key, forget=False)
                self.registry.mark_truncated(key)
                continue
            if replaced and tailer.offset >= size and now - tailer.last_growth >= RELEASE_AFTER_S:
                log.info("%s was rotated or removed and is read to its end; releasing it", tailer.path)
                self._release(key, forget=True)
                if gone:
                    self.registry.forget(key)
            elif (not replaced and tailer.offset >= size and now - tailer.last_growth >= self.cs.close_inactive_s
                  and not tailer.buffer and o.decoder.pending_offset is None):
                log.info("%s has not grown for %.0fs; closing it until it does", tailer.path, self.cs.close_inactive_s)
                self._idle[(tailer.dev, tailer.ino)] = size
                self._release(key, forget=False)
        self.metrics.open_files.set(len(self.open))

    # -- reading and shipping -----------------------------------------------------------------------------
    def _ship(self, o: _Open, entries: list, final: bool = False) -> None:
        tailer = o.tailer
        pending = o.decoder.pending_offset
        resume = tailer.resume_offset if pending is None or final else min(pending, tailer.resume_offset)
        cp = Checkpoint(tailer.path, tailer.dev, tailer.ino, tailer.fingerprint, resume, tailer.identity)
        if entries:
            self.output.ship(o.fileset.name, o.source, entries, lambda cp=cp: self.registry.advance(cp))

    def poll_once(self) -> int:
        """One round over every file; returns the number of lines read."""
        now = time.monotonic()
        if now - self._last_discover >= self.cs.discover_interval_s:
            self.discover()
            self._last_discover = now
        read = 0
        now_ns = time.time_ns()
        for o in list(self.open.values()):
            if not self.output.wait_for_room(self.stopping):
                break
            before = o.tailer.offset
            lines = o.tailer.read(LINES_PER_TURN)
            if lines:
                read += len(lines)
                name = o.fileset.name
                self.metrics.lines_read.labels(name).inc(len(lines))
                self.metrics.bytes_read.labels(name).inc(o.tailer.offset - before)
                entries = o.decoder.decode(lines, now_ns)
                entries += o.decoder.flush(now)
                self._ship(o, entries)
            else:
                due = o.decoder.flush(now)
                if due:
                    self._ship(o, due)
        self._release_finished()
        self.output.poll(0)
        if now - self._last_save >= SAVE_EVERY_S:
            self.registry.save()
            self._update_behind()
            self._last_save = now
        return read

    def _update_behind(self) -> None:
        for o in self.open.values():
            t = o.tailer
            try:
                self.metrics.bytes_behind.labels(t.path).set(max(0, t.size() - t.resume_offset))
                self._behind_paths.add(t.path)
            except OSError:
                pass

    def close(self) -> None:
        """After the output was flushed: write the checkpoint and close every file."""
        self.registry.save()
        for o in self.open.values():
            o.tailer.close()
        self.open.clear()
        self.metrics.open_files.set(0)

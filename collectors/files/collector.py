"""Tail sets of files (application logs, container logs), publish their entries, checkpoint what Kafka acknowledged.

Delivery is at-least-once with stable identities: the registry advances only in Kafka's delivery callback, and
never past a line a decoder still holds (an open multi-line record, a split container line). After a crash the
collector re-reads from the last acknowledged offset, and the re-read entries carry the same (source id, seq) as
before, which the processor turns into the same document ids.

The same offset must never name two different lines: whenever the bytes at an offset may have changed under the
same (device, inode, first line) -- a truncation, a rewrite, a deleted file's inode reused -- the file is read from
its start as a new generation, with a source id of its own (see registry).
"""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from collectors.files.decoder import Decoder, MultilineDecoder, PlainDecoder
from collectors.files.registry import Checkpoint, Registry
from collectors.files.tailer import Tailer, anchor_hash, fingerprint, window
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
        # Files the registry knows come first: one found rewritten leaves its old generation for its copy (a
        # copytruncate while the collector was down), which must be there when the copy is looked at.
        known = self.registry.inodes()
        deferred: list[tuple[FileSet, str]] = []
        for fileset in self.filesets:
            for path in self._expand(fileset):
                if not self._room():
                    break
                if not self._open(fileset, path, open_inodes, known):
                    deferred.append((fileset, path))
        for fileset, path in deferred:
            if not self._room():
                break
            self._open(fileset, path, open_inodes, None)
        self._first_scan = False
        self._idle = {k: v for k, v in self._idle.items() if k in self._seen}
        self.metrics.open_files.set(len(self.open))

    def _room(self) -> bool:
        if len(self.open) < self.cs.max_open_files:
            return True
        if not self._warned_limit:
            log.warning("max_open_files (%d) reached: new files wait", self.cs.max_open_files)
            self._warned_limit = True
        return False

    def _open(self, fileset: FileSet, path: str, open_inodes: set[tuple[int, int]],
              known: set[tuple[int, int]] | None) -> bool:
        """Open ``path`` if it is a file to read; False if it was left for later: not in ``known``, when given."""
        try:
            st = os.stat(path)
        except OSError:  # gone between glob and stat, or a dangling symlink
            return True
        if (st.st_dev, st.st_ino) in open_inodes or not os.path.isfile(path):
            return True
        if known is not None and (st.st_dev, st.st_ino) not in known:
            return False
        self._seen.add((st.st_dev, st.st_ino))
        if self._idle.get((st.st_dev, st.st_ino)) == st.st_size:
            return True  # closed as inactive and not grown since
        self._idle.pop((st.st_dev, st.st_ino), None)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            log.warning("cannot open %s: %s", path, exc)
            return True
        try:
            fp = fingerprint(fd)
            st = os.fstat(fd)
            start = self._start(fileset, path, fd, fp, st) if fp is not None else None
        except OSError as exc:
            os.close(fd)
            log.warning("cannot read %s: %s", path, exc)
            return True
        if start is None:  # first line not complete yet (its identity is not known), or a copy held back
            os.close(fd)
            return True
        cp, tail = start
        tailer = Tailer.open(path, fd, cp.fingerprint, cp.offset, self.cs.max_line_bytes, cp.generation, tail)
        tailer.identity = cp.identity
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
        log.info("tailing %s from offset %d (generation %d)", path, cp.offset, cp.generation)
        return True

    def _start(self, fileset: FileSet, path: str, fd: int, fp: str,
               st: os.stat_result) -> tuple[Checkpoint, bytes] | None:
        """Where to read this file from, under which identity: the checkpoint to start from and the bytes before it
        (None to hold the file back)."""
        cp = self.registry.get(st.st_dev, st.st_ino, fp)
        if cp is not None and not cp.ended:
            tail = _holds(fd, cp, st.st_size)
            if tail is not None:
                return replace(cp, path=path), tail
            # Shorter than its checkpoint, or other bytes before it: truncated and rewritten, or a new file on a
            # reused inode with the same first line, while nobody watched. Everything in it is new.
            log.info("%s is not the file read up to offset %d any more; reading it as a new generation",
                     path, cp.offset)
            self.registry.end(cp.key, truncated=True)
        if cp is not None:
            new = Checkpoint(path, st.st_dev, st.st_ino, fp, 0, generation=cp.generation + 1)
            self.registry.start(new)
            return new, b""
        # The copy of a copytruncate holds the original's bytes at the same offsets, so it continues the original's
        # identity from its checkpoint, neither re-sending nor skipping a line.
        origin = self.registry.find_truncated(
            fp, lambda o: (o.dev, o.ino) != (st.st_dev, st.st_ino) and _holds(fd, o, st.st_size) is not None)
        if origin is None and self._copy_pending(fp, (st.st_dev, st.st_ino)):
            return None
        if origin is not None:
            log.info("%s is the copy of truncated %s; continuing at offset %d", path, origin.path, origin.offset)
            self.registry.claim(origin.key)
            new = Checkpoint(path, st.st_dev, st.st_ino, fp, origin.offset, origin.identity or origin.key,
                             anchor=origin.anchor)
        elif self._first_scan and fileset.start_at == "end":
            new = Checkpoint(path, st.st_dev, st.st_ino, fp, st.st_size, anchor=anchor_hash(window(fd, st.st_size)))
        else:
            new = Checkpoint(path, st.st_dev, st.st_ino, fp, 0)
        self.registry.start(new)
        return new, window(fd, new.offset)

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
                if replaced and (st.st_dev, st.st_ino) not in open_inodes:
                    # Rotated by rename: the new file is looked for at once, not at the next discovery, which
                    # could come after it was itself renamed out of the patterns by a fast rotation.
                    self._last_discover = 0.0
            except FileNotFoundError:
                replaced = True
            except OSError:
                continue
            size = tailer.size()
            if size < tailer.offset or tailer.rewritten:
                # copytruncate, truncation or a rewrite: the bytes before were read; what is there now is a new
                # generation, read from the start when the file is found again.
                log.info("%s was %s; reading it again from the start as a new generation", tailer.path,
                         "rewritten" if tailer.rewritten else "truncated")
                self._ship(o, o.decoder.flush(now, force=True), final=True)
                self._release(key, forget=False)
                self.registry.end(key, truncated=True)
                continue
            if replaced and tailer.offset >= size and now - tailer.last_growth >= RELEASE_AFTER_S:
                log.info("%s was rotated or removed and is read to its end; releasing it", tailer.path)
                # Deleted, not only renamed: its inode may come back with a new file, a later generation.
                deleted = os.fstat(tailer.fd).st_nlink == 0
                self._release(key, forget=True)
                if deleted:
                    self.registry.end(key, truncated=False)
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
        if entries:
            cp = Checkpoint(tailer.path, tailer.dev, tailer.ino, tailer.fingerprint, resume, tailer.identity,
                            generation=tailer.generation, anchor=tailer.anchor(resume))
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


def _holds(fd: int, cp: Checkpoint, size: int) -> bytes | None:
    """The bytes before ``cp.offset`` if the file still holds the ones that checkpoint was taken after, else None."""
    if cp.offset > size:
        return None
    tail = window(fd, cp.offset)
    # A version 1 checkpoint has no anchor: only its offset and first line can be checked.
    if cp.offset and cp.anchor and anchor_hash(tail) != cp.anchor:
        return None
    return tail

"""Follow one file: read complete lines from an offset, bounded in memory, and notice rotation and truncation.

A line is identified by the byte offset where it starts, so re-reading from a checkpoint yields the same
(source id, seq) identities as the first time. A line longer than ``max_line_bytes`` is cut there and marked
truncated; the rest of it, up to the next newline, is skipped without being held in memory. What the lines mean
(plain text, Docker JSON, CRI, multi-line records) is the decoder's business, not the tailer's.

The tailer also keeps the last ``ANCHOR_BYTES`` it consumed and checks, each time it reads new bytes, that the file
still holds them: a file truncated and rewritten past the offset between two reads (or while reading was paused by
back-pressure) shows no shrinking, only different bytes. It then reads nothing more and sets ``rewritten``: the
collector reads the file again as a new generation. It must never hand out lines read across such a rewrite.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass

from collectors.files.registry import generation_key

__all__ = ["ANCHOR_BYTES", "FINGERPRINT_BYTES", "Line", "Tailer", "anchor_hash", "fingerprint", "window"]

# (offset where the line starts, its bytes without the line ending, whether it was cut at max_line_bytes)
Line = tuple[int, bytes, bool]

FINGERPRINT_BYTES = 1024
READ_CHUNK = 1 << 20
# The bytes before a checkpoint that must be unchanged for the file to be resumed there (part of the registry's
# format: changing it would make every stored anchor fail, and every file be read again as a new generation).
ANCHOR_BYTES = 4096


def fingerprint(fd: int) -> str | None:
    """Hash of the file's first line (at most FINGERPRINT_BYTES); None until that line is complete."""
    head = os.pread(fd, FINGERPRINT_BYTES, 0)
    nl = head.find(b"\n")
    if nl >= 0:
        head = head[: nl + 1]
    elif len(head) < FINGERPRINT_BYTES:
        return None
    return hashlib.blake2b(head, digest_size=8).hexdigest()


def window(fd: int, offset: int) -> bytes:
    """The ANCHOR_BYTES before ``offset`` (fewer near the start, or if the file is now shorter)."""
    size = min(ANCHOR_BYTES, offset)
    return os.pread(fd, size, offset - size) if size else b""


def anchor_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest() if data else ""


@dataclass
class Tailer:
    path: str
    fd: int
    dev: int
    ino: int
    fingerprint: str
    offset: int  # where the next read starts
    max_line_bytes: int
    buffer: bytes = b""
    buffer_start: int = 0  # file offset of buffer[0]
    skipping: bool = False  # inside the unread rest of a truncated line
    skip_from: int = 0  # where that truncated line started
    last_growth: float = 0.0
    identity: str = ""  # the source identity, when not this file's own key (see Checkpoint.identity)
    generation: int = 0  # see registry: which of the contents this (device, inode, first line) has held
    tail: bytes = b""  # the last ANCHOR_BYTES consumed, ending at buffer_start
    rewritten: bool = False  # the bytes before the offset changed: nothing more is read from this tailer

    @classmethod
    def open(cls, path: str, fd: int, fp: str, offset: int, max_line_bytes: int, generation: int = 0,
             tail: bytes | None = None) -> Tailer:
        st = os.fstat(fd)
        return cls(path, fd, st.st_dev, st.st_ino, fp, offset, max_line_bytes, b"", offset,
                   last_growth=time.monotonic(), generation=generation,
                   tail=window(fd, offset) if tail is None else tail)

    @property
    def key(self) -> str:
        return generation_key(self.dev, self.ino, self.fingerprint, self.generation)

    @property
    def source_key(self) -> str:
        return self.identity or self.key

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def truncated(self) -> bool:
        return self.size() < self.offset

    @property
    def resume_offset(self) -> int:
        """Where a restart must read from so that no line after the ones emitted so far is lost.

        Inside a truncated line that is the line's start: its truncated entry is sent again after a restart, with
        the same identity, and dropped downstream as a duplicate.
        """
        return self.skip_from if self.skipping else self.buffer_start

    def anchor(self, offset: int) -> str:
        """The hash a checkpoint at ``offset`` stores: of the bytes read just before it, from memory when it can."""
        if offset == self.buffer_start and len(self.tail) == min(ANCHOR_BYTES, offset):
            return anchor_hash(self.tail)
        # A multi-line record still open, or a cut line: the checkpoint is behind what is in memory.
        return anchor_hash(window(self.fd, offset))

    def _consumed(self, data: bytes, n: int) -> None:
        """``data[:n]`` was consumed: keep its end as the tail."""
        if n >= ANCHOR_BYTES:
            self.tail = data[n - ANCHOR_BYTES : n]
        elif n:
            self.tail = (self.tail + data[:n])[-ANCHOR_BYTES:]

    def _still_there(self) -> bool:
        if not self.tail:
            return True
        return os.pread(self.fd, len(self.tail), self.buffer_start - len(self.tail)) == self.tail

    def read(self, limit: int) -> list[Line]:
        """Read complete lines from the current offset, stopping after a chunk once ``limit`` lines are in."""
        out: list[Line] = []
        while len(out) < limit and not self.rewritten:
            chunk = os.pread(self.fd, READ_CHUNK, self.offset)
            if not chunk:
                break
            # Checked after the read: bytes read before a rewrite are checked against the bytes after it.
            if not self._still_there():
                self.rewritten = True
                break
            self.last_growth = time.monotonic()
            self.offset += len(chunk)
            data = self.buffer + chunk if self.buffer else chunk
            start = 0
            while True:
                nl = data.find(b"\n", start)
                if nl < 0:
                    break
                line_off = self.buffer_start + start
                if self.skipping:
                    self.skipping = False
                else:
                    raw = data[start:nl]
                    if raw.endswith(b"\r"):
                        raw = raw[:-1]
                    if len(raw) > self.max_line_bytes:  # a whole long line inside one chunk
                        out.append((line_off, raw[: self.max_line_bytes], True))
                    else:
                        out.append((line_off, raw, False))
                start = nl + 1
            rest = data[start:]
            rest_start = self.buffer_start + start
            if self.skipping:
                rest, rest_start = b"", self.buffer_start + len(data)
            elif len(rest) > self.max_line_bytes:
                out.append((rest_start, rest[: self.max_line_bytes], True))
                self.skipping, self.skip_from = True, rest_start
                rest, rest_start = b"", self.buffer_start + len(data)
            self._consumed(data, len(data) - len(rest))
            self.buffer, self.buffer_start = rest, rest_start
            if len(chunk) < READ_CHUNK:
                break
        return out

    def take_partial(self) -> list[Line]:
        """The last line of a file that will not grow any more, although it has no newline.

        A writer that was cut off (rotated away, or its container removed) may never end its last line; waiting
        for the newline would lose it.
        """
        if self.skipping or not self.buffer:
            return []
        raw = self.buffer[:-1] if self.buffer.endswith(b"\r") else self.buffer
        line = (self.buffer_start, raw, False)
        self._consumed(self.buffer, len(self.buffer))
        self.buffer_start += len(self.buffer)
        self.buffer = b""
        return [line]

    def close(self) -> None:
        os.close(self.fd)

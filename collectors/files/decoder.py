"""Turn a file's raw lines into entries: plain lines, or multi-line records (stack traces, tracebacks).

Every decoder keeps the identity rule of the tailer: an entry's ``seq`` is the offset of its first line, so a
restart from a checkpoint yields the same identities. A decoder that holds lines back (a multi-line record still
open, a container line still split) reports the offset of the earliest one in ``pending_offset``; the collector
never checkpoints past it.
"""

from __future__ import annotations

import re
import time
from typing import Protocol

from collectors.files.tailer import Line
from logjet.config import MultilineSettings
from logjet.formats.text import decode_text
from logjet.wire import FLAG_INVALID_UTF8, FLAG_TRUNCATED, Entry

__all__ = ["Decoder", "MultilineDecoder", "PlainDecoder", "decode_text"]

_TRUNC = (FLAG_TRUNCATED,)
_BAD = (FLAG_INVALID_UTF8,)
_TRUNC_BAD = (FLAG_TRUNCATED, FLAG_INVALID_UTF8)


class Decoder(Protocol):
    def decode(self, lines: list[Line], now_ns: int) -> list[Entry]: ...

    def flush(self, now: float, force: bool = False) -> list[Entry]:
        """Entries held back that are due (or all of them when ``force``)."""
        ...

    @property
    def pending_offset(self) -> int | None: ...


class PlainDecoder:
    """One line, one entry."""

    pending_offset = None

    def decode(self, lines: list[Line], now_ns: int) -> list[Entry]:
        out = []
        append = out.append
        for off, raw, cut in lines:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text, flags = decode_text(raw, cut)
                append(Entry(off, now_ns, text, flags))
                continue
            append(Entry(off, now_ns, text, _TRUNC) if cut else Entry(off, now_ns, text))
        return out

    def flush(self, now: float, force: bool = False) -> list[Entry]:
        return []


class MultilineDecoder:
    """Group lines into records by a start pattern or a continuation pattern, bounded in lines and bytes: the lines
    of a record past ``max_lines`` or ``max_bytes`` are dropped and its entry flagged truncated."""

    def __init__(self, settings: MultilineSettings, clock=time.monotonic) -> None:  # noqa: ANN001
        self.settings = settings
        self.start = re.compile(settings.start_pattern.encode()) if settings.start_pattern else None
        self.cont = re.compile(settings.continuation_pattern.encode()) if settings.continuation_pattern else None
        self.clock = clock
        self._off = -1
        self._parts: list[bytes] = []
        self._size = 0
        self._cut = False
        self._time_ns = 0
        self._last = 0.0

    @property
    def pending_offset(self) -> int | None:
        return self._off if self._parts else None

    def _begins(self, raw: bytes) -> bool:
        if self.start is not None:
            return self.start.search(raw) is not None
        assert self.cont is not None
        return self.cont.search(raw) is None

    def _close(self) -> Entry:
        text, flags = decode_text(b"\n".join(self._parts), self._cut)
        entry = Entry(self._off, self._time_ns, text, flags)
        self._parts, self._size, self._cut = [], 0, False
        return entry

    def decode(self, lines: list[Line], now_ns: int) -> list[Entry]:
        out: list[Entry] = []
        max_lines, max_bytes = self.settings.max_lines, self.settings.max_bytes
        for off, raw, cut in lines:
            if self._parts and self._begins(raw):
                out.append(self._close())
            if not self._parts:
                self._off, self._time_ns = off, now_ns
            room = max_bytes - self._size - (1 if self._parts else 0)
            # Past either bound the record's remaining lines are dropped and the entry flagged, as Filebeat does:
            # starting a new entry there would make an unflagged entry of a record's middle.
            if room <= 0 or len(self._parts) >= max_lines:
                self._cut = True
                continue
            if len(raw) > room:
                raw, cut = raw[:room], True
            self._parts.append(raw)
            self._size += len(raw) + (1 if len(self._parts) > 1 else 0)
            self._cut = self._cut or cut
        if lines:
            self._last = self.clock()
        return out

    def flush(self, now: float, force: bool = False) -> list[Entry]:
        if self._parts and (force or now - self._last >= self.settings.flush_after_s):
            return [self._close()]
        return []

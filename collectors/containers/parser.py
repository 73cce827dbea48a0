"""Decoders for container runtimes' log files: Docker's json-file driver and the CRI format of Kubernetes.

Both runtimes split long output: Docker cuts a line every 16 KiB into records whose ``log`` does not end with a
newline; CRI runtimes write ``P`` (partial) records up to the ``F`` (full) one. The parts are joined back per
stream (stdout and stderr are never mixed), bounded by ``max_line_bytes`` (the rest is dropped and the entry
flagged ``truncated``). A joined entry's ``seq`` is the offset of its first part, so it survives a restart.

A line that is neither format is still delivered, raw, flagged ``malformed`` with the reason in ``error.message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from collectors.files.tailer import Line
from logjet.formats.text import decode_text
from logjet.timeparse import rfc3339_ns
from logjet.wire import FLAG_INVALID_UTF8, FLAG_MALFORMED, FLAG_TRUNCATED, Entry

__all__ = ["CriDecoder", "DockerJsonDecoder"]


@dataclass
class _Pending:
    """The parts of one split line seen so far, on one stream."""

    offset: int
    time_ns: int
    parts: list[str] = field(default_factory=list)
    size: int = 0
    cut: bool = False
    bad_utf8: bool = False

    def add(self, text: str, limit: int) -> None:
        if self.cut:
            return
        room = limit - self.size
        size = len(text.encode("utf-8", "surrogatepass")) if not text.isascii() else len(text)
        if size > room:
            text = text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
            self.cut = True
            size = room
        self.parts.append(text)
        self.size += size


def _malformed(off: int, now_ns: int, raw: bytes, cut: bool, reason: str) -> Entry:
    text, flags = decode_text(raw, cut)
    return Entry(off, now_ns, text, (FLAG_MALFORMED, *flags), {"error.message": reason})


def _joined(stream: str, p: _Pending) -> Entry:
    flags = ((FLAG_TRUNCATED,) if p.cut else ()) + ((FLAG_INVALID_UTF8,) if p.bad_utf8 else ())
    return Entry(p.offset, p.time_ns, "".join(p.parts), flags, {"log.iostream": stream})


class _Joiner:
    """Per-stream joining of split lines, shared by both formats."""

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.pending: dict[str, _Pending] = {}

    @property
    def pending_offset(self) -> int | None:
        return min((p.offset for p in self.pending.values()), default=None)

    def part(self, stream: str, off: int, time_ns: int, text: str, last: bool, bad_utf8: bool = False,
             cut: bool = False) -> Entry | None:
        pending = self.pending.get(stream)
        if pending is None:
            if last:  # the common case: a line that was never split
                if len(text) > self.max_line_bytes // 4 or bad_utf8 or cut:
                    pending = _Pending(off, time_ns)
                else:
                    return Entry(off, time_ns, text, (), {"log.iostream": stream})
            else:
                pending = self.pending[stream] = _Pending(off, time_ns)
        pending.add(text, self.max_line_bytes)
        pending.bad_utf8 = pending.bad_utf8 or bad_utf8
        pending.cut = pending.cut or cut
        if not last:
            return None
        self.pending.pop(stream, None)
        return _joined(stream, pending)

    def flush(self, now: float, force: bool = False) -> list[Entry]:
        # A split line stays open until its last part comes: a restart must re-read it, never cut it short.
        if not force:
            return []
        out = [_joined(s, p) for s, p in sorted(self.pending.items(), key=lambda kv: kv[1].offset)]
        self.pending.clear()
        return out


class DockerJsonDecoder(_Joiner):
    """``{"log": "...", "stream": "stdout", "time": "<RFC 3339 nano>"}`` per line."""

    def decode(self, lines: list[Line], now_ns: int) -> list[Entry]:
        out: list[Entry] = []
        loads = orjson.loads
        for off, raw, cut in lines:
            if cut:
                out.append(_malformed(off, now_ns, raw, cut, "Docker json-file record longer than max_line_bytes"))
                continue
            try:
                rec = loads(raw)
                log, stream = rec["log"], rec["stream"]
                if not isinstance(log, str) or not isinstance(stream, str):
                    raise TypeError("log and stream must be strings")
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                reason = f"not a Docker json-file record: {exc}"
                out.append(_malformed(off, now_ns, raw, cut, reason))
                continue
            stamp = rec.get("time")
            time_ns = (rfc3339_ns(stamp) if isinstance(stamp, str) else None) or now_ns
            last = log.endswith("\n")
            if last:
                log = log[:-2] if log.endswith("\r\n") else log[:-1]
            entry = self.part(stream, off, time_ns, log, last)
            if entry is not None:
                out.append(entry)
        return out


class CriDecoder(_Joiner):
    """``<RFC 3339 nano> <stdout|stderr> <P|F> <content>`` per line."""

    def decode(self, lines: list[Line], now_ns: int) -> list[Entry]:
        out: list[Entry] = []
        for off, raw, cut in lines:
            fields = raw.split(b" ", 3)
            if len(fields) == 3 and fields[2] in (b"P", b"F"):
                fields.append(b"")  # an empty line
            if len(fields) != 4 or fields[2] not in (b"P", b"F") or fields[1] not in (b"stdout", b"stderr"):
                out.append(_malformed(off, now_ns, raw, cut, "not a CRI log line (<time> <stream> <P|F> <log>)"))
                continue
            stamp, stream, tag, content = fields
            time_ns = rfc3339_ns(stamp.decode("ascii", "replace"))
            if time_ns is None:
                out.append(_malformed(off, now_ns, raw, cut, "CRI log line with an invalid timestamp"))
                continue
            text, flags = decode_text(content, cut)
            # A part the tailer cut lost its end: the joined line is truncated there, later parts are dropped.
            entry = self.part(stream.decode(), off, time_ns, text, tag == b"F", FLAG_INVALID_UTF8 in flags, cut)
            if entry is not None:
                out.append(entry)
        return out

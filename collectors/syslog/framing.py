"""Split a syslog TCP stream into messages: RFC 6587 octet counting (``<len> <msg>``) or newline framing.

The framing is told apart per message by its first byte (a digit starts an octet count; a syslog message starts
with ``<``), as rsyslog and syslog-ng do. Memory is bounded by ``max_bytes``: a longer message is cut there and
marked truncated, and the rest of it is skipped as it arrives.
"""

from __future__ import annotations

__all__ = ["Framer"]

_MAX_LEN_DIGITS = 10


class Framer:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.buf = bytearray()
        self._count_left = 0  # bytes of an octet-counted message still to skip
        self._skip_to_newline = False

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        """Messages completed by ``data``, each with whether it was truncated."""
        out: list[tuple[bytes, bool]] = []
        buf = self.buf
        buf += data
        pos = 0
        while pos < len(buf):
            if self._count_left:
                n = min(self._count_left, len(buf) - pos)
                pos += n
                self._count_left -= n
                continue
            if self._skip_to_newline:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    pos = len(buf)
                    break
                pos = nl + 1
                self._skip_to_newline = False
                continue
            if 48 <= buf[pos] <= 57:  # octet counting
                sp = buf.find(b" ", pos, pos + _MAX_LEN_DIGITS + 1)
                if sp < 0:
                    if len(buf) - pos > _MAX_LEN_DIGITS:
                        sp = -2  # not a count after all
                    else:
                        break  # the count is still arriving
                if sp > 0 and buf[pos:sp].isdigit():
                    length = int(buf[pos:sp])
                    start = sp + 1
                    if length <= self.max_bytes:
                        if len(buf) - start < length:
                            break
                        out.append((bytes(buf[start:start + length]), False))
                        pos = start + length
                    else:
                        if len(buf) - start < self.max_bytes:
                            break
                        out.append((bytes(buf[start:start + self.max_bytes]), True))
                        pos = start + self.max_bytes
                        self._count_left = length - self.max_bytes
                    continue
            nl = buf.find(b"\n", pos)
            if nl < 0:
                if len(buf) - pos > self.max_bytes:
                    out.append((bytes(buf[pos:pos + self.max_bytes]), True))
                    pos = len(buf)
                    self._skip_to_newline = True
                break
            if nl > pos:  # empty lines between messages are not messages
                line = bytes(buf[pos:nl])
                if len(line) > self.max_bytes:
                    out.append((line[: self.max_bytes], True))
                else:
                    out.append((line, False))
            pos = nl + 1
        del buf[:pos]
        return out

    def finish(self) -> list[tuple[bytes, bool]]:
        """At the end of the stream: a last message without its newline is still a message."""
        if self.buf and not self._count_left and not self._skip_to_newline and not self.buf[:1].isdigit():
            rest, self.buf = bytes(self.buf), bytearray()
            return [(rest, False)]
        self.buf = bytearray()
        return []

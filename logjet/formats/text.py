"""Bytes to text: invalid UTF-8 is replaced (U+FFFD) and flagged, never dropped."""

from __future__ import annotations

from logjet.wire import FLAG_INVALID_UTF8, FLAG_TRUNCATED

__all__ = ["decode_text"]

_TRUNC = (FLAG_TRUNCATED,)
_BAD = (FLAG_INVALID_UTF8,)
_TRUNC_BAD = (FLAG_TRUNCATED, FLAG_INVALID_UTF8)


def decode_text(raw: bytes, truncated: bool = False) -> tuple[str, tuple[str, ...]]:
    """UTF-8 text of ``raw`` and its flags; invalid bytes are replaced and flagged, never dropped."""
    try:
        return raw.decode("utf-8"), (_TRUNC if truncated else ())
    except UnicodeDecodeError as exc:
        # Cutting a line at max_line_bytes can split its last character: that alone is not invalid input.
        if truncated and exc.reason == "unexpected end of data" and exc.end == len(raw):
            try:
                return raw[: exc.start].decode("utf-8"), _TRUNC
            except UnicodeDecodeError:
                pass
        return raw.decode("utf-8", errors="replace"), (_TRUNC_BAD if truncated else _BAD)

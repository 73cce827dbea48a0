"""logfmt / key=value lines (``level=info msg="request done" took=12ms``), as Go's logfmt and Heroku write them."""

from __future__ import annotations

import re

__all__ = ["parse_logfmt"]

_PAIR = re.compile(r'\s*([^\s="]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))')
_UNESCAPE = re.compile(r"\\(.)")


def parse_logfmt(line: str) -> dict[str, str] | None:
    """The pairs of a line made only of key=value pairs (at least two), or None."""
    pairs: dict[str, str] = {}
    pos = 0
    n = len(line)
    while pos < n:
        m = _PAIR.match(line, pos)
        if m is None:
            if line[pos:].strip():
                return None
            break
        quoted, bare = m.group(2), m.group(3)
        if quoted is None:
            pairs[m.group(1)] = bare
        else:
            pairs[m.group(1)] = _UNESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted
        pos = m.end()
    return pairs if len(pairs) >= 2 else None

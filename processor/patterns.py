"""Log patterns: a message reduced to its template (``user <*> logged in from <*>``) and the template's id.

The template depends on the message alone, token by token, so the same message gets the same pattern in any worker,
in any order and after any restart, with no state to share or lose. The price of that choice over a clustering
method (Drain and its kin learn which positions vary from the lines seen so far, so their answer depends on the
order and the history) is that a variable part must be recognisable on its own: a number, an address, a path, a
date, a quoted value, a key's value, a user's name. A variable word with none of these marks (``Failed password for
root``) stays in the template.

Rules, in order, over the whitespace-separated tokens of the message's first line (its first
``TEMPLATE_MAX_CHARS`` characters: a stack trace's frames are not the pattern):
- ``key=value``: the key is kept, the value is ``<*>`` when it is variable by the rules below, kept otherwise
  (``status=ok`` and ``status=failed`` are two things that happened, ``uid=0`` and ``uid=1`` one);
- a token with a digit, an empty pair of brackets or quotes, a quoted word, a domain name, a path or URL, a weekday
  or month name: ``<*>``; a size or duration unit right after a number belongs to that number;
- the token after the word ``user`` (unless it is a preposition or a bracketed remark): ``<*>``;
- runs of ``<*>`` are one ``<*>`` (a date or an address printed as several tokens is one value).

The id is the first 8 bytes of the template's BLAKE2b hash, as hex: stable for as long as these rules are.
``native/src/patterns.rs`` is the compiled twin, held to this module by ``tests/unit/test_patterns.py``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from processor.parsers import CORE

if CORE == "native":
    from logjet._core import pattern_batch

__all__ = ["TEMPLATE_MAX_CHARS", "VARIABLE", "pattern", "pattern_id", "patterns", "template"]

VARIABLE = "<*>"
TEMPLATE_MAX_CHARS = 1024

_DIGIT = re.compile(r"[0-9]")
_KEY_VALUE = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)=(.*)", re.DOTALL)
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[a-z]{2,6}")
_PATH = re.compile(r"[a-z][a-z0-9+.-]*://|~?/[^/]*/|[A-Za-z]:\\")
_DATE_WORDS = frozenset((
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
    "Oct", "Nov", "Dec", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN", "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
    "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
    "Sunday", "January", "February", "March", "April", "June", "July", "August", "September", "October", "November",
    "December",
))
_EMPTY = frozenset(("()", "[]", "{}", "''", '""', "<>"))
_UNITS = frozenset((
    "B", "KB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB", "bytes", "ns", "us", "µs", "ms", "s", "sec", "secs",
    "seconds", "min", "mins", "minutes", "h", "hours", "%",
))
_NAMED_BY = frozenset(("user", "user:", "User", "User:", "USER"))
_PREPOSITIONS = frozenset(("from", "by", "for", "on", "at", "to", "in", "of", "with", "as", "is", "was"))


def _variable(token: str) -> bool:
    return bool(
        _DIGIT.search(token)
        or token in _EMPTY
        or token in _DATE_WORDS
        or (len(token) >= 3 and token[0] == token[-1] and token[0] in "'\"")
        or _DOMAIN.fullmatch(token)
        or _PATH.match(token)
    )


def template(message: str) -> str:
    """The message's template: its variable parts replaced by ``<*>``."""
    out: list[str] = []
    previous = ""
    number_before = False
    for token in message.split("\n", 1)[0][:TEMPLATE_MAX_CHARS].split():
        kv = _KEY_VALUE.fullmatch(token)
        if kv is not None:
            word = f"{kv.group(1)}={VARIABLE if _variable(kv.group(2)) else kv.group(2)}"
        elif _variable(token) or (number_before and token.rstrip(",;.)") in _UNITS) or (
                previous in _NAMED_BY and token not in _PREPOSITIONS and token[0] not in "[(<"):
            word = VARIABLE
        else:
            word = token
        number_before = word == VARIABLE and bool(_DIGIT.search(token))
        if word != VARIABLE or not out or out[-1] != VARIABLE:
            out.append(word)
        previous = token
    return " ".join(out)


def pattern_id(template_: str) -> str:
    """The template's id: BLAKE2b, 8 bytes, as 16 hex digits (a lone surrogate is hashed as Python would keep it)."""
    return hashlib.blake2b(template_.encode(errors="surrogatepass"), digest_size=8).hexdigest()


def pattern(message: str) -> tuple[str, str]:
    """(id, template) of the message."""
    found = template(message)
    return pattern_id(found), found


def patterns(messages: Sequence[str]) -> list[tuple[str, str]]:
    """(id, template) of each message: a batch per call into the compiled core (``LOGJET_CORE=python``: here)."""
    if CORE != "native":
        return [pattern(m) for m in messages]
    return [found if found is not None else pattern(m)
            for m, found in zip(messages, pattern_batch(messages if isinstance(messages, list) else list(messages)),
                                strict=True)]

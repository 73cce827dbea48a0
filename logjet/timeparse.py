"""Timestamps as integer nanoseconds since the epoch (UTC), and back to ISO 8601 with nanosecond precision."""

from __future__ import annotations

import calendar
import re
import time

__all__ = ["MAX_NS", "MONTHS", "format_ns", "rfc3339_ns", "to_ns"]

MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}


# What Elasticsearch's date_nanos holds: 1970-01-01 to 2262-04-11.
MAX_NS = 2**63 - 1


def to_ns(year: int, month: int, day: int, hour: int, minute: int, second: int, frac: str = "",
          offset_minutes: int = 0) -> int:
    """Nanoseconds since the epoch; ValueError for a date that does not exist or that date_nanos cannot hold."""
    # timegm would roll 2024-02-31 25:99 over into March instead of refusing it.
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and hour <= 23 and minute <= 59
            and second <= 60):
        raise ValueError("not a valid date and time")
    secs = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset_minutes * 60
    nanos = int((frac + "000000000")[:9]) if frac else 0
    ns = secs * 1_000_000_000 + nanos
    if not 0 <= ns <= MAX_NS:
        raise ValueError("outside 1970-01-01..2262-04-11")
    return ns


_last: tuple[int, str] = (-1, "")


def format_ns(ns: int) -> str:
    global _last
    secs, nanos = divmod(ns, 1_000_000_000)
    last_secs, prefix = _last
    if secs != last_secs:  # entries of a batch mostly share their second: format it once
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
        _last = (secs, prefix)
    return f"{prefix}.{nanos:09d}Z"


_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?\d*(?:([Zz])|([+-])(\d\d):?(\d\d))"
)


def rfc3339_ns(text: str) -> int | None:
    """Nanoseconds of an RFC 3339 timestamp (nanosecond fractions kept), or None when ``text`` is not one."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, zulu, sign, oh, om = m.groups()
    offset = 0 if zulu or sign is None else (int(oh) * 60 + int(om)) * (1 if sign == "+" else -1)
    try:
        return to_ns(int(year), int(month), int(day), int(hour), int(minute), int(second), frac or "", offset)
    except (ValueError, OverflowError):
        return None

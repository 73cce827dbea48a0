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


# (year, month, day) -> seconds since the epoch at its midnight, for days that exist; bounded like _SECONDS.
_DAYS: dict[tuple[int, int, int], int] = {}


def _day_s(year: int, month: int, day: int) -> int:
    key = (year, month, day)
    secs = _DAYS.get(key)
    if secs is None:
        # timegm would roll 2024-02-31 over into March instead of refusing it.
        if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
            raise ValueError("not a valid date and time")
        if len(_DAYS) >= _SECONDS_MAX:
            _DAYS.clear()
        secs = _DAYS[key] = calendar.timegm((year, month, day, 0, 0, 0, 0, 0, 0))
    return secs


def to_ns(year: int, month: int, day: int, hour: int, minute: int, second: int, frac: str = "",
          offset_minutes: int = 0) -> int:
    """Nanoseconds since the epoch; ValueError for a date that does not exist or that date_nanos cannot hold."""
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 60):
        raise ValueError("not a valid date and time")
    secs = _day_s(year, month, day) + hour * 3600 + minute * 60 + second - offset_minutes * 60
    nanos = int((frac + "000000000")[:9]) if frac else 0
    ns = secs * 1_000_000_000 + nanos
    if not 0 <= ns <= MAX_NS:
        raise ValueError("outside 1970-01-01..2262-04-11")
    return ns


# Seconds -> "YYYY-MM-DDTHH:MM:SS". A batch's entries share a few seconds (the collector's and the lines' own), so a
# small cache answers nearly every call; it is emptied when full rather than tracked per key.
_SECONDS: dict[int, str] = {}
_SECONDS_MAX = 4096


def format_ns(ns: int) -> str:
    secs, nanos = divmod(ns, 1_000_000_000)
    prefix = _SECONDS.get(secs)
    if prefix is None:
        if len(_SECONDS) >= _SECONDS_MAX:
            _SECONDS.clear()
        prefix = _SECONDS[secs] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
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

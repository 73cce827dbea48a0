"""Timestamps as integer nanoseconds since the epoch (UTC), and back to ISO 8601 with nanosecond precision."""

from __future__ import annotations

import calendar
import time

__all__ = ["MONTHS", "format_ns", "to_ns"]

MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}


def to_ns(year: int, month: int, day: int, hour: int, minute: int, second: int, frac: str = "",
          offset_minutes: int = 0) -> int:
    secs = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset_minutes * 60
    nanos = int((frac + "000000000")[:9]) if frac else 0
    return secs * 1_000_000_000 + nanos


def format_ns(ns: int) -> str:
    secs, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{nanos:09d}Z"

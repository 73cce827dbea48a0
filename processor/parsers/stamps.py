"""Timestamps in the layouts loggers, servers, runtimes and operating systems write by default, read at a position.

The families: ISO 8601 (``T`` or space, ``.``/``,`` fractions, ``Z``/offset/``UTC`` zones, also ``yyyy/MM/dd`` and
``yyyy-MM-dd-HH.mm.ss``), month names (syslog's ``Nov 29 10:43:00``, ctime and ``date``'s ``Sun Nov 29 10:52:00 UTC
2026``, JavaScript's ``Sun Nov 29 2026 10:59:00 GMT+0000 (...)``, java.util.logging's ``Nov 29, 2026 9:05:07 AM``,
RFC 2822 and HTTP dates, ``29-Nov-2026``, Redis's ``29 Nov 2026``, NCSA's ``29/Nov/2026:10:35:00``), slashed
numeric dates (``11/29/2026 10:50:00 AM``: month first unless the first number is above 12), ``MM-dd HH:mm:ss``
(logcat), ``yyMMdd HH:mm:ss`` and ``yyMMdd HHmmss``, klog/glog's ``I1129 10:15:00.123456`` (the letter is the
level), a time of day alone (``10:18:00.123``, ``9:15AM``: the receive date), and epoch seconds or milliseconds as
a whole token within a window around the receive time. Layouts without a year take the receive time's (the year
before for a date more than a day ahead); a time without a date is the receive day's (the day before for a time
more than an hour ahead). Named zones other than UTC/GMT/Z are read as UTC.

``read_stamp`` never searches: it reads at one position, so the header scanner decides where a time may be.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from logjet.timeparse import MONTHS, to_ns

__all__ = ["Stamp", "read_stamp", "find_stamp"]

_DAY_NS = 86_400 * 1_000_000_000
_HOUR_NS = 3_600 * 1_000_000_000
# Epoch numbers count only this close to the receive time (a count of requests is not a date).
_EPOCH_PAST_NS = 10 * 365 * _DAY_NS
_EPOCH_AHEAD_NS = _DAY_NS

_MON = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
_WDAY = r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? +)?"
_FRAC = r"(?:[.,](\d{1,9}))?"
_ZONE = r"(?: ?((?:GMT|UTC)?[+-]\d\d(?::?\d\d)?|Z|UTC|GMT)(?![\w+-]))?"
_AMPM = r"(?: ?([AaPp][Mm])\b)?"
_END = r"(?!\d|:\d)"

_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[T ]| {2})(\d\d):(\d\d)(?::(\d\d))?" + _FRAC + _ZONE + _END)
_ISO_DOTS = re.compile(r"(\d{4})-(\d\d)-(\d\d)-(\d\d)\.(\d\d)\.(\d\d)" + _FRAC + _END)
_YMD_SLASH = re.compile(r"(\d{4})[/.](\d\d)[/.](\d\d)[ T](\d\d):(\d\d):(\d\d)" + _FRAC + _ZONE + _END)
_YY_SLASH = re.compile(r"(\d\d)/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)" + _FRAC + _END)
_MDY = re.compile(r"(\d{1,2})([/.])(\d{1,2})[/.](\d{4}),? +(\d{1,2}):(\d\d)(?::(\d\d))?" + _FRAC + _AMPM + _ZONE
                  + _END)
_DMON = re.compile(_WDAY + r"(\d{1,2})[-/ ]" + _MON + r"[-/ ](\d{4})[ :](\d\d):(\d\d):(\d\d)" + _FRAC + _ZONE + _END)
_MOND = re.compile(_WDAY + _MON + r" +(\d{1,2}),?(?: (\d{4}))? +(\d{1,2}):(\d\d):(\d\d)" + _FRAC + _AMPM
                   + r"(?: ((?:GMT|UTC)?[+-]\d\d:?\d\d|Z|UTC|GMT)(?: \([^)]{1,64}\))?)?(?: (\d{4}))?" + _END)
_MD = re.compile(r"(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)" + _FRAC + _END)
_YYMMDD = re.compile(r"(\d\d)(\d\d)(\d\d) +(\d\d):?(\d\d):?(\d\d)" + _FRAC + _END)
_KLOG = re.compile(r"([IWEFD])(\d{4})?(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)" + _FRAC + _END)
_CLOCK = re.compile(r"(\d{1,2}):(\d\d)(?::(\d\d)" + _FRAC + r")?" + _AMPM + _END)
_EPOCH = re.compile(r"(\d{10}|\d{13})(?:\.(\d{1,9}))?(?=$|[\s\]:,|)])")

_KLOG_LEVEL = {"I": "info", "W": "warn", "E": "error", "F": "fatal", "D": "debug"}


@dataclass(slots=True)
class Stamp:
    ns: int
    end: int
    level: str | None = None  # klog's letter
    zoned: bool = False  # the stamp wrote its zone (rsyslog's and journald's ISO stamps always do)


def _offset(zone: str | None) -> int:
    if not zone or zone in ("Z", "UTC", "GMT"):
        return 0
    z = zone.removeprefix("GMT").removeprefix("UTC")
    digits = z[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
    return -minutes if z[0] == "-" else minutes


def _hour(h: str, ampm: str | None) -> int:
    hour = int(h)
    if ampm:
        if hour > 12 or hour == 0:
            raise ValueError("not a 12-hour time")
        hour = hour % 12 + (12 if ampm[0] in "Pp" else 0)
    return hour


def _yearless(now_ns: int, month: int, day: int, hh: int, mm: int, ss: int, frac: str) -> int:
    year = time.gmtime(now_ns // 1_000_000_000).tm_year
    ns = to_ns(year, month, day, hh, mm, ss, frac)
    if ns - now_ns > _DAY_NS:  # a December line read in January
        ns = to_ns(year - 1, month, day, hh, mm, ss, frac)
    return ns


def _dateless(now_ns: int, hh: int, mm: int, ss: int, frac: str) -> int:
    t = time.gmtime(now_ns // 1_000_000_000)
    ns = to_ns(t.tm_year, t.tm_mon, t.tm_mday, hh, mm, ss, frac)
    if ns - now_ns > _HOUR_NS:  # written before midnight, read after
        ns -= _DAY_NS
    return ns


def _read(text: str, pos: int, now_ns: int) -> Stamp | None:
    c = text[pos:pos + 1]
    if c.isdigit():
        m = _ISO.match(text, pos)
        if m:
            y, mo, d, h, mi, s, frac, zone = m.groups()
            return Stamp(to_ns(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), frac or "", _offset(zone)),
                         m.end(), None, zone is not None)
        for rx in (_ISO_DOTS, _YMD_SLASH):
            m = rx.match(text, pos)
            if m:
                y, mo, d, h, mi, s, frac = m.groups()[:7]
                zone = m.groups()[7] if len(m.groups()) > 7 else None
                return Stamp(to_ns(int(y), int(mo), int(d), int(h), int(mi), int(s), frac or "", _offset(zone)),
                             m.end())
        m = _YY_SLASH.match(text, pos)
        if m:
            y, mo, d, h, mi, s, frac = m.groups()
            return Stamp(to_ns(2000 + int(y), int(mo), int(d), int(h), int(mi), int(s), frac or ""), m.end())
        m = _MDY.match(text, pos)
        if m:
            a, sep, b, y, h, mi, s, frac, ampm, zone = m.groups()
            # Dots are the European order; slashes the US one unless the first number cannot be a month.
            month, day = (int(b), int(a)) if sep == "." or int(a) > 12 else (int(a), int(b))
            return Stamp(to_ns(int(y), month, day, _hour(h, ampm), int(mi), int(s or 0), frac or "", _offset(zone)),
                         m.end())
        m = _DMON.match(text, pos)
        if m:
            d, mon, y, h, mi, s, frac, zone = m.groups()
            return Stamp(to_ns(int(y), MONTHS[mon], int(d), int(h), int(mi), int(s), frac or "", _offset(zone)),
                         m.end())
        m = _MD.match(text, pos)
        if m:
            mo, d, h, mi, s, frac = m.groups()
            return Stamp(_yearless(now_ns, int(mo), int(d), int(h), int(mi), int(s), frac or ""), m.end())
        m = _YYMMDD.match(text, pos)
        if m:
            y, mo, d, h, mi, s, frac = m.groups()
            return Stamp(to_ns(2000 + int(y), int(mo), int(d), int(h), int(mi), int(s), frac or ""), m.end())
        m = _EPOCH.match(text, pos)
        if m:
            whole, frac = m.groups()
            ns = int(whole) * (1_000_000_000 if len(whole) == 10 else 1_000_000)
            if frac:
                ns += int((frac + "000000000")[:9])
            if now_ns - _EPOCH_PAST_NS <= ns <= now_ns + _EPOCH_AHEAD_NS:
                return Stamp(ns, m.end())
            return None
        m = _CLOCK.match(text, pos)
        if m and (m.group(3) is not None or m.group(5)):
            h, mi, s, frac, ampm = m.groups()
            return Stamp(_dateless(now_ns, _hour(h, ampm), int(mi), int(s or 0), frac or ""), m.end())
        return None
    if c.isupper():
        m = _KLOG.match(text, pos)
        if m:
            letter, y, mo, d, h, mi, s, frac = m.groups()
            if y:
                ns = to_ns(int(y), int(mo), int(d), int(h), int(mi), int(s), frac or "")
            else:
                ns = _yearless(now_ns, int(mo), int(d), int(h), int(mi), int(s), frac or "")
            return Stamp(ns, m.end(), _KLOG_LEVEL[letter])
        m = _MOND.match(text, pos)
        if m:
            mon, d, y, h, mi, s, frac, ampm, zone, y2 = m.groups()
            year = y or y2
            hour = _hour(h, ampm)
            if year:
                ns = to_ns(int(year), MONTHS[mon], int(d), hour, int(mi), int(s), frac or "", _offset(zone))
            else:
                ns = _yearless(now_ns, MONTHS[mon], int(d), hour, int(mi), int(s), frac or "") \
                    - _offset(zone) * 60_000_000_000
            return Stamp(ns, m.end())
        m = _DMON.match(text, pos)
        if m:
            d, mon, y, h, mi, s, frac, zone = m.groups()
            return Stamp(to_ns(int(y), MONTHS[mon], int(d), int(h), int(mi), int(s), frac or "", _offset(zone)),
                         m.end())
    return None


def read_stamp(text: str, pos: int, now_ns: int) -> Stamp | None:
    """The timestamp starting exactly at ``pos``, or None."""
    if pos > 0 and (text[pos - 1].isalnum() or text[pos - 1] in ".:"):
        return None  # inside a word or a number
    try:
        return _read(text, pos, now_ns)
    except (ValueError, OverflowError, KeyError):
        return None


_CANDIDATE = re.compile(r"(?<![\w.:])(?:\d|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
                        r"Nov|Dec)\b)")


def find_stamp(text: str, now_ns: int, start: int = 0, stop: int = 128) -> Stamp | None:
    """The first timestamp with a full date (year, or month name and day) between ``start`` and ``stop``."""
    for m in _CANDIDATE.finditer(text, start, min(stop, len(text))):
        pos = m.start()
        s = read_stamp(text, pos, now_ns)
        if s is not None and _dated(text, pos, s):
            return s
    return None


_DATED = re.compile(r"\d{4}[-/.]\d\d[-/.]\d\d|\d{1,2}[-/ ][A-Z][a-z]{2}[-/ ]\d{4}|[A-Z][a-z]{2}")


def _dated(text: str, pos: int, s: Stamp) -> bool:
    # Away from the header only a stamp with a written date counts: a bare clock or number is too often something
    # else (a duration, a count).
    return _DATED.match(text, pos) is not None or (text[pos].isdigit() and "/" in text[pos:s.end][:6])

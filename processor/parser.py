"""First parse of a log line: JSON objects, or plain text that starts with a timestamp and a level.

Returns what it found; it never raises on content: an unparseable line is still a message. The rules are about
layouts, never about particular systems: ISO 8601 / "YYYY-MM-DD HH:MM:SS,mmm" and syslog's "Mon dd HH:MM:SS"
timestamps, and the usual level words near the start of the line.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from logjet.timeparse import MONTHS, to_ns

__all__ = ["Parsed", "parse_line"]

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s?(Z|[+-]\d{2}:?\d{2})?"
)
_SYSLOG = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?")
_LEVEL = re.compile(
    r"[\s\[<(|:-]*\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|CRIT|FATAL|SEVERE|ALERT|EMERG)\b",
    re.IGNORECASE,
)
_LEVEL_NORMAL = {"warning": "warn", "err": "error", "crit": "critical", "severe": "error", "emerg": "emergency"}
_JSON_MESSAGE = ("message", "msg", "log")
_JSON_LEVEL = ("level", "log.level", "severity", "lvl", "loglevel")
_JSON_TIME = ("@timestamp", "timestamp", "time", "ts")
_DAY_NS = 86_400 * 1_000_000_000


@dataclass(slots=True)
class Parsed:
    message: str
    time_ns: int | None = None
    level: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def normal_level(word: str) -> str:
    low = word.lower()
    return _LEVEL_NORMAL.get(low, low)


def _time_from_text(text: str, now_ns: int) -> tuple[int | None, int]:
    """Parse a timestamp at the start of ``text``: (ns or None, index after it)."""
    m = _ISO.match(text)
    if m:
        y, mo, d, h, mi, s, frac, tz = m.groups()
        offset = 0
        if tz and tz != "Z":
            sign = -1 if tz[0] == "-" else 1
            digits = tz[1:].replace(":", "")
            offset = sign * (int(digits[:2]) * 60 + int(digits[2:]))
        try:
            return to_ns(int(y), int(mo), int(d), int(h), int(mi), int(s), frac or "", offset), m.end()
        except (ValueError, OverflowError):
            return None, 0
    m = _SYSLOG.match(text)
    if m and m.group(1) in MONTHS:
        mon, d, h, mi, s, frac = m.groups()
        # Syslog-style stamps carry no year: take the receiving time's, unless that puts the entry more than a
        # day in the future (a December line read in January).
        year = time.gmtime(now_ns // 1_000_000_000).tm_year
        try:
            ns = to_ns(year, MONTHS[mon], int(d), int(h), int(mi), int(s), frac or "")
            if ns - now_ns > _DAY_NS:
                ns = to_ns(year - 1, MONTHS[mon], int(d), int(h), int(mi), int(s), frac or "")
        except (ValueError, OverflowError):
            return None, 0
        return ns, m.end()
    return None, 0


def _parse_json(line: str, now_ns: int) -> Parsed | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    message = next((obj.pop(k) for k in _JSON_MESSAGE if isinstance(obj.get(k), str)), line)
    level = next((obj.pop(k) for k in _JSON_LEVEL if isinstance(obj.get(k), str)), None)
    time_ns = None
    for key in _JSON_TIME:
        val = obj.get(key)
        if isinstance(val, str):
            time_ns, _ = _time_from_text(val, now_ns)
            if time_ns is not None:
                obj.pop(key)
                break
    return Parsed(message, time_ns, normal_level(level) if level else None, obj)


def parse_line(line: str, now_ns: int) -> Parsed:
    if line.startswith("{"):
        parsed = _parse_json(line, now_ns)
        if parsed is not None:
            return parsed
    time_ns, end = _time_from_text(line, now_ns)
    level = None
    if time_ns is not None:
        m = _LEVEL.match(line, end)
        if m and m.start(1) - end <= 40:
            level = normal_level(m.group(1))
    return Parsed(line, time_ns, level)

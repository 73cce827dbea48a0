"""Plain-text lines that start with a timestamp, then a level and the emitting component, in the common layouts.

The rules are about layouts, never about particular systems:

- timestamps: ISO 8601 and ``YYYY-MM-DD HH:MM:SS,mmm`` (log4j, logback, Python logging), ``[Sun Dec 04 04:47:44
  2005]`` (Apache httpd's error log, ctime), ``YYMMDD HHMMSS`` (log4j's compact ISO), ``YY/MM/DD HH:MM:SS``
  (log4j's ``%d{yy/MM/dd HH:mm:ss}``, Spark), and syslog's ``Mon dd HH:MM:SS`` (year inferred);
- after the timestamp, in this order and each optional: a ``-`` separator, a thread or process number, the level
  (bare or in brackets), a ``[thread]`` (brackets may nest), a ``-`` separator, and a dotted logger name ending in
  ``:`` (``org.apache.hadoop.ipc.Client:``, ``dfs.DataNode$PacketResponder:``);
- after a syslog timestamp: ``host program[pid]: `` (program names may hold parentheses: ``sshd(pam_unix)``).

What remains is the message.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from logjet.timeparse import MONTHS, to_ns

__all__ = ["TextParse", "normal_level", "parse_text", "parse_time"]

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s?(Z|[+-]\d{2}:?\d{2})?"
)
_CTIME = re.compile(r"\[?(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})"
                    r"(?:\.(\d{1,9}))? (\d{4})\]?")
_COMPACT = re.compile(r"(\d{2})(\d{2})(\d{2}) (\d{2})(\d{2})(\d{2})\b")
_SLASHED = re.compile(r"(\d{2,4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?")
_SYSLOG = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?")

_LOGGER = r"[A-Za-z_$][\w$]*(?:\.[\w$]+)+(?:@\d+)?"
_NESTED = r"(?:[^\[\]]|\[[^\[\]]*\])*"  # bracketed text whose brackets may nest one level
_LEVELS = ("TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|CRIT|FATAL|SEVERE|ALERT|EMERG|EMERGENCY")
_HEADER = re.compile(
    r"\s*(?:-\s+)?"                                            # a separator (Zookeeper's " - ")
    r"(?:(?P<num>\d{1,10})\s+(?=\[?(?:" + _LEVELS + r")\b))?"  # a thread or process number before the level
    r"(?:\[(?P<thread0>" + _NESTED + r")\]\s+(?=\[?(?:" + _LEVELS + r")\b))?"  # [thread] before the level
    r"\[?(?P<level>" + _LEVELS + r")\]?(?::|\s+|$)"             # the level, bare or in brackets
    # [thread] after it: only when a separator or a logger follows; otherwise the brackets belong to the message
    # (httpd's "[client 10.0.0.1] File does not exist").
    r"\s*(?:\[(?P<thread>" + _NESTED + r")\]\s*(?=-\s|" + _LOGGER + r"(?::\s|\s+-\s+)))?"
    r"(?:-\s+)?"                                               # another separator
    r"(?:(?P<logger>" + _LOGGER + r")(?::\s|\s+-\s+))?",       # a dotted logger name, then ":" or " - "
    re.IGNORECASE,
)
_SYSLOG_HEAD = re.compile(r" (?P<host>[^\s:\[\]]+) (?P<program>[^\s:\[]+?)(?:\[(?P<pid>\d+)\])?: ")
_LEVEL_NORMAL = {"warning": "warn", "err": "error", "crit": "critical", "severe": "error", "emerg": "emergency"}
_DAY_NS = 86_400 * 1_000_000_000


def normal_level(word: str) -> str:
    low = word.lower()
    return _LEVEL_NORMAL.get(low, low)


@dataclass(slots=True)
class TextParse:
    message: str
    time_ns: int | None = None
    level: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    # False when the known layouts read a time but not the whole header: the header recogniser (header.py) reads
    # the line again.
    settled: bool = True


# After a known header that read no logger, more header: pid#tid, a number before more header, a --- separator, a
# bracketed word, an Erlang pid, a source location, a Java class, a tab-separated column, a `::` or `/` name before
# ": " (or any name, after a level padded to a column).
_MORE = re.compile(
    r"\d+#\d+:\s|\d+\s+(?:-{2,3}\s|\d+\s|\[)|-{2,3}\s|\[[^\]\s]+\]|<[\d.]+>|[\w./-]+\.[A-Za-z]\w{0,4}:\d+\s"
    r"|(?:[a-z_][\w$]*\.)+[A-Z][\w$]*\s|\S+\t"
)
_MORE_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:(?:::|/)[\w$]+)+\s*:\s")
_MORE_PADDED = re.compile(r"[A-Za-z_$][\w$.]*\s*:\s")


def _settled(line: str, m: re.Match[str]) -> bool:
    if m["logger"]:  # the known header read as far as the logger
        return True
    end = m.end()
    return not (_MORE.match(line, end) or _MORE_NAME.match(line, end)
                or (line[end - 2:end] == "  " and _MORE_PADDED.match(line, end)))


def _frac(s: str | None) -> str:
    return s or ""


def _yearless(now_ns: int, month: int, day: int, hh: int, mm: int, ss: int, frac: str) -> int:
    # No year in the line: the receiving time's, unless that puts the entry more than a day in the future (a
    # December line read in January).
    year = time.gmtime(now_ns // 1_000_000_000).tm_year
    ns = to_ns(year, month, day, hh, mm, ss, frac)
    if ns - now_ns > _DAY_NS:
        ns = to_ns(year - 1, month, day, hh, mm, ss, frac)
    return ns


def parse_time(text: str, now_ns: int) -> tuple[int | None, int, bool]:
    """A timestamp at the start of ``text``: (ns or None, index after it, whether it was syslog's layout)."""
    c = text[:1]
    try:
        if c.isdigit():
            m = _ISO.match(text)
            if m:
                y, mo, d, h, mi, s, frac, tz = m.groups()
                offset = 0
                if tz and tz != "Z":
                    digits = tz[1:].replace(":", "")
                    offset = (-1 if tz[0] == "-" else 1) * (int(digits[:2]) * 60 + int(digits[2:]))
                return to_ns(int(y), int(mo), int(d), int(h), int(mi), int(s), _frac(frac), offset), m.end(), False
            m = _SLASHED.match(text)
            if m:
                y, mo, d, h, mi, s, frac = m.groups()
                year = int(y) + (2000 if len(y) == 2 else 0)
                return to_ns(year, int(mo), int(d), int(h), int(mi), int(s), _frac(frac)), m.end(), False
            m = _COMPACT.match(text)
            if m:
                y, mo, d, h, mi, s = (int(g) for g in m.groups())
                return to_ns(2000 + y, mo, d, h, mi, s), m.end(), False
        elif c == "[" or c in "MTWFS":
            m = _CTIME.match(text)
            if m and m.group(1) in MONTHS:
                mon, d, h, mi, s, frac, y = m.groups()
                return to_ns(int(y), MONTHS[mon], int(d), int(h), int(mi), int(s), _frac(frac)), m.end(), False
        if c.isupper():
            m = _SYSLOG.match(text)
            if m and m.group(1) in MONTHS:
                mon, d, h, mi, s, frac = m.groups()
                return _yearless(now_ns, MONTHS[mon], int(d), int(h), int(mi), int(s), _frac(frac)), m.end(), True
    except (ValueError, OverflowError):
        pass
    return None, 0, False


def parse_text(line: str, now_ns: int) -> TextParse | None:
    """The line's timestamp, level, emitter and message, or None when it does not start with a timestamp."""
    time_ns, end, syslog = parse_time(line, now_ns)
    if time_ns is None:
        return None
    fields: dict[str, Any] = {}
    if syslog:
        m = _SYSLOG_HEAD.match(line, end)
        if m:
            fields["host.hostname"] = m["host"]
            fields["process.name"] = m["program"]
            if m["pid"]:
                fields["process.pid"] = int(m["pid"])
            return TextParse(line[m.end():], time_ns, None, fields)
        return TextParse(line[end:].lstrip(), time_ns, None, fields)
    m = _HEADER.match(line, end)
    if m is None:
        return TextParse(line[end:].lstrip(" -:"), time_ns, None, fields, False)
    if m["num"]:
        fields["process.thread.id"] = int(m["num"])
    thread = m["thread"] or m["thread0"]
    if thread:
        fields["process.thread.name"] = thread
    if m["logger"]:
        fields["log.logger"] = m["logger"]
    return TextParse(line[m.end():], time_ns, normal_level(m["level"]), fields, _settled(line, m))

"""Syslog messages, RFC 5424 and RFC 3164 (the BSD format, parsed loosely as real senders write it).

A message that parses as neither is still delivered: its raw text becomes the message, flagged ``malformed``,
with the reason in ``error.message``. Parsed fields are ECS paths under ``log.syslog``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import orjson

from logjet.formats.text import decode_text
from logjet.timeparse import MONTHS, rfc3339_ns, to_ns
from logjet.wire import FLAG_MALFORMED, AttrValue

__all__ = ["Parsed", "parse"]

FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
              "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4",
              "local5", "local6", "local7")
SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")

_PRI = re.compile(rb"<(\d{1,3})>")
_5424_HEAD = re.compile(rb"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?")
_3164_TS = re.compile(rb"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?: (\d{4}))? ?")
_ISO_TS = re.compile(rb"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) ?")
_TAG = re.compile(rb"([^\s\[\]:]{1,128})(?:\[([^\]\s]{1,128})\])?: ?")
_TAG_AFTER_HOST = re.compile(rb"([^\s\[\]:]{1,128})(?:\[([^\]\s]{1,128})\])?(?:: ?| )")
_SD_ELEMENT = re.compile(rb'\[([^\s=\]"]+)((?: [^\s=\]"]+="(?:[^"\\]|\\.)*")*)\]')
_SD_PARAM = re.compile(rb' ([^\s=\]"]+)="((?:[^"\\]|\\.)*)"')
_SD_UNESCAPE = re.compile(rb'\\(["\\\]])')
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Parsed:
    time_ns: int | None
    message: str
    attrs: dict[str, AttrValue]
    flags: tuple[str, ...] = ()


def _build_pri_attrs(pri: int) -> dict[str, AttrValue]:
    facility, severity = divmod(pri, 8)
    return {
        "log.syslog.priority": pri,
        "log.syslog.facility.code": facility,
        "log.syslog.facility.name": FACILITIES[facility] if facility < len(FACILITIES) else str(facility),
        "log.syslog.severity.code": severity,
        "log.syslog.severity.name": SEVERITIES[severity],
    }


_PRI_ATTRS = [_build_pri_attrs(pri) for pri in range(192)]


def _pri_attrs(pri: int) -> dict[str, AttrValue]:
    return _PRI_ATTRS[pri].copy()  # a copy: the caller adds this message's own attrs


def _text(raw: bytes) -> tuple[str, tuple[str, ...]]:
    return decode_text(raw)


def _structured_data(raw: bytes) -> tuple[dict[str, dict[str, str]], bytes] | None:
    """Parse SD-ELEMENTs from the start of ``raw``; return them and the rest, or None if malformed."""
    if raw.startswith(b"-"):
        return {}, raw[1:]
    out: dict[str, dict[str, str]] = {}
    pos = 0
    while pos < len(raw) and raw[pos:pos + 1] == b"[":
        m = _SD_ELEMENT.match(raw, pos)
        if m is None:
            return None
        params = {
            k.decode("utf-8", "replace"): (_SD_UNESCAPE.sub(rb"\1", v) if b"\\" in v else v).decode("utf-8", "replace")
            for k, v in _SD_PARAM.findall(m.group(2))
        }
        out[m.group(1).decode("utf-8", "replace")] = params
        pos = m.end()
    if pos == 0:
        return None
    return out, raw[pos:]


_5424_KEYS = ("log.syslog.hostname", "log.syslog.appname", "log.syslog.procid", "log.syslog.msgid")


def _parse_5424(pri: int, raw: bytes, rest: bytes) -> Parsed | str:
    m = _5424_HEAD.match(rest)
    if m is None:
        return "RFC 5424 header incomplete"
    version, stamp, host, app, procid, msgid = m.groups()
    if version != b"1":
        return f"unsupported RFC 5424 version {version.decode('ascii', 'replace')}"
    time_ns = None
    if stamp != b"-":
        time_ns = rfc3339_ns(stamp.decode("ascii", "replace"))
        if time_ns is None:
            return "RFC 5424 timestamp is not RFC 3339"
    sd = _structured_data(rest[m.end():])
    if sd is None:
        return "RFC 5424 structured data malformed"
    elements, msg = sd
    if msg.startswith(b" "):
        msg = msg[1:]
    if msg.startswith(_BOM):
        msg = msg[3:]
    attrs = _pri_attrs(pri)
    attrs["log.syslog.version"] = 1
    for key, value in zip(_5424_KEYS, (host, app, procid, msgid), strict=True):
        if value != b"-":
            attrs[key] = value.decode("utf-8", "replace")
    if elements:
        attrs["log.syslog.structured_data"] = orjson.dumps(elements).decode()
    text, flags = _text(msg)
    return Parsed(time_ns, text, attrs, flags)


_YEARS: dict[int, int] = {}  # day number since the epoch -> its year


def _year(now_ns: int) -> int:
    day = now_ns // 86_400_000_000_000
    year = _YEARS.get(day)
    if year is None:
        if len(_YEARS) > 64:
            _YEARS.clear()
        year = _YEARS[day] = time.gmtime(day * 86_400).tm_year
    return year


def _3164_time(m: re.Match[bytes], now_ns: int) -> int | None:
    mon_name, day, hh, mm, ss, frac_raw, year_raw = m.groups()
    mon = MONTHS.get(mon_name.decode("ascii", "replace"))
    if mon is None:
        return None
    frac = frac_raw.decode() if frac_raw else ""
    year = int(year_raw) if year_raw else _year(now_ns)
    try:
        ns = to_ns(year, mon, int(day), int(hh), int(mm), int(ss), frac)
        # RFC 3164 has no year: a December message read in January belongs to the year before. That year may not
        # have the date (February 29) or may be before 1970: then the time is not taken, as the text parser does.
        if not year_raw and ns > now_ns + 86_400 * 1_000_000_000:
            ns = to_ns(year - 1, mon, int(day), int(hh), int(mm), int(ss), frac)
    except (ValueError, OverflowError):
        return None
    return ns


def _parse_3164(pri: int, rest: bytes, now_ns: int) -> Parsed | str:
    time_ns = None
    m = _3164_TS.match(rest)
    if m is not None:
        time_ns = _3164_time(m, now_ns)
        if time_ns is None:
            return "RFC 3164 timestamp invalid"
        rest = rest[m.end():]
    else:
        iso = _ISO_TS.match(rest)
        if iso is None:
            return "neither an RFC 5424 nor an RFC 3164 header after the priority"
        time_ns = rfc3339_ns(iso.group(1).decode("ascii"))
        rest = rest[iso.end():]
    attrs = _pri_attrs(pri)
    # HOSTNAME is optional in practice (local senders omit it): a first word that is itself a tag is the tag.
    # After a hostname, the next word is the tag whether or not a colon ends it, as rsyslog reads it.
    tag = _TAG.match(rest)
    if tag is None or rest[tag.end(1):tag.end(1) + 1] not in (b"[", b":"):
        sp = rest.find(b" ")
        if sp > 0:
            attrs["log.syslog.hostname"] = rest[:sp].decode("utf-8", "replace")
            rest = rest[sp + 1:]
            tag = _TAG_AFTER_HOST.match(rest)
        else:
            tag = None
    if tag is not None:
        attrs["log.syslog.appname"] = tag.group(1).decode("utf-8", "replace")
        if tag.group(2):
            attrs["log.syslog.procid"] = tag.group(2).decode("utf-8", "replace")
        rest = rest[tag.end():]
    text, flags = _text(rest)
    return Parsed(time_ns, text, attrs, flags)


def parse(raw: bytes, now_ns: int) -> Parsed:
    """Parse one syslog message (without its framing); never raises."""
    while raw and raw[-1:] in (b"\n", b"\r", b"\x00"):
        raw = raw[:-1]
    m = _PRI.match(raw)
    if m is None:
        reason = "no <PRI> at the start"
    else:
        pri = int(m.group(1))
        if pri > 191:
            reason = f"priority {pri} out of range"
        else:
            rest = raw[m.end():]
            result = (_parse_5424(pri, raw, rest) if rest[:1].isdigit() and rest[1:2] == b" "
                      else _parse_3164(pri, rest, now_ns))
            if isinstance(result, Parsed):
                return result
            reason = result
    text, flags = _text(raw)
    return Parsed(None, text, {"error.message": f"unparsed syslog message: {reason}"}, (FLAG_MALFORMED, *flags))

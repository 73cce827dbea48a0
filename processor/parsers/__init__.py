"""What the processor reads out of an entry: timestamp, level, message and ECS fields.

``parse_line`` first unwraps an envelope a third-party shipper left on the line (a Docker json-file record, a CRI
line, a syslog message with its ``<PRI>``), then reads the content as, in order: a JSON object, an access-log line,
plain text with a leading timestamp (``text.py``), logfmt. Lines that match nothing are still messages, with the
collector's time.

The compiled core (``logjet._core``, built from ``native/``) parses every line, a whole batch per call; the lines it
hands back (an integer field past 64 bits in an access log or a text layout, the few cases listed in
``native/src/lib.rs``) go through ``python_parse_line``, the reference the core is held to by
``tests/unit/test_core_differential.py``. ``LOGJET_CORE=python``, read once at import, uses the reference alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from logjet.core import load_core
from logjet.formats import syslog
from logjet.timeparse import rfc3339_ns
from processor.parsers.access import parse_access
from processor.parsers.header import may_have_header, recognise
from processor.parsers.logfmt import parse_logfmt
from processor.parsers.text import normal_level, parse_text, parse_time

__all__ = ["CORE", "SYSLOG_LEVEL", "Parsed", "normal_level", "parse_line", "parse_lines", "python_parse_line"]

_log = logging.getLogger(__name__)

_JSON_MESSAGE = ("message", "msg", "log")
_JSON_LEVEL = ("level", "log.level", "severity", "lvl", "loglevel")
_JSON_TIME = ("@timestamp", "timestamp", "time", "ts")
_CRI = re.compile(r"(\d{4}-\d\d-\d\dT\S+) (stdout|stderr) ([PF]) ?")
_KV_MESSAGE = ("msg", "message")
_KV_LEVEL = ("level", "lvl", "severity")
_KV_TIME = ("ts", "time", "t", "timestamp")


@dataclass(slots=True)
class Parsed:
    message: str
    time_ns: int | None = None
    level: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # ECS field paths
    json: dict[str, Any] | None = None  # the other keys of a JSON line, kept under ``json``


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
            time_ns, _, _ = parse_time(val, now_ns)
            if time_ns is not None:
                obj.pop(key)
                break
    return Parsed(message, time_ns, normal_level(level) if level else None, _ecs_keys(obj), obj or None)


# The ECS fields an ECS-aware logger writes (ecs-logging, logstash-logback-encoder, structlog), lifted into the
# document as those fields when the value has the kind the index template maps them to (keyword or long): a line can
# neither invent a mapped field nor fix a field's type. Every other key, and a value of another kind, stays under
# ``json`` (one ``flattened`` field in the index). None of them is a scope field (``processor.ecs.SCOPE_ROOTS``).
_KEYWORD, _LONG = 0, 1
_LIFT = dict.fromkeys(("service.name", "service.version", "service.environment", "service.id", "service.type",
                       "service.node.name", "trace.id", "span.id", "transaction.id", "error.message", "error.type",
                       "error.code", "error.id", "error.stack_trace", "log.logger", "log.origin.file.name",
                       "log.origin.function", "process.thread.name"), _KEYWORD)
_LIFT.update(dict.fromkeys(("log.origin.file.line", "process.pid"), _LONG))
# Objects on the way to a lifted field ({"service": {"node": {"name": ...}}}): walked, and dropped once emptied.
_LIFT_PREFIXES = frozenset(p.rsplit(".", i)[0] for p in _LIFT for i in range(1, p.count(".") + 1))
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def _fits(kind: int, value: Any) -> bool:
    t = type(value)
    if kind == _KEYWORD:
        return t is str or t is int or t is float or t is bool
    return t is int and _LONG_MIN <= value <= _LONG_MAX


def _ecs_keys(obj: dict[str, Any], prefix: str = "", fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pop the lifted ECS fields out of ``obj`` (a JSON line's object, or one of its objects under ``prefix``)."""
    if fields is None:
        fields = {}
        service = obj.get("service")
        if type(service) is str:  # {"service": "cart"}: the name alone
            fields["service.name"] = obj.pop("service")
    for key in list(obj):
        path = prefix + key
        kind = _LIFT.get(path)
        if kind is not None:
            if path not in fields and _fits(kind, obj[key]):  # a second spelling of the same field stays in json
                fields[path] = obj.pop(key)
        elif path in _LIFT_PREFIXES:
            child = obj[key]
            if type(child) is dict:
                _ecs_keys(child, path + ".", fields)
                if not child:
                    del obj[key]
    return fields


def _docker_envelope(obj: dict[str, Any]) -> tuple[str, dict[str, Any], int | None] | None:
    log, stream = obj.get("log"), obj.get("stream")
    if not isinstance(log, str) or stream not in ("stdout", "stderr") or len(obj) > 4:
        return None
    stamp = obj.get("time")
    time_ns = rfc3339_ns(stamp) if isinstance(stamp, str) else None
    fields: dict[str, Any] = {"log.iostream": stream}
    if not log.endswith("\n"):
        fields["log.flags"] = "partial"  # a 16 KiB piece the shipper did not join
    return log.rstrip("\r\n"), fields, time_ns


def _content(line: str, now_ns: int) -> Parsed:
    if line.startswith("{"):
        parsed = _parse_json(line, now_ns)
        if parsed is not None:
            return parsed
    access = parse_access(line)
    if access is not None:
        return Parsed(line, access[0], None, access[1])
    text = parse_text(line, now_ns)
    if text is not None and text.settled:
        return Parsed(text.message, text.time_ns, text.level, text.fields)
    if text is None and "=" in line:
        pairs = parse_logfmt(line)
        if pairs is not None:
            message = next((pairs.pop(k) for k in _KV_MESSAGE if k in pairs), line)
            level = next((pairs.pop(k) for k in _KV_LEVEL if k in pairs), None)
            time_ns = None
            for key in _KV_TIME:
                if key in pairs:
                    time_ns, _, _ = parse_time(pairs[key], now_ns)
                    if time_ns is not None:
                        del pairs[key]
                        break
            return Parsed(message, time_ns, normal_level(level) if level else None, {}, pairs or None)
    # The known layouts did not read the whole header: the recogniser reads it (the compiled core hands these lines
    # back, Delegate::Header).
    head = recognise(line, now_ns) if text is not None or may_have_header(line) else None
    if head is not None:
        return Parsed(head.message, head.time_ns, head.level, head.fields)
    if text is not None:
        return Parsed(text.message, text.time_ns, text.level, text.fields)
    return Parsed(line)


def _with(inner: Parsed, fields: dict[str, Any], time_ns: int | None) -> Parsed:
    inner.fields = {**fields, **inner.fields}
    if inner.time_ns is None:
        inner.time_ns = time_ns
    return inner


def python_parse_line(line: str, now_ns: int) -> Parsed:
    """Parse one message; never raises on content. The reference the compiled core is held to."""
    c = line[:1]
    if c == "{" and line.startswith('{"log":'):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        envelope = _docker_envelope(obj) if isinstance(obj, dict) else None
        if envelope is not None:
            return _with(_content(envelope[0], now_ns), envelope[1], envelope[2])
    elif c == "<" and line[1:2].isdigit():
        p = syslog.parse(line.encode("utf-8", "surrogatepass"), now_ns)
        if "malformed" not in p.flags:
            inner = _content(p.message, now_ns) if p.message.startswith("{") else Parsed(p.message)
            if inner.level is None:
                sev = p.attrs.get("log.syslog.severity.name")
                inner.level = SYSLOG_LEVEL.get(sev) if isinstance(sev, str) else None
            return _with(inner, _syslog_fields(p.attrs), p.time_ns)
    elif c.isdigit():
        m = _CRI.match(line)
        if m:
            fields: dict[str, Any] = {"log.iostream": m.group(2)}
            if m.group(3) == "P":
                fields["log.flags"] = "partial"
            return _with(_content(line[m.end():], now_ns), fields, rfc3339_ns(m.group(1)))
    return _content(line, now_ns)


def _syslog_fields(attrs: dict[str, Any]) -> dict[str, Any]:
    """The syslog header's fields, and its host, program and pid under their ECS names as well."""
    fields = dict(attrs)
    host, app, procid = (attrs.get(k) for k in ("log.syslog.hostname", "log.syslog.appname", "log.syslog.procid"))
    if type(host) is str:
        fields["host.hostname"] = host
    if type(app) is str:
        fields["process.name"] = app
    # PROCID is any printable text (RFC 5424 6.2.6); only a plain number is a pid.
    if type(procid) is str and 0 < len(procid) <= 18 and procid.isascii() and procid.isdigit():
        fields["process.pid"] = int(procid)
    return fields


SYSLOG_LEVEL = {"emergency": "emergency", "alert": "alert", "critical": "critical", "error": "error",
                 "warning": "warn", "notice": "notice", "informational": "info", "debug": "debug"}


CORE, _native = load_core()
_parse_batch = _native.parse_batch if _native is not None else None


def _settle(result: Any, line: str, now_ns: int) -> Parsed:
    if type(result) is tuple:
        return Parsed(*result)
    if result.startswith("panic"):  # the core failed on this line: the reference still parses it
        _log.warning("compiled core failed on a line (%s); parsed by the Python reference", result)
    return python_parse_line(line, now_ns)


def parse_lines(lines: Sequence[str], now_ns: Sequence[int]) -> list[Parsed]:
    """``parse_line`` for each line with the receive time of the same index, one call into the core per batch."""
    if _parse_batch is None:
        return [python_parse_line(line, t) for line, t in zip(lines, now_ns, strict=True)]
    # The core takes lists; the transform already builds them, so they are not copied again.
    lines = lines if type(lines) is list else list(lines)
    now_ns = now_ns if type(now_ns) is list else list(now_ns)
    results = _parse_batch(lines, now_ns)
    return [_settle(r, line, t) for r, line, t in zip(results, lines, now_ns, strict=True)]


def parse_line(line: str, now_ns: int) -> Parsed:
    """Parse one message; never raises on content. Batches go faster through ``parse_lines``."""
    if _parse_batch is None:
        return python_parse_line(line, now_ns)
    return _settle(_parse_batch([line], [now_ns])[0], line, now_ns)

"""What the processor reads out of an entry: timestamp, level, message and ECS fields.

``parse_line`` tries, in order: a JSON object, then plain text with a leading timestamp (``text.py``). Lines that
match nothing are still messages, with the collector's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from processor.parsers.text import normal_level, parse_text, parse_time

__all__ = ["Parsed", "normal_level", "parse_line"]

_JSON_MESSAGE = ("message", "msg", "log")
_JSON_LEVEL = ("level", "log.level", "severity", "lvl", "loglevel")
_JSON_TIME = ("@timestamp", "timestamp", "time", "ts")


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
    return Parsed(message, time_ns, normal_level(level) if level else None, {}, obj or None)


def parse_line(line: str, now_ns: int) -> Parsed:
    """Parse one message; never raises on content."""
    if line.startswith("{"):
        parsed = _parse_json(line, now_ns)
        if parsed is not None:
            return parsed
    text = parse_text(line, now_ns)
    if text is not None:
        return Parsed(text.message, text.time_ns, text.level, text.fields)
    return Parsed(line)

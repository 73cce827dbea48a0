"""Access logs in the NCSA common and combined layouts (Apache httpd, nginx's default ``combined``)."""

from __future__ import annotations

import re
from typing import Any

from logjet.timeparse import MONTHS, to_ns

__all__ = ["parse_access"]

_ACCESS = re.compile(
    r'(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<d>\d{2})/(?P<mon>[A-Z][a-z]{2})/(?P<y>\d{4}):(?P<h>\d{2}):'
    r'(?P<mi>\d{2}):(?P<s>\d{2}) (?P<tz>[+-]\d{4})\] "(?P<request>[^"\\]*(?:\\.[^"\\]*)*)" (?P<status>\d{3}) '
    r'(?P<bytes>\d+|-)(?: "(?P<referrer>[^"\\]*(?:\\.[^"\\]*)*)" "(?P<agent>[^"\\]*(?:\\.[^"\\]*)*)")?'
)

_IP = re.compile(r"[\d.]+|[0-9a-fA-F:]+")


def parse_access(line: str) -> tuple[int, dict[str, Any]] | None:
    """(timestamp, ECS fields) of an access-log line, or None when it is not one."""
    m = _ACCESS.match(line)
    if m is None or m["mon"] not in MONTHS:
        return None
    tz = m["tz"]
    offset = (-1 if tz[0] == "-" else 1) * (int(tz[1:3]) * 60 + int(tz[3:]))
    try:
        ns = to_ns(int(m["y"]), MONTHS[m["mon"]], int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]), "", offset)
    except ValueError:
        return None
    fields: dict[str, Any] = {"source.address": m["client"], "http.response.status_code": int(m["status"])}
    if _IP.fullmatch(m["client"]) and ("." in m["client"] or ":" in m["client"]):
        fields["source.ip"] = m["client"]
    if m["user"] != "-":
        fields["user.name"] = m["user"]
    parts = m["request"].split(" ")
    if len(parts) == 3:
        fields["http.request.method"], fields["url.original"] = parts[0], parts[1]
        fields["http.version"] = parts[2].removeprefix("HTTP/")
    elif m["request"] and m["request"] != "-":
        fields["url.original"] = m["request"]
    if m["bytes"] != "-":
        fields["http.response.body.bytes"] = int(m["bytes"])
    if m["referrer"] not in (None, "-"):
        fields["http.request.referrer"] = m["referrer"]
    if m["agent"] not in (None, "-"):
        fields["user_agent.original"] = m["agent"]
    return ns, fields

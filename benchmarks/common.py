"""What the benchmark runners share: a free port, and one series read off a component's /metrics."""

from __future__ import annotations

import re
import socket

import httpx

__all__ = ["free_port", "metric"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metric(port: int, series: str) -> float:
    """The value of ``series`` (name and labels, as exposed) on 127.0.0.1:port; -1 while nothing answers."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return -1.0
    m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0

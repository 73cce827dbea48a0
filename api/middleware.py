"""ASGI middleware of the API: the request log and metrics, security headers, the open demo's locality guard, and
the admission limit of Elasticsearch-bound requests.

Plain ASGI (no BaseHTTPMiddleware), so streamed responses (the live tail) pass through untouched and are logged
once, when they end. Nothing here may block the event loop: /healthz is answered on it and must stay fast while
every worker thread waits on Elasticsearch.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

import orjson
from prometheus_client import Counter, Histogram

from logjet.config import is_loopback_host

__all__ = ["AccessLog", "DemoGuard", "QueryLimit", "SecurityHeaders", "CSP", "KEY_NAME"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("logjet.api.access")

# Where the authentication dependency leaves the caller's key name for the request log (scope["state"]).
KEY_NAME = "api_key_name"

# The explorer loads its script and style from this server; nothing inline, nothing from elsewhere, no framing.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


async def _problem(send: Send, status: int, title: str, detail: str,
                   extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


def _printable(text: str) -> str:
    # Control characters would forge log lines.
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


class AccessLog:
    """One log line per request (method, path, status, duration, the key's name, never its token) and the
    Prometheus request metrics, written when the response has ended (for a stream: when it closes)."""

    def __init__(self, app: App, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the application raises before it starts a response

        started_response = False

        async def sending(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            if started_response:  # a stream broke half-way: nothing left to answer, the server closes it
                raise
            # Answered here rather than by the server, so the 500 too is a problem document with the headers.
            access_log.exception("unhandled error")
            await _problem(send, 500, "internal error", "the request failed; the server log has the details")
        finally:
            seconds = time.perf_counter() - started
            endpoint = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(endpoint, str(status)).inc()
            self.latency.labels(endpoint).observe(seconds)
            key = scope.get("state", {}).get(KEY_NAME) or "-"
            client = scope.get("client")
            # The path as the client sent it (percent-encoded), so one request stays one line of one shape.
            raw = scope.get("raw_path")
            path = raw.decode("latin-1") if raw else quote(scope.get("path", ""))
            access_log.info("%s %s %d %.1fms key=%s client=%s", scope.get("method", "-"), _printable(path), status,
                            seconds * 1000, _printable(key).replace(" ", "_"), client[0] if client else "-")


class SecurityHeaders:
    """Content-Security-Policy, nosniff, no framing and no referrer on every response (a route's own values win)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in _SECURITY_HEADERS if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


class DemoGuard:
    """Open demo mode answers this machine only: the connection must arrive on a loopback address and name a
    loopback host, so a web page that rebinds its own DNS name to 127.0.0.1 is refused (its Host is its name)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        server = scope.get("server")
        if server is not None and not is_loopback_host(str(server[0])):
            await _problem(send, 403, "forbidden", "open demo mode answers on a loopback address only")
            return
        host = _host_name(dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1"))
        if not is_loopback_host(host):
            await _problem(send, 421, "misdirected request",
                           "open demo mode answers requests for localhost, 127.0.0.1 or [::1] only")
            return
        await self.app(scope, receive, send)


def _host_name(host: str) -> str:
    """The name in a Host header, without its port (``[::1]:8080`` -> ``[::1]``)."""
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class QueryLimit:
    """At most ``concurrent`` requests to the given paths (or matching ``pattern``) run at once, at most ``queued``
    wait for a turn; the next one is answered 503 with Retry-After at once, so a burst cannot pile up threads, sockets
    and memory."""

    def __init__(self, app: App, paths: frozenset[str], concurrent: int, queued: int,
                 pattern: re.Pattern[str] | None = None) -> None:
        self.app, self.paths, self.concurrent, self.queued = app, paths, concurrent, queued
        self.pattern = pattern  # paths with a variable part (a document's context)
        self.waiting = 0
        self._turns: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._turns is None or self._loop is not loop:  # one app may be served by several loops in turn (tests)
            self._turns, self._loop = asyncio.Semaphore(self.concurrent), loop
        return self._turns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or (path not in self.paths
                                       and (self.pattern is None or self.pattern.match(path) is None)):
            await self.app(scope, receive, send)
            return
        turns = self._semaphore()
        if turns.locked() and self.waiting >= self.queued:
            await _problem(send, 503, "busy", f"more than {self.concurrent + self.queued} searches at once: retry",
                           [(b"retry-after", b"1")])
            return
        self.waiting += 1
        try:
            await turns.acquire()
        finally:
            self.waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            turns.release()

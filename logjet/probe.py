"""The small HTTP port of the collector and the processor: ``/metrics`` and ``/healthz``, on a daemon thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

__all__ = ["ProbeServer", "health_route", "metrics_route"]

# What a route answers: (status, content type, body).
Route = Callable[[], tuple[int, str, bytes]]
# A client that opens a connection and sends nothing (or trickles a request) holds a thread: not for long.
REQUEST_TIMEOUT_S = 5.0


def metrics_route(registry: Callable[[], Collector]) -> Route:
    return lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry()))


def health_route(check: Callable[[], tuple[bool, dict[str, Any]]]) -> Route:
    def answer() -> tuple[int, str, bytes]:
        ok, body = check()
        return 200 if ok else 503, "application/json", orjson.dumps(body)

    return answer


class ProbeServer:
    def __init__(self, host: str, port: int, routes: Mapping[str, Route]) -> None:
        class Handler(BaseHTTPRequestHandler):
            timeout = REQUEST_TIMEOUT_S

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                route = routes.get(self.path.split("?")[0])
                code, ctype, body = route() if route else (404, "text/plain", b"not found\n")
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # scrapes every few seconds would flood the log
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, name="probe", daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

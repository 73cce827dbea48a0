from __future__ import annotations

import socket
import time

import httpx

from logjet import probe
from logjet.probe import ProbeServer


def test_a_silent_client_is_dropped_and_the_port_keeps_answering(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(probe, "REQUEST_TIMEOUT_S", 0.5)
    server = ProbeServer("127.0.0.1", 0, {"/healthz": lambda: (200, "text/plain", b"ok")})
    try:
        assert server.httpd.server_address[0] == "127.0.0.1"
        silent = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
        assert httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=2).text == "ok"
        t0 = time.monotonic()
        silent[0].settimeout(5)
        assert silent[0].recv(1) == b""  # the server closed it
        assert time.monotonic() - t0 < 2
        for s in silent:
            s.close()
    finally:
        server.close()

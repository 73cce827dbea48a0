"""The API's ASGI middleware without servers: an unhandled error still answers a problem with the headers and one log
line, and the open demo's Host and address checks."""

from __future__ import annotations

import logging

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from api.middleware import CSP, DemoGuard, _host_name


def _boom() -> PlainTextResponse:
    raise RuntimeError("a bug")


def _ok(_request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


def test_an_unhandled_error_is_a_problem_with_the_headers_and_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    from api import create_app
    from logjet.config import LogjetSettings

    app = create_app(LogjetSettings())  # the real middleware stack; nothing connects until a request needs it
    app.add_api_route("/boom", _boom)
    client = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level(logging.INFO, logger="logjet.api.access"):
        res = client.get("/boom")
    assert res.status_code == 500 and res.headers["content-type"] == "application/problem+json"
    assert res.headers["content-security-policy"] == CSP and res.headers["x-content-type-options"] == "nosniff"
    assert "a bug" not in res.text
    lines = [r.getMessage() for r in caplog.records if r.name == "logjet.api.access" and r.levelno == logging.INFO]
    assert len(lines) == 1 and lines[0].startswith("GET /boom 500 ")


@pytest.mark.parametrize(("header", "name"), [
    ("localhost:8080", "localhost"), ("127.0.0.1", "127.0.0.1"), ("[::1]:8080", "[::1]"), ("[::1]", "[::1]"),
    ("attacker.example:80", "attacker.example"), ("", ""),
])
def test_host_header_names(header: str, name: str) -> None:
    assert _host_name(header) == name


def test_demo_guard_answers_loopback_names_on_loopback_addresses_only() -> None:
    app = DemoGuard(Starlette(routes=[Route("/", _ok)]))
    local = TestClient(app, base_url="http://localhost:8080")
    # TestClient's connections "arrive" on the Host's address: a loopback name passes, another is refused.
    assert local.get("/").status_code == 200
    assert TestClient(app, base_url="http://127.0.0.1").get("/").status_code == 200
    assert TestClient(app, base_url="http://attacker.example").get("/").status_code == 403
    assert local.get("/", headers={"Host": "attacker.example:8080"}).status_code == 421

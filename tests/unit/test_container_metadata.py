"""Container metadata through the docker SDK, against a stand-in Engine API on a Unix socket (no Docker engine runs
on these machines): the request the SDK makes and the fields logjet takes from the answer."""

from __future__ import annotations

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from collectors.containers.metadata import ContainerMetadata
from logjet.errors import ConfigError

CID = "9" * 64


class _Engine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Handler.seen.append(self.path)
        if self.path.endswith("/version"):
            body = {"ApiVersion": "1.44", "Version": "26.1.0"}
        elif self.path.endswith(f"/containers/{CID}/json"):
            body = {"Id": CID, "Name": "/api-from-engine", "Config": {"Image": "shop/api:2.0",
                                                                        "Labels": {"tier": "backend"}}}
        else:
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"message": "No such container"}')
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self) -> str:  # a Unix socket has no client address
        return "unix"

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def engine(tmp_path: Path):  # noqa: ANN201
    sock = tmp_path / "docker.sock"
    server = _Engine(str(sock), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"unix://{sock}"
    server.shutdown()
    server.server_close()


def test_engine_api_metadata_wins_over_files_and_a_gone_container_falls_back(engine: str, tmp_path: Path) -> None:
    meta = ContainerMetadata(engine)
    for cid, name in ((CID, "from-file"), ("8" * 64, "gone-but-on-disk")):
        d = tmp_path / "containers" / cid
        d.mkdir(parents=True)
        (d / "config.v2.json").write_text(json.dumps({"ID": cid, "Name": f"/{name}", "Config": {"Image": "x"}}))
    tags = meta.for_docker_log(str(tmp_path / "containers" / CID / f"{CID}-json.log"))
    assert tags["container.name"] == "api-from-engine" and tags["container.image.name"] == "shop/api:2.0"
    assert tags["container.labels.tier"] == "backend"
    assert any(p.endswith(f"/containers/{CID}/json") for p in _Handler.seen)
    gone = meta.for_docker_log(str(tmp_path / "containers" / ("8" * 64) / "x-json.log"))
    assert gone["container.name"] == "gone-but-on-disk"


def test_an_unusable_socket_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="docker_socket"):
        ContainerMetadata(f"unix://{tmp_path / 'nothing.sock'}")

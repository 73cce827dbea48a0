"""logjet's own logs while Kafka is away: librdkafka's lines go through Python logging, in logjet's format, a
broker that stays down is reported once, then at a bounded rate, instead of ~10 raw ``%3|`` lines a second, and its
return is said once."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

from tests.integration.conftest import env_for, free_port, wait_for


def _collector_against_closed_port(*options: str, seconds: float = 5.0) -> list[str]:
    port = free_port()  # nothing listens there: every connection attempt is refused at once
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}
    env.update({"LOGJET_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}", "LOGJET_COLLECTOR_SHUTDOWN_DEADLINE_S": "1"})
    proc = subprocess.Popen([sys.executable, "-m", "cli", *options, "collect", "stdin"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(b"one\ntwo\nthree\n")
    proc.stdin.flush()
    time.sleep(seconds)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return err.decode().splitlines()


def test_a_broker_that_stays_down_is_logged_once_in_the_text_format() -> None:
    lines = _collector_against_closed_port()
    assert not [line for line in lines if line.startswith("%")], "raw librdkafka lines on stderr"
    fails = [line for line in lines if " FAIL [rdkafka#producer-" in line]
    # librdkafka retries every ~100 ms (about 50 lines in 5 s without the limit); the first is logged at once.
    assert 1 <= len(fails) <= 2, fails
    assert " ERROR logjet.collector.kafka: FAIL [rdkafka#producer-1]" in fails[0]
    assert "Connection refused" in fails[0]


def test_json_format_on_every_line_with_the_component() -> None:
    lines = _collector_against_closed_port("--log-format", "json", seconds=3.0)
    docs = [orjson.loads(line) for line in lines]  # every line one JSON object
    assert docs and all(set(d) >= {"time", "level", "logger", "message", "component"} for d in docs)
    assert {d["component"] for d in docs} == {"collector"}
    fails = [d for d in docs if d["logger"] == "logjet.collector.kafka"]
    assert len(fails) == 1 and fails[0]["level"] == "error" and fails[0]["message"].startswith("FAIL ")
    assert any(d["logger"] == "logjet.collector" and d["message"].startswith("collector running") for d in docs)


class Gateway:
    """A TCP proxy to the shared broker on a port that answers only from ``open()`` on: Kafka made reachable late
    for one collector, without touching the broker."""

    def __init__(self, port: int, upstream: tuple[str, int]) -> None:
        self.port, self.upstream = port, upstream
        self._server: socket.socket | None = None
        self._sockets: list[socket.socket] = []

    def open(self) -> None:
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self.upstream)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for s in self._sockets:
            s.close()


def test_kafka_reachable_again_is_logged_once_with_the_outage_and_the_records_held(make_settings,  # noqa: ANN001
                                                                                   tmp_path: Path) -> None:
    settings = make_settings()
    host, _, broker_port = settings.kafka.bootstrap.rpartition(":")
    gateway = Gateway(free_port(), (host, int(broker_port)))  # nothing listens there yet: refused at once
    env = env_for(settings)
    env.update({"LOGJET_KAFKA_BOOTSTRAP": f"127.0.0.1:{gateway.port}", "LOGJET_COLLECTOR_SHUTDOWN_DEADLINE_S": "5"})
    err = tmp_path / "collector.err"
    with err.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "collect", "stdin"], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=fh)
    assert proc.stdin is not None
    try:
        proc.stdin.write(b"one\ntwo\nthree\n")
        proc.stdin.flush()
        wait_for(lambda: " FAIL [rdkafka#producer-" in err.read_text(), 30, "the first failure")
        time.sleep(3)  # the outage: reconnect attempts keep failing
        gateway.open()
        # librdkafka's reconnect back-off has grown to a few seconds by now: it finds the port open on its next try.
        wait_for(lambda: "Kafka reachable again" in err.read_text(), 30, "the line saying Kafka is back")
        proc.stdin.write(b"four\nfive\n")  # more records after the return: no more lines about it
        proc.stdin.flush()
        time.sleep(2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        gateway.close()
    lines = err.read_text().splitlines()
    assert not [line for line in lines if line.startswith("%")], "raw librdkafka lines on stderr"
    back = [line for line in lines if "Kafka reachable again" in line]
    assert len(back) == 1, back
    print(back[0])
    m = re.search(r" INFO logjet\.collector\.kafka: Kafka reachable again after ([\d.]+) s \((\d+) records? held back "
                  r"meanwhile\)$", back[0])
    assert m, back[0]
    # From the first failure to the first acknowledgement: at least the 3 s the port stayed closed.
    assert 3 <= float(m[1]) < 40 and int(m[2]) >= 1, back[0]
    assert lines.index(back[0]) > next(i for i, line in enumerate(lines) if " FAIL [rdkafka#producer-" in line)

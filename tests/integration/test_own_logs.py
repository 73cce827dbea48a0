"""logjet's own logs while Kafka is away: librdkafka's lines go through Python logging, in logjet's format, and a
broker that stays down is reported once, then at a bounded rate, instead of ~10 raw ``%3|`` lines a second."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import orjson

from tests.integration.conftest import free_port


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

"""`logjet top --once --json` against a running collector, processor and API: its counters are what was sent, and
its rates move while lines arrive."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.integration.conftest import api_key, env_for, es_count, free_port, logjet, wait_for

N = 300


def _top(settings: Any, token: str, interval: float = 1.0) -> dict[str, Any]:
    # The addresses come from the configuration (metrics ports, api.port, elasticsearch.url), as for an operator.
    out = subprocess.run([sys.executable, "-m", "cli", "top", "--once", "--json", "--interval", str(interval),
                          "--api-token", token], env=env_for(settings), capture_output=True, timeout=60, check=True)
    return orjson.loads(out.stdout)


def test_top_shows_what_went_through_the_pipeline(make_settings, tmp_path: Path) -> None:
    token, key = api_key(all_logs=True)
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json"), "metrics_port": free_port()},
                             processor={"metrics_port": free_port()}, api={"port": free_port(), "keys": [key]})
    log_file = tmp_path / "app.log"
    log_file.write_text("".join(f"2026-11-29 10:00:{i % 60:02d} INFO line {i} of the top test\n" for i in range(N)))
    procs = {name: logjet(*args, settings=settings, log_path=str(tmp_path / f"{name}.out"))
             for name, args in {"collector": ("collect", "files", str(log_file)), "processor": ("process",),
                                "api": ("serve",)}.items()}
    stop = threading.Event()
    writer: threading.Thread | None = None
    try:
        wait_for(lambda: es_count(settings) >= N, 120, f"{N} documents")
        base = f"http://127.0.0.1:{settings.api.port}"
        auth = {"Authorization": f"Bearer {token}"}
        wait_for(lambda: _answers(f"{base}/healthz"), 30, "the API")
        for _ in range(3):
            assert httpx.get(f"{base}/v1/logs", params={"from": "now-1d", "q": "top"}, headers=auth).status_code == 200

        snap = _top(settings, token)
        inputs = snap["collector"]["inputs"]
        assert snap["collector"]["up"] and set(inputs) == {"files"}
        assert inputs["files"]["lines"] == N and inputs["files"]["acked"] == N and inputs["files"]["errors"] == 0
        assert inputs["files"]["bytes"] == log_file.stat().st_size
        assert snap["collector"]["bytes_behind"] == 0
        processor = snap["processor"]
        assert processor["up"] and processor["entries_in"] == N and processor["documents_indexed"] == N
        assert processor["dead_letters"] == {} and processor["bulk_retries"] == {}
        assert all(name.startswith(f"{settings.kafka.topic}[") for name in processor["lag"])
        assert snap["elasticsearch"]["up"] and snap["elasticsearch"]["documents_indexed"] >= N
        assert snap["api"]["up"] and snap["api"]["requests"] >= 4  # three searches and the health check
        assert snap["api"]["errors_5xx"] == 0

        # While lines keep arriving, every stage's rate is above zero.
        def write() -> None:
            i = N
            with log_file.open("a") as fh:
                while not stop.is_set():
                    fh.write("".join(f"2026-11-29 10:01:00 INFO more {i + k}\n" for k in range(20)))
                    fh.flush()
                    i += 20
                    time.sleep(0.05)

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(2)
        snap = _top(settings, token, interval=2.0)
        assert snap["interval_s"] >= 2.0
        assert snap["collector"]["inputs"]["files"]["lines_per_s"] > 0
        assert snap["processor"]["entries_per_s"] > 0 and snap["processor"]["documents_per_s"] > 0
        assert snap["elasticsearch"]["documents_per_s"] > 0
    finally:
        stop.set()
        if writer is not None:
            writer.join()
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        codes = {name: proc.wait(timeout=60) for name, proc in procs.items()}
    assert codes == {"collector": 0, "processor": 0, "api": 0}, codes


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_top_says_which_component_is_down(make_settings) -> None:
    settings = make_settings(collector={"metrics_port": free_port()}, processor={"metrics_port": free_port()},
                             api={"port": free_port()})
    snap = _top(settings, "none")
    for name in ("collector", "processor", "api"):
        assert snap[name]["up"] is False and "ConnectError" in snap[name]["error"], snap[name]
    assert snap["elasticsearch"]["up"] is True

"""The walking pipeline, all real: file -> `logjet collect` -> Kafka -> `logjet process` -> Elasticsearch ->
`logjet serve` -> GET /v1/logs."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import httpx

from tests.integration.conftest import api_key, es_count, free_port, logjet, wait_for

N = 10_000


def test_ten_thousand_appended_lines_come_back_through_the_api(make_settings, tmp_path: Path) -> None:
    port = free_port()
    token, key = api_key(all_logs=True)
    auth = {"Authorization": f"Bearer {token}"}
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json")},
                             api={"port": port, "keys": [key]})
    log_file = tmp_path / "app.log"
    run = uuid.uuid4().hex[:8]
    expected = [f"line {i:05d} of run {run}: the quick brown fox" for i in range(N)]
    log_file.write_text(expected[0] + "\n")
    procs = {
        name: logjet(*args, settings=settings, log_path=str(tmp_path / f"{name}.out"))
        for name, args in {"collector": ("collect", "files", str(log_file)), "processor": ("process",),
                           "api": ("serve",)}.items()
    }
    try:
        # Appended while the collector runs, in bursts, as an application would.
        with log_file.open("a") as fh:
            for start in range(1, N, 1000):
                fh.write("".join(line + "\n" for line in expected[start : start + 1000]))
                fh.flush()
        wait_for(lambda: es_count(settings) >= N, 180, f"{N} documents in Elasticsearch")
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(base), 30, "the API")
        messages: list[str] = []
        cursor = None
        total = None
        while True:
            params = {"from": "now-1h", "to": "now+1h", "size": 1000, "sort": "asc"}
            if cursor:
                params["cursor"] = cursor
            page = httpx.get(f"{base}/v1/logs", params=params, headers=auth, timeout=30).json()
            total = total or page["total"]
            messages += [d["message"] for d in page["documents"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert total == {"value": N, "relation": "eq"}
        assert len(messages) == N
        assert sorted(messages) == sorted(expected)
        found = httpx.get(f"{base}/v1/logs", params={"from": "now-1h", "to": "now+1h", "q": f"{run} 04242"},
                          headers=auth).json()
        assert [d["message"] for d in found["documents"]] == [expected[4242]]
        assert found["documents"][0]["log"]["file"]["path"] == str(log_file)
        assert es_count(settings) == N
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        codes = {name: proc.wait(timeout=60) for name, proc in procs.items()}
    assert codes == {"collector": 0, "processor": 0, "api": 0}, codes


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_readyz_reports_both_dependencies(make_settings) -> None:
    from fastapi.testclient import TestClient

    from api import create_app

    token, key = api_key(all_logs=True)
    client = TestClient(create_app(make_settings(api={"keys": [key]})))
    assert client.get("/readyz").status_code == 401
    res = client.get("/readyz", headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["status"] == "ready"
    assert body["checks"]["kafka"]["ok"] and body["checks"]["elasticsearch"]["ok"]
    assert body["checks"]["kafka"]["latency_ms"] >= 0

"""`logjet up` with no paths, as a new user runs it (here against the session's servers): every example query it
prints finds documents within 30 s, the stats name the demo's containers, and Ctrl-C stops everything cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cli.up import _uses_local_stack
from tests.integration.conftest import api_key, env_for, free_port

QUERY_DEADLINE_S = 30


def test_every_query_up_prints_finds_documents(make_settings, tmp_path: Path) -> None:
    settings = make_settings(api={"port": free_port()})
    headers: dict[str, str] = {}
    if not _uses_local_stack(settings):  # other clusters: no open demo mode, the queries need a key
        token, key = api_key(all_logs=True)
        settings = make_settings(api={"port": settings.api.port, "keys": [key]})
        headers = {"Authorization": f"Bearer {token}"}
    env = env_for(settings)
    # Servers already answering are used, never started or stopped: no pid file of theirs is in this state dir.
    env["LOGJET_STACK_STATE_DIR"] = str(tmp_path / "stack")
    env["LOGJET_PROCESSOR_WORKERS"] = "1"
    out = tmp_path / "up.out"
    with out.open("wb") as fh:
        up = subprocess.Popen([sys.executable, "-m", "cli", "up"], env=env, cwd=tmp_path, stdout=fh,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything" not in out.read_text() and time.monotonic() < deadline:
            assert up.poll() is None, out.read_text()
            time.sleep(0.2)
        printed = out.read_text()
        queries = re.findall(r"curl '(http://[^']+/v1/(?:logs|stats)\?[^']*)'", printed)
        assert len(queries) >= 7, printed
        demo_dir = re.search(r"under (\S+) and sends syslog", printed)
        assert demo_dir, printed

        expected_containers = {"shop-checkout", "shop-payments", "shop-frontend"}
        pending = set(queries)
        counts: dict[str, int] = {}
        containers: set[str] = set()
        stats: dict = {}
        start = time.monotonic()
        with httpx.Client(headers=headers, timeout=10) as client:
            stats_url = queries[0].split("/v1/")[0] + "/v1/stats"
            while (pending or not expected_containers <= containers) and time.monotonic() - start < QUERY_DEADLINE_S:
                for query in sorted(pending):
                    try:
                        res = client.get(query)
                    except httpx.HTTPError:
                        continue  # the API is still starting
                    if res.status_code != 200:
                        continue
                    total = res.json()["total"]  # /v1/logs: {value, relation}; /v1/stats: a number
                    counts[query] = total["value"] if isinstance(total, dict) else total
                    if counts[query] > 0:
                        pending.discard(query)
                res = client.get(stats_url, params={"from": "now-15m"})
                if res.status_code == 200:
                    stats = res.json()
                    containers = {c["name"] for c in stats["containers"]}
                time.sleep(0.5)
        assert not pending, f"no documents after {QUERY_DEADLINE_S}s for {sorted(pending)}; found {counts}"
        assert expected_containers <= containers, stats
        assert {"payments", "inventory", "cart"} <= {s["name"] for s in stats["services"]}
        assert 0 < stats["error_ratio"] < 0.5
    finally:
        t0 = time.monotonic()
        up.send_signal(signal.SIGINT)
        rc = up.wait(timeout=60)
        stopped_in = time.monotonic() - t0
    assert rc == 0, out.read_text()[-3000:]
    assert stopped_in < 15, f"Ctrl-C took {stopped_in:.1f}s"
    assert not Path(demo_dir.group(1)).exists()  # the demo's files go with it
    assert not os.path.exists(tmp_path / "stack" / "run")

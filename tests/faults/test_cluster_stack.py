"""The local stack as a cluster, through the command line: every node in `status`, one node stopped and started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml


def _cli(config: Path, *args: str) -> str:
    # The environment overrides the file (as operators expect), so a LOGJET_STACK_STATE_DIR of the run's own stack
    # (CI sets one) would point the command at that stack instead of this cluster.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}
    res = subprocess.run([sys.executable, "-m", "cli", "stack", *args, "--config", str(config)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def _states(config: Path) -> dict[str, str]:
    return {line.split()[0]: line.split()[1] for line in _cli(config, "status").splitlines()}


def test_status_lists_every_node_and_one_node_stops_and_starts_alone(cluster, tmp_path: Path) -> None:  # noqa: ANN001
    config = tmp_path / "logjet.yaml"
    config.write_text(yaml.safe_dump({"stack": cluster.settings.model_dump(mode="json")}))
    names = [f"kafka-{i}" for i in (1, 2, 3)] + [f"elasticsearch-{i}" for i in (1, 2, 3)]
    assert _states(config) == dict.fromkeys(names, "running")
    assert "elasticsearch-3: killed" in _cli(config, "stop", "elasticsearch-3", "--kill")
    assert "kafka-3: stopped" in _cli(config, "stop", "kafka-3")
    states = _states(config)
    assert states["kafka-3"] == states["elasticsearch-3"] == "stopped"
    assert all(states[n] == "running" for n in names if not n.endswith("-3"))
    assert "kafka-3: ready" in _cli(config, "start", "kafka-3")
    assert "elasticsearch-3: ready" in _cli(config, "start", "elasticsearch-3")
    assert _states(config) == dict.fromkeys(names, "running")
    health = cluster.elasticsearch_health()
    assert health is not None and health["number_of_nodes"] == 3

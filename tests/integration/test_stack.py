from __future__ import annotations

import subprocess
import sys

from logjet.config import load_settings
from logjet.stack import Stack


def test_status_names_both_services_with_versions(endpoints) -> None:  # noqa: ANN001
    statuses = {s.name: s for s in Stack(load_settings().stack).status()}
    assert statuses["kafka"].state in ("running", "external")
    assert statuses["elasticsearch"].state in ("running", "external")
    assert statuses["elasticsearch"].version and statuses["elasticsearch"].version.startswith("8.")
    if statuses["kafka"].state == "running":
        assert statuses["kafka"].version and statuses["kafka"].version.startswith("4.")


def test_stack_up_is_idempotent(endpoints) -> None:  # noqa: ANN001
    res = subprocess.run([sys.executable, "-m", "cli", "stack", "up"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "started pid" not in res.stdout
    assert "kafka ready" in res.stdout

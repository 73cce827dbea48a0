"""What the `logjet` command prints never carries a secret: configuration errors, errors and log lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SECRET = "pw-9f8e7d6c"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}


def _logjet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, timeout=60,
                          env={**ENV, **(env or {})})


def test_a_configuration_error_names_keys_and_hides_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "logjet.yaml"
    cfg.write_text(f"elasticsearch:\n  url: https://elastic:{SECRET}@es:9200\n  dataset: Not-Valid\n"
                   f"kafka:\n  options:\n    sasl.password: [{SECRET}]\n")
    res = _logjet("serve", "--config", str(cfg))
    assert res.returncode == 2
    assert "elasticsearch.dataset" in res.stderr and "kafka.options.sasl.password" in res.stderr
    assert SECRET not in res.stdout + res.stderr


def test_log_lines_and_tracebacks_lose_url_credentials() -> None:
    code = f"""
import logging
from logjet.logs import setup_logging
setup_logging()
log = logging.getLogger("logjet.test")
log.warning("cannot reach %s", "https://elastic:{SECRET}@es-1:9200")
try:
    raise ConnectionError("refused by http://u:{SECRET}@es-2:9200")
except ConnectionError:
    log.exception("bulk failed")
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=ENV)
    assert res.returncode == 0, res.stderr
    assert "cannot reach https://<hidden>@es-1:9200" in res.stderr
    assert "refused by http://<hidden>@es-2:9200" in res.stderr
    assert SECRET not in res.stderr

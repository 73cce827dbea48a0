"""The rsyslog peer of the benchmarks: every configuration the harness generates is one rsyslogd accepts whole.

rsyslogd starts even when an action is broken (it only disables it), so a configuration it does not accept would
make a peer that silently does nothing: `rsyslogd -N1` must pass on each.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from benchmarks import rsyslog


@pytest.mark.parametrize("kind", ["files", "tcp", "udp", "b5"])
def test_generated_rsyslog_configurations_validate(kind: str, tmp_path: Path) -> None:
    assert rsyslog.available() is None, rsyslog.available()
    (tmp_path / "work").mkdir()
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(rsyslog.config(kind, tmp_path, "127.0.0.1:9092", "bench-peer", port=15140,
                                   es_url="http://127.0.0.1:9200", index="bench-peer", group="bench-peer"))
    check = subprocess.run([rsyslog.RSYSLOGD, "-N1", "-f", str(conf)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from logjet.stack.process import ManagedProcess, tail


def test_start_find_and_stop_a_process_group(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", tmp_path / "s.pid", tmp_path / "s.log")
    pid = proc.start(["sh", "-c", "echo started; sleep 60 & wait"], env=os.environ, cwd=tmp_path)
    assert proc.pid() == pid
    for _ in range(100):
        if "started" in tail(tmp_path / "s.log"):
            break
        time.sleep(0.05)
    assert "started" in tail(tmp_path / "s.log")
    assert proc.stop(timeout=10) is True
    assert proc.pid() is None
    assert not (tmp_path / "s.pid").exists()


def test_a_recycled_pid_is_never_signalled(tmp_path: Path) -> None:
    other = subprocess.Popen(["sleep", "60"])
    try:
        # A pid file naming a live process, but with another start time: not the process `up` started.
        (tmp_path / "s.pid").write_text(f"{other.pid} 1\n")
        proc = ManagedProcess("sleeper", tmp_path / "s.pid", tmp_path / "s.log")
        assert proc.pid() is None
        assert proc.stop(timeout=1) is False
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_tail_of_a_missing_log_says_so(tmp_path: Path) -> None:
    assert "no log" in tail(tmp_path / "missing.log")


def test_kill_sigkills_the_whole_group_at_once(tmp_path: Path) -> None:
    proc = ManagedProcess("stubborn", tmp_path / "s.pid", tmp_path / "s.log")
    # Ignores SIGTERM, as a server stuck in its shutdown would, and has a child in its group (the ES launcher's JVM).
    pid = proc.start(["sh", "-c", "trap '' TERM; sleep 60 & echo child $!; wait"], env=os.environ, cwd=tmp_path)
    for _ in range(100):
        if "child" in tail(tmp_path / "s.log"):
            break
        time.sleep(0.05)
    child = int(tail(tmp_path / "s.log").split()[-1])
    assert proc.signal(signal.SIGTERM) is True
    time.sleep(0.3)
    assert proc.pid() == pid  # still there: SIGTERM ignored
    t0 = time.monotonic()
    assert proc.kill(timeout=10) is True
    assert time.monotonic() - t0 < 5
    assert proc.pid() is None and not (tmp_path / "s.pid").exists()
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        try:
            os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    assert proc.kill() is False and proc.signal(signal.SIGTERM) is False  # nothing left to signal

"""Start, find and stop the local stack's server processes through pid files.

A pid file holds the pid and the process start time (from /proc), so a recycled pid is never mistaken for the
server and ``down`` never signals a process that ``up`` did not start.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ManagedProcess", "port_open", "tail"]


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; the fields after its closing parenthesis are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def _reap(pid: int) -> None:
    # A server started by this very process (tests) becomes a zombie when it exits; reap it so it reads as gone.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        # The servers' own logs may be written by their unprivileged user: a link there is not followed.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(data.splitlines()[-lines:])


def _read_owned(path: Path) -> str:
    """The text of ``path`` if it is a regular file of this process's user, never through a link."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd) as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise PermissionError(f"{path} is not this user's own file")
        return fh.read()


@dataclass(frozen=True)
class ManagedProcess:
    name: str
    pid_file: Path
    log_file: Path
    legacy_pid_file: Path | None = None  # where an older layout kept it

    def pid(self) -> int | None:
        """The pid of the running process this pid file describes, or None.

        Only a pid file this user wrote counts: whoever could write another could name any process to signal.
        """
        for path in (self.pid_file, self.legacy_pid_file):
            if path is None:
                continue
            try:
                pid_text, started = _read_owned(path).split()
                pid = int(pid_text)
            except (OSError, ValueError):
                continue
            _reap(pid)
            return pid if _start_time(pid) == started else None
        return None

    def start(self, cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session, so Ctrl-C in the shell that ran `stack up` does not reach the servers, and
                # `down` can signal the whole group (the Elasticsearch launcher forks the server JVM).
                start_new_session=True,
            )
        started = _start_time(proc.pid)
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(f"{proc.pid} {started}\n")
        tmp.replace(self.pid_file)
        return proc.pid

    def signal(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to the process group. Returns whether it was running."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return False
        return True

    def kill(self, timeout: float = 30.0) -> bool:
        """SIGKILL the process group (a crash, for rehearsals) and wait until it is gone."""
        if not self.signal(signal.SIGKILL):
            self._forget()
            return False
        deadline = time.monotonic() + timeout
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        self._forget()
        return True

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM the process group, SIGKILL it after ``timeout``. Returns whether anything was running."""
        pid = self.pid()
        if pid is None:
            self._forget()
            return False
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.2)
        if self.pid() is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while self.pid() is not None:
                time.sleep(0.1)
        self._forget()
        return True

    def _forget(self) -> None:
        self.pid_file.unlink(missing_ok=True)
        if self.legacy_pid_file is not None:
            try:
                _read_owned(self.legacy_pid_file)
                self.legacy_pid_file.unlink()
            except OSError:
                pass

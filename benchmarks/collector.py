"""B4, files: the real `logjet collect files` tailing a corpus file into the real Kafka.

The collector starts on an empty directory; once it runs, the corpus file is moved in (one rename) and the clock
and the process's CPU counters start. The run ends when the collector's own metrics say Kafka acknowledged every
line. Lines per second per core = lines / CPU-seconds of the collector process (its librdkafka threads included).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import free_port, metric

__all__ = ["FilesRun", "SyslogRun", "cpu_s", "feed", "run_files", "run_syslog", "start_collector", "stop"]

_CLK = os.sysconf("SC_CLK_TCK")


@dataclass
class FilesRun:
    lines: int
    bytes: int
    wall_s: float
    cpu_s: float

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.wall_s

    @property
    def lines_per_s_core(self) -> float:
        return self.lines / self.cpu_s


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK  # utime + stime


def _acked(port: int, input_name: str = "files") -> float:
    return metric(port, f'logjet_collector_entries_acked_total{{input="{input_name}"}}')


def start_collector(work: Path, bootstrap: str, topic: str, port: int, args: list[str] | None = None,
                    input_name: str = "files") -> subprocess.Popen:
    """``logjet collect <args>`` (default: files on the empty directory ``work/in``), once its metrics answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}
    env.update({
        "LOGJET_KAFKA_BOOTSTRAP": bootstrap,
        "LOGJET_KAFKA_TOPIC": topic,
        "LOGJET_COLLECTOR_REGISTRY_PATH": str(work / "registry.json"),
        "LOGJET_COLLECTOR_METRICS_PORT": str(port),
        "LOGJET_LOG_LEVEL": "WARNING",
    })
    (work / "in").mkdir()
    args = args or ["files", str(work / "in" / "*.log")]
    proc = subprocess.Popen([sys.executable, "-m", "cli", "collect", *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(work / "collector.err", "wb"))
    deadline = time.monotonic() + 60
    while _acked(port, input_name) < 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"collector did not start: {(work / 'collector.err').read_text()[-2000:]}")
        time.sleep(0.1)
    return proc


def feed(corpus: Path, work: Path) -> None:
    """Put the corpus into the watched directory in one step."""
    target = work / "in" / "corpus.log"
    os.link(corpus, target) if os.stat(corpus).st_dev == os.stat(work).st_dev else shutil.copyfile(corpus, target)


def stop(proc: subprocess.Popen, timeout_s: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_files(corpus: Path, lines: int, bootstrap: str, timeout_s: float = 600) -> FilesRun:
    work = Path(tempfile.mkdtemp(prefix="logjet-b4-"))
    port = free_port()
    proc = None
    try:
        proc = start_collector(work, bootstrap, f"bench-b4-{uuid.uuid4().hex[:8]}", port)
        feed(corpus, work)
        cpu0, t0 = cpu_s(proc.pid), time.monotonic()
        deadline = t0 + timeout_s
        while True:
            done = _acked(port) >= lines
            if done or time.monotonic() > deadline or proc.poll() is not None:
                break
            time.sleep(0.1)
        wall, cpu = time.monotonic() - t0, cpu_s(proc.pid) - cpu0
        if not done:
            err = (work / "collector.err").read_text()[-2000:]
            raise RuntimeError(f"collector did not deliver {lines} lines: {err}")
        return FilesRun(lines, corpus.stat().st_size, wall, cpu)
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class SyslogRun:
    sent: int
    acked: int
    wall_s: float
    cpu_s: float

    @property
    def lines_per_s(self) -> float:
        return self.acked / self.wall_s

    @property
    def lines_per_s_core(self) -> float:
        return self.acked / self.cpu_s


def send_tcp(port: int, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        view = memoryview(payload)
        for i in range(0, len(view), 1 << 20):
            sock.sendall(view[i:i + (1 << 20)])


def send_udp(port: int, messages: list[bytes], rate: int) -> None:
    """One datagram per message, paced at ``rate`` a second (a sender bursting faster than any receiver drains
    its socket buffer measures the buffer, not the receiver)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        t0 = time.monotonic()
        for i in range(0, len(messages), 1000):
            for m in messages[i:i + 1000]:
                sock.sendto(m, ("127.0.0.1", port))
            ahead = t0 + (i + 1000) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)


def run_syslog(protocol: str, messages: list[bytes], bootstrap: str, udp_rate: int,
               timeout_s: float = 600) -> SyslogRun:
    """``logjet collect syslog`` receiving ``messages`` over TCP (newline framing, one connection) or UDP."""
    work = Path(tempfile.mkdtemp(prefix="logjet-b4s-"))
    port, listen = free_port(), free_port()
    name = f"syslog_{protocol}"
    proc = None
    try:
        proc = start_collector(work, bootstrap, f"bench-b4s-{uuid.uuid4().hex[:8]}", port,
                               ["syslog", f"--{protocol}", f"127.0.0.1:{listen}"], name)
        cpu0, t0 = cpu_s(proc.pid), time.monotonic()
        if protocol == "tcp":
            sender = threading.Thread(target=send_tcp, args=(listen, b"\n".join(messages) + b"\n"), daemon=True)
        else:
            sender = threading.Thread(target=send_udp, args=(listen, messages, udp_rate), daemon=True)
        sender.start()
        deadline = t0 + timeout_s
        last, still = -1.0, 0
        while time.monotonic() < deadline and proc.poll() is None:
            acked = _acked(port, name)
            if acked >= len(messages):
                break
            # UDP may lose datagrams: done when the sender finished and nothing moved for a second.
            still = still + 1 if acked == last and not sender.is_alive() else 0
            if still >= 10:
                break
            last = acked
            time.sleep(0.1)
        wall, cpu = time.monotonic() - t0, cpu_s(proc.pid) - cpu0
        acked = int(_acked(port, name))
        if protocol == "tcp" and acked < len(messages):
            raise RuntimeError(f"syslog TCP delivered {acked} of {len(messages)}: "
                               f"{(work / 'collector.err').read_text()[-2000:]}")
        if still >= 10:
            wall -= 1.0  # the idle second that told the run was over
        return SyslogRun(len(messages), acked, wall, cpu)
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)

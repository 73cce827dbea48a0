"""B4, files: the real `logjet collect files` tailing a corpus file into the real Kafka.

The collector starts on an empty directory; once it runs, the corpus file is moved in (one rename) and the clock
and the process's CPU counters start. The run ends when the collector's own metrics say Kafka acknowledged every
line. Lines per second per core = lines / CPU-seconds of the collector process (its librdkafka threads included).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import free_port, metric

__all__ = ["FilesRun", "cpu_s", "feed", "run_files", "start_collector", "stop"]

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


def _acked(port: int) -> float:
    return metric(port, 'logjet_collector_entries_acked_total{input="files"}')


def start_collector(work: Path, bootstrap: str, topic: str, port: int) -> subprocess.Popen:
    """``logjet collect files`` on the empty directory ``work/in``, once its metrics answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}
    env.update({
        "LOGJET_KAFKA_BOOTSTRAP": bootstrap,
        "LOGJET_KAFKA_TOPIC": topic,
        "LOGJET_COLLECTOR_REGISTRY_PATH": str(work / "registry.json"),
        "LOGJET_COLLECTOR_METRICS_PORT": str(port),
        "LOGJET_LOG_LEVEL": "WARNING",
    })
    (work / "in").mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "logjet", "collect", "files", str(work / "in" / "*.log")],
                            env=env, stdout=subprocess.DEVNULL, stderr=open(work / "collector.err", "wb"))
    deadline = time.monotonic() + 60
    while _acked(port) < 0:
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

"""The file collector against the real Kafka: SIGKILL at any moment loses nothing, re-sent entries keep their
identities, and rotation by rename or copytruncate under a high write rate loses no line."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.integration.conftest import env_for, logjet, read_topic, wait_for

N_KILL = 200_000


def _writer(path: Path, lines: list[str], per_s: float, lock: threading.Lock | None = None) -> threading.Thread:
    """Append ``lines`` to ``path`` at about ``per_s`` lines a second, a few hundred at a time."""

    def run() -> None:
        step = 500
        for i in range(0, len(lines), step):
            started = time.monotonic()
            if lock is not None:
                lock.acquire()
            try:
                with path.open("a") as fh:
                    fh.write("".join(line + "\n" for line in lines[i:i + step]))
            finally:
                if lock is not None:
                    lock.release()
            time.sleep(max(0.0, step / per_s - (time.monotonic() - started)))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _check_identities(got: list, lines: list[str]) -> None:
    by_id: dict[tuple[str, int], str] = {}
    for source, entry in got:
        # The same identity always carries the same line: a re-send is a true duplicate.
        assert by_id.setdefault((source.id, entry.seq), entry.message) == entry.message
    assert sorted(by_id.values()) == sorted(lines), f"{len(lines) - len(by_id)} lines missing or doubled"


def test_sigkill_ten_times_while_writing_loses_nothing(make_settings, tmp_path: Path) -> None:
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json"),
                                        "batch_max_entries": 500})
    log_file = tmp_path / "app.log"
    lines = [f"entry {i:06d} " + "x" * (i % 50) for i in range(N_KILL)]
    log_file.write_text("")
    writer = _writer(log_file, lines, per_s=N_KILL / 12)
    rng = random.Random(5)
    for _ in range(10):
        proc = logjet("collect", "files", str(log_file), settings=settings, log_path=str(tmp_path / "c.out"))
        time.sleep(rng.uniform(0.4, 1.5))  # killed at any moment: starting, reading, waiting for acks
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    writer.join()
    proc = logjet("collect", "files", str(log_file), settings=settings, log_path=str(tmp_path / "c.out"))
    try:
        got = read_topic(settings, N_KILL)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert len({source.id for source, _ in got}) == 1
    _check_identities(got, lines)
    offsets = sorted({entry.seq for _, entry in got})
    assert offsets[0] == 0 and offsets[-1] == sum(len(line) + 1 for line in lines[:-1])


def test_rotation_by_rename_at_a_high_rate_loses_no_line(make_settings, tmp_path: Path) -> None:
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json")})
    log_file = tmp_path / "app.log"
    lines = [f"rename {i:06d}" for i in range(100_000)]
    log_file.write_text("")
    proc = logjet("collect", "files", str(log_file), settings=settings, log_path=str(tmp_path / "c.out"))
    try:
        # The rotated names are outside the pattern: a file renamed before the collector has started is out of
        # any collector's reach.
        wait_for(lambda: "collector running" in (tmp_path / "c.out").read_text(), 60, "the collector")
        lock = threading.Lock()
        writer = _writer(log_file, lines, per_s=25_000, lock=lock)
        for n in range(1, 7):
            time.sleep(0.5)
            with lock:  # logrotate's create mode: rename, and the writer reopens the new file
                log_file.rename(tmp_path / f"app.log.{n}")
                log_file.write_text("")
        writer.join()
        got = read_topic(settings, len(lines))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    _check_identities(got, lines)


def test_copytruncate_at_a_high_rate_loses_no_line_and_sends_none_twice(make_settings, tmp_path: Path) -> None:
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json")})
    log_file = tmp_path / "app.log"
    lines = [f"copytruncate {i:06d}" for i in range(100_000)]
    log_file.write_text("")
    # The copies must match the pattern: lines written after the collector's last read and before the truncation
    # are only in the copy, which is recognised by its first line and continues the original's identity.
    pattern = str(tmp_path / "app.log*")
    proc = logjet("collect", "files", pattern, settings=settings, log_path=str(tmp_path / "c.out"))
    try:
        lock = threading.Lock()
        writer = _writer(log_file, lines, per_s=25_000, lock=lock)
        for n in range(1, 7):
            time.sleep(0.5)
            with lock:  # logrotate's copytruncate, without its own window for loss (the writer waits)
                shutil.copyfile(log_file, tmp_path / f"app.log.{n}")
                with log_file.open("r+") as fh:
                    fh.truncate(0)
        writer.join()
        got = read_topic(settings, len(lines), count=lambda out: len({e.message for _, e in out}))
        time.sleep(2)  # anything sent twice under a new identity would arrive by now
        got = read_topic(settings, len(lines))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    _check_identities(got, lines)


def test_stdin_sidecar_delivers_every_line_and_exits_at_the_end(make_settings, tmp_path: Path) -> None:
    settings = make_settings()
    lines = [f"stdout of the app {i}" for i in range(20_000)] + ["last line without newline"]
    proc = subprocess.Popen([sys.executable, "-m", "cli", "collect", "stdin"], env=env_for(settings),
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = proc.communicate(("\n".join(lines)).encode(), timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]
    got = read_topic(settings, len(lines), timeout=30)
    assert [e.message for _, e in sorted(got, key=lambda se: se[1].seq)] == lines
    assert {s.kind for s, _ in got} == {"stdin"}


def test_multiline_java_stack_traces_arrive_whole(make_settings, tmp_path: Path) -> None:
    log_file = tmp_path / "java.log"
    record = ("2024-05-01 10:11:{:02d} ERROR request {} failed\njava.lang.IllegalStateException: boom\n"
              "\tat com.shop.Cart.add(Cart.java:42)\n\tat com.shop.Api.handle(Api.java:7)")
    records = [record.format(i % 60, i) for i in range(300)]
    log_file.write_text("\n".join(records) + "\n")
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json")})
    proc = logjet("collect", "files", str(log_file), "--multiline-start", r"^\d{4}-\d\d-\d\d ", settings=settings,
                  log_path=str(tmp_path / "c.out"))
    try:
        got = read_topic(settings, len(records), timeout=60)  # the last one comes with the flush timeout
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert [e.message for _, e in got] == records

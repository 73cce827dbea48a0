"""A file whose bytes change under the same (device, inode, first line), through the real collector, Kafka, processor
and Elasticsearch: every line of every generation is indexed exactly once, none taken for a duplicate of an
older line at the same offset."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.integration.conftest import es_count, logjet, read_topic, wait_for
from tests.integration.test_collector import _check_identities
from tests.unit.test_file_collector import reuse_inode

BANNER = "=== app starting ==="


def _write(path: Path, lines: list[str]) -> None:
    with path.open("w") as fh:  # ": > app.log", then the lines
        fh.write("".join(line + "\n" for line in lines))


def _messages(settings) -> Counter[str]:  # noqa: ANN001
    es, pattern = settings.elasticsearch.url, settings.elasticsearch.index_pattern
    httpx.post(f"{es}/{pattern}/_refresh").raise_for_status()
    res = httpx.post(f"{es}/{pattern}/_search", json={"size": 10_000, "_source": ["message"]}, timeout=30)
    res.raise_for_status()
    return Counter(h["_source"]["message"] for h in res.json()["hits"]["hits"])


def _indexed(settings, expected: list[str]) -> None:  # noqa: ANN001
    wait_for(lambda: es_count(settings) >= len(expected), 90, f"{len(expected)} documents")
    time.sleep(1.5)  # a line sent twice under a new identity would be indexed by now
    assert _messages(settings) == Counter(expected)


def _stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        assert proc.wait(60) == 0


def test_truncated_and_rewritten_with_the_same_banner_every_line_is_indexed_once(make_settings,
                                                                                 tmp_path: Path) -> None:
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json")})
    log_file = tmp_path / "app.log"
    old = [BANNER] + [f"old line {i:04d}" for i in range(1000)]
    new = [BANNER] + [f"new line {i:04d}" for i in range(500)]
    _write(log_file, old)
    out = str(tmp_path / "c.out")
    collector = logjet("collect", "files", str(log_file), settings=settings, log_path=out)
    processor = logjet("process", "--workers", "1", settings=settings, log_path=out)
    try:
        _indexed(settings, old)
        _write(log_file, new)
        _indexed(settings, old + new)
    finally:
        _stop(collector, processor)
    assert "reading it again from the start as a new generation" in Path(out).read_text()


def test_truncated_and_rewritten_while_the_collector_is_down(make_settings, tmp_path: Path) -> None:
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json")})
    longer, shorter = tmp_path / "longer.log", tmp_path / "shorter.log"
    old = {f: [BANNER] + [f"{f.stem} old {i:04d}" for i in range(1000)] for f in (longer, shorter)}
    # Rewritten past the checkpoint (only the bytes before it can tell), and to less than it.
    new = {longer: [BANNER] + [f"longer new, a longer line than before {i:04d}" for i in range(1500)],
           shorter: [BANNER] + [f"shorter new {i:04d}" for i in range(300)]}
    for f, lines in old.items():
        _write(f, lines)
    pattern, out = str(tmp_path / "*.log"), str(tmp_path / "c.out")
    processor = logjet("process", "--workers", "1", settings=settings, log_path=out)
    try:
        collector = logjet("collect", "files", pattern, settings=settings, log_path=out)
        try:
            _indexed(settings, old[longer] + old[shorter])
        finally:
            _stop(collector)
        for f, lines in new.items():
            _write(f, lines)
        collector = logjet("collect", "files", pattern, settings=settings, log_path=out)
        try:
            _indexed(settings, old[longer] + old[shorter] + new[longer] + new[shorter])
        finally:
            _stop(collector)
    finally:
        _stop(processor)


def test_an_inode_reused_by_a_file_with_the_same_first_line_while_the_collector_is_down(make_settings,
                                                                                         tmp_path: Path) -> None:
    # (While it runs, the same is tested in tests/unit/test_file_collector.py: here the collector's own registry
    # writes would race the test for the freed inode.)
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json")})
    logs = tmp_path / "logs"
    logs.mkdir()
    log_file = logs / "app.log"
    # The second file is longer than the first one's checkpoint (only the bytes before it tell), the third shorter.
    gens = [[BANNER] + [f"file {g} line {i:04d}" + "." * 10 * g for i in n] for g, n in
            enumerate((range(500), range(800), range(100)))]
    _write(log_file, gens[0])
    ino = log_file.stat().st_ino
    out = str(tmp_path / "c.out")
    processor = logjet("process", "--workers", "1", settings=settings, log_path=out)
    try:
        for g in range(3):
            if g:
                log_file.unlink()
                assert reuse_inode(log_file, ino, gens[g]), "another file took the freed inode first"
            collector = logjet("collect", "files", str(logs / "*.log"), settings=settings, log_path=out)
            try:
                _indexed(settings, [line for gen in gens[: g + 1] for line in gen])
            finally:
                _stop(collector)
    finally:
        _stop(processor)


def test_copytruncate_of_a_file_that_starts_with_a_banner_loses_no_line_and_sends_none_twice(make_settings,
                                                                                            tmp_path: Path) -> None:
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json")})
    log_file = tmp_path / "app.log"
    lines = [f"banner app {i:05d}" for i in range(30_000)]
    log_file.write_text(BANNER + "\n")
    out = tmp_path / "c.out"
    proc = logjet("collect", "files", str(tmp_path / "app.log*"), settings=settings, log_path=str(out))
    lock = threading.Lock()
    rotations = 4

    def write() -> None:
        for i in range(0, len(lines), 250):
            with lock, log_file.open("a") as fh:
                fh.write("".join(line + "\n" for line in lines[i : i + 250]))
            time.sleep(0.025)

    try:
        wait_for(lambda: "collector running" in out.read_text(), 60, "the collector")
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        for n in range(1, rotations + 1):
            time.sleep(0.6)
            with lock:  # copytruncate; the application starts its new file with its banner
                shutil.copyfile(log_file, tmp_path / f"app.log.{n}")
                _write(log_file, [BANNER])
        writer.join()
        expected = lines + [BANNER] * (rotations + 1)
        got = read_topic(settings, len(expected))
        time.sleep(2)  # anything sent twice under a new identity would arrive by now
        got = read_topic(settings, len(expected))
    finally:
        _stop(proc)
    _check_identities(got, expected)
    assert "is the copy of truncated" in out.read_text()

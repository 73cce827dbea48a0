"""The file collector's decisions (where to start, what to skip, when to close), with a recording stand-in for the
producer; delivery through the real Kafka is tested in tests/integration."""

from __future__ import annotations

import time
from pathlib import Path

from collectors.files.collector import FileCollector, file_set
from collectors.metrics import CollectorMetrics
from collectors.output import Output
from logjet.config import CollectorSettings, FileInputSettings
from tests.unit.test_output import RecordingShipper


def _collector(tmp_path: Path, **files: object) -> tuple[FileCollector, RecordingShipper]:
    cs = CollectorSettings(registry_path=tmp_path / "registry.json", discover_interval_s=0.001,
                           close_inactive_s=0.05)
    shipper = RecordingShipper()
    metrics = CollectorMetrics()
    fc = FileCollector(cs, [file_set(FileInputSettings(**files))], Output(cs, shipper, metrics), metrics)
    return fc, shipper


def _poll(fc: FileCollector) -> None:
    time.sleep(0.01)  # past discover_interval_s
    fc.poll_once()


def _messages(shipper: RecordingShipper) -> list[str]:
    return [e.message for b, _ in shipper.sent for e in b.entries]


def test_start_at_end_skips_what_is_there_at_start_up_but_not_files_that_appear_later(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("old 1\nold 2\n")
    fc, shipper = _collector(tmp_path, paths=[str(tmp_path / "*.log")], start_at="end")
    _poll(fc)
    with (tmp_path / "a.log").open("a") as fh:
        fh.write("new 1\n")
    (tmp_path / "b.log").write_text("b from its start\n")
    _poll(fc)
    _poll(fc)
    assert sorted(_messages(shipper)) == ["b from its start", "new 1"]


def test_excluded_files_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_text("plain\n")
    (tmp_path / "app.log.1.gz").write_bytes(b"\x1f\x8b binary\n")
    fc, shipper = _collector(tmp_path, paths=[str(tmp_path / "app.log*")])
    _poll(fc)
    assert _messages(shipper) == ["plain"]


def test_an_idle_file_is_closed_and_reopened_from_its_checkpoint_when_it_grows(tmp_path: Path) -> None:
    f = tmp_path / "idle.log"
    f.write_text("first\n")
    fc, shipper = _collector(tmp_path, paths=[str(f)])
    _poll(fc)
    for cb in shipper.callbacks:
        cb()  # Kafka acknowledged: the checkpoint moves
    time.sleep(0.1)
    _poll(fc)
    assert fc.open == {}  # closed: no descriptor held for an idle file
    _poll(fc)
    assert fc.open == {}  # and not reopened while it has not grown
    with f.open("a") as fh:
        fh.write("second\n")
    _poll(fc)
    _poll(fc)
    assert _messages(shipper) == ["first", "second"]
    fc.close()

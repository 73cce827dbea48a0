"""The file collector's decisions (where to start, what to skip, when to close), with a recording stand-in for the
producer; delivery through the real Kafka is tested in tests/integration."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from collectors.files import collector
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


BANNER = "=== app starting ==="


def _ack(shipper: RecordingShipper) -> None:
    """Kafka acknowledged everything sent so far."""
    while shipper.callbacks:
        shipper.callbacks.pop(0)()


def _identities(shipper: RecordingShipper) -> dict[tuple[str, int], str]:
    """(source id, seq) -> message, checking that one identity never carries two different lines."""
    out: dict[tuple[str, int], str] = {}
    for batch, _ in shipper.sent:
        for e in batch.entries:
            assert out.setdefault((batch.source.id, e.seq), e.message) == e.message, "one identity, two lines"
    return out


def _write(path: Path, lines: list[str], mode: str = "w") -> None:
    with path.open(mode) as fh:
        fh.write("".join(line + "\n" for line in lines))


def test_truncated_and_rewritten_with_the_same_first_line_while_running_is_a_new_generation(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    old = [BANNER] + [f"old {i}" for i in range(1000)]
    new = [BANNER] + [f"new {i}" for i in range(500)]
    _write(f, old)
    fc, shipper = _collector(tmp_path, paths=[str(f)])
    _poll(fc)
    _ack(shipper)
    _write(f, new)  # ": > app.log", then the same banner and new lines
    for _ in range(3):
        _poll(fc)
    ids = _identities(shipper)
    assert sorted(ids.values()) == sorted(old + new)
    st = f.stat()
    first, later = f"file:{fc.cs.host_name}:{st.st_dev}:{st.st_ino}:", ":g1"
    assert {sid for sid, _ in ids} == {sid for sid, _ in ids if sid.startswith(first)}
    assert sorted(m for (sid, _), m in ids.items() if sid.endswith(later)) == sorted(new)
    fc.close()


def test_rewritten_longer_between_two_reads_is_a_new_generation_too(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    old = [BANNER] + [f"old {i}" for i in range(100)]
    new = [BANNER] + [f"a longer new line {i}" for i in range(500)]
    _write(f, old)
    fc, shipper = _collector(tmp_path, paths=[str(f)])
    _poll(fc)
    _write(f, new)  # never seen shorter than what was read
    for _ in range(3):
        _poll(fc)
    assert sorted(_identities(shipper).values()) == sorted(old + new)
    fc.close()


def test_a_restart_resumes_the_same_generation_at_its_checkpoint(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    _write(f, [BANNER, "one", "two"])
    fc, shipper = _collector(tmp_path, paths=[str(f)])
    _poll(fc)
    _ack(shipper)
    fc.close()
    _write(f, ["three"], mode="a")
    fc2, shipper2 = _collector(tmp_path, paths=[str(f)])
    _poll(fc2)
    (batch, _), = shipper2.sent
    assert [e.message for e in batch.entries] == ["three"]
    assert batch.source.id == shipper.sent[0][0].source.id and not batch.source.id.endswith(":g1")
    fc2.close()


def test_truncated_and_rewritten_longer_while_stopped_is_a_new_generation(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    old = [BANNER] + [f"old {i}" for i in range(100)]
    new = [BANNER] + [f"new line, longer than the old ones {i}" for i in range(300)]
    _write(f, old)
    fc, shipper = _collector(tmp_path, paths=[str(f)])
    _poll(fc)
    _ack(shipper)
    fc.close()
    _write(f, new)  # larger than the checkpoint: only the bytes before it tell
    fc2, shipper2 = _collector(tmp_path, paths=[str(f)])
    _poll(fc2)
    _poll(fc2)
    first, second = _identities(shipper), _identities(shipper2)
    assert sorted(second.values()) == sorted(new)
    assert not set(first) & set(second)
    fc2.close()


def test_a_deleted_file_whose_inode_comes_back_with_the_same_first_line_is_a_new_generation(
        tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(collector, "RELEASE_AFTER_S", 0.0)
    # No registry written after the first poll: its temporary file could take the freed inode.
    monkeypatch.setattr(collector, "SAVE_EVERY_S", 3600.0)
    d = tmp_path / "logs"
    d.mkdir()
    f = d / "app.log"
    fc, shipper = _collector(tmp_path, paths=[str(d / "*.log")])
    expected: list[str] = []
    for attempt in range(5):  # another process on the machine may take the freed inode first: try again
        _write(f, [BANNER, f"first file {attempt}"])
        ino = f.stat().st_ino
        _poll(fc)
        _ack(shipper)
        f.unlink()
        _poll(fc)
        assert fc.open == {}  # read to its end and released: the inode is free
        expected += [BANNER, f"first file {attempt}", BANNER, f"second file {attempt}"]
        reused = reuse_inode(f, ino, [BANNER, f"second file {attempt}"])
        _poll(fc)
        _poll(fc)
        if reused:
            break
        f.unlink()
        _poll(fc)
    assert reused, "no new file got the freed inode"
    ids = _identities(shipper)
    assert sorted(ids.values()) == sorted(expected)
    assert [sid for (sid, _), m in ids.items() if m == f"second file {attempt}"][0].endswith(":g1")
    fc.close()


def reuse_inode(path: Path, ino: int, lines: list[str]) -> bool:
    """Write ``lines`` to a new file at ``path``, trying to get the freed inode ``ino`` (ext4 hands out the lowest
    free one of the group again); False if another file took it first."""
    spare: list[Path] = []
    try:
        for i in range(1000):
            _write(path, lines)
            if path.stat().st_ino == ino:
                return True
            spare.append(path.rename(path.with_name(f"spare-{i}")))
        _write(path, lines)
        return False
    finally:
        for p in spare:
            p.unlink()


def test_copytruncate_with_the_same_first_line_continues_in_the_copy_and_starts_a_new_generation(
        tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    read = [BANNER] + [f"read {i}" for i in range(100)]
    unread = [f"unread {i}" for i in range(10)]
    new = [BANNER] + [f"new {i}" for i in range(5)]
    _write(f, read)
    fc, shipper = _collector(tmp_path, paths=[str(tmp_path / "app.log*")])
    _poll(fc)
    _ack(shipper)
    _write(f, unread, mode="a")  # written just before the rotation, not read yet: only in the copy
    shutil.copyfile(f, tmp_path / "app.log.1")
    _write(f, new)
    for _ in range(4):
        _poll(fc)
    ids = _identities(shipper)
    assert sorted(ids.values()) == sorted(read + unread + new)
    origin = shipper.sent[0][0].source.id
    assert sorted(m for (sid, _), m in ids.items() if sid == origin) == sorted(read + unread)
    fc.close()


def test_a_restart_inside_an_open_multiline_record_resumes_the_same_generation_at_its_start(tmp_path: Path) -> None:
    f = tmp_path / "java.log"
    _write(f, ["2024-05-01 one", "\tat a", "2024-05-01 two", "\tat b"])
    multiline = {"start_pattern": r"^\d{4}-", "flush_after_s": 3600}
    fc, shipper = _collector(tmp_path, paths=[str(f)], multiline=multiline)
    _poll(fc)
    _ack(shipper)  # the checkpoint stops at the open record "two", behind what was read
    fc.close()
    _write(f, ["\tat c", "2024-05-01 three"], mode="a")
    fc2, shipper2 = _collector(tmp_path, paths=[str(f)], multiline=multiline)
    _poll(fc2)
    (batch, _), = shipper2.sent
    assert [e.message for e in batch.entries] == ["2024-05-01 two\n\tat b\n\tat c"]
    assert batch.source.id == shipper.sent[0][0].source.id
    fc2.close()

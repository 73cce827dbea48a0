from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from collectors.files import registry
from collectors.files.registry import Checkpoint, Registry
from logjet.errors import ConfigError


def test_checkpoints_survive_a_restart_and_only_move_forward(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.json")
    reg.advance(Checkpoint("/a", 1, 2, "fp", 100))
    reg.advance(Checkpoint("/a", 1, 2, "fp", 50))  # a late, older acknowledgement never moves it back
    reg.save()
    again = Registry(tmp_path / "r.json")
    assert again.get(1, 2, "fp") == Checkpoint("/a", 1, 2, "fp", 100)
    assert again.get(1, 2, "other") is None  # same inode, different first line: a new file
    assert not list(tmp_path.glob("*.tmp"))


def test_unreadable_registry_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text("{torn")
    with pytest.raises(ConfigError, match="move it aside"):
        Registry(tmp_path / "r.json")


def test_generation_zero_keeps_the_version_1_key_and_later_ones_get_a_suffix() -> None:
    assert Checkpoint("/a", 1, 2, "fp", 0).key == "1:2:fp"
    assert Checkpoint("/a", 1, 2, "fp", 0, generation=3).key == "1:2:fp:g3"


def test_a_generation_number_is_never_handed_out_twice(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.json")
    first = Checkpoint("/a", 1, 2, "fp", 0)
    reg.start(first)
    reg.advance(replace(first, offset=100, anchor="a1"))
    reg.end(first.key, truncated=True)
    second = Checkpoint("/a", 1, 2, "fp", 0, generation=1)
    reg.start(second)
    assert reg.get(1, 2, "fp") == second
    # The truncated generation stays for its copy, and a late acknowledgement of it still moves it.
    reg.advance(replace(first, offset=150, anchor="a2"))
    assert reg.entries["1:2:fp"].offset == 150 and reg.entries["1:2:fp"].truncated
    reg.claim(first.key)
    assert "1:2:fp" not in reg.entries  # claimed by its copy: generation 1 holds the number
    reg.advance(replace(first, offset=200))  # an acknowledgement later still: not brought back
    assert "1:2:fp" not in reg.entries
    reg.end(second.key, truncated=False)  # deleted: kept, ended, to number a file on the reused inode
    reg.save()
    again = Registry(tmp_path / "r.json")
    assert again.get(1, 2, "fp") == Checkpoint("", 1, 2, "fp", 0, generation=1, ended=True)


def test_a_version_1_registry_still_reads_and_its_truncated_files_are_ended(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text(orjson.dumps({"version": 1, "files": [
        {"path": "/a", "dev": 1, "ino": 2, "fingerprint": "fp", "offset": 10},
        {"path": "/b", "dev": 1, "ino": 3, "fingerprint": "fp", "offset": 20, "truncated": True},
    ]}).decode())
    reg = Registry(tmp_path / "r.json")
    assert reg.get(1, 2, "fp") == Checkpoint("/a", 1, 2, "fp", 10)
    assert reg.get(1, 3, "fp") == Checkpoint("/b", 1, 3, "fp", 20, truncated=True, ended=True)


def test_ended_generations_are_pruned_oldest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "MAX_ENDED", 2)
    reg = Registry(tmp_path / "r.json")
    for ino in range(4):
        reg.start(Checkpoint("/a", 1, ino, "fp", 0))
        reg.end(f"1:{ino}:fp", truncated=False)
    assert sorted(cp.ino for cp in reg.entries.values()) == [2, 3]
    assert reg.get(1, 0, "fp") is None

from __future__ import annotations

from pathlib import Path

import pytest

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

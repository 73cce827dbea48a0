"""The checkpoint registry: for every file identity, the offset up to which Kafka acknowledged every entry.

Written atomically (write, fsync, rename, fsync the directory), so a crash at any moment leaves either the old or
the new registry, never a torn one. A file's identity is its device, inode and the fingerprint of its first line,
so a recycled inode or a copytruncate is seen as a new file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from logjet.errors import ConfigError

__all__ = ["Checkpoint", "Registry"]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    path: str
    dev: int
    ino: int
    fingerprint: str
    offset: int

    @property
    def key(self) -> str:
        return f"{self.dev}:{self.ino}:{self.fingerprint}"


class Registry:
    VERSION = 1

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Checkpoint] = {}
        self._dirty = False
        self._load()

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        try:
            doc = orjson.loads(raw)
            if doc.get("version") != self.VERSION:
                raise ValueError(f"unknown version {doc.get('version')!r}")
            for item in doc["files"]:
                cp = Checkpoint(**item)
                self.entries[cp.key] = cp
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            # Starting over silently would re-send or skip whole files: make the operator decide.
            raise ConfigError(f"checkpoint registry {self.path} is unreadable ({exc}); move it aside to start over")

    def get(self, dev: int, ino: int, fingerprint: str) -> Checkpoint | None:
        return self.entries.get(f"{dev}:{ino}:{fingerprint}")

    def advance(self, cp: Checkpoint) -> None:
        old = self.entries.get(cp.key)
        if old is None or cp.offset > old.offset or cp.path != old.path:
            self.entries[cp.key] = cp
            self._dirty = True

    def forget(self, key: str) -> None:
        if self.entries.pop(key, None) is not None:
            self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"version": self.VERSION, "files": [_asdict(cp) for cp in self.entries.values()]}
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(orjson.dumps(doc))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._dirty = False


def _asdict(cp: Checkpoint) -> dict[str, object]:
    return {"path": cp.path, "dev": cp.dev, "ino": cp.ino, "fingerprint": cp.fingerprint, "offset": cp.offset}

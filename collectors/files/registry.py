"""The checkpoint registry: for every file identity, the offset up to which Kafka acknowledged every entry.

Written atomically (write, fsync, rename, fsync the directory), so a crash at any moment leaves either the old or
the new registry, never a torn one. A file's identity is its device, inode and the fingerprint of its first line,
so a recycled inode or a copytruncate is seen as a new file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
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
    # The source identity the file's entries carry, when it is not the file's own key: the copy left by a
    # copytruncate carries on the identity of the file it was copied from.
    identity: str = ""
    # The file was truncated in place (copytruncate): its copy, if one is found, continues from this offset.
    truncated: bool = False

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
            raise ConfigError(
                f"checkpoint registry {self.path} is unreadable ({exc}); move it aside to start over"
            ) from exc

    def get(self, dev: int, ino: int, fingerprint: str) -> Checkpoint | None:
        return self.entries.get(f"{dev}:{ino}:{fingerprint}")

    def advance(self, cp: Checkpoint) -> None:
        old = self.entries.get(cp.key)
        if old is None or cp.offset > old.offset or cp.path != old.path:
            if old is not None and old.truncated:
                cp = replace(cp, truncated=True)  # an acknowledgement arriving after the truncation was seen
            self.entries[cp.key] = cp
            self._dirty = True

    def mark_truncated(self, key: str) -> None:
        cp = self.entries.get(key)
        if cp is not None and not cp.truncated:
            self.entries[key] = replace(cp, truncated=True)
            self._dirty = True

    def find_truncated(self, fingerprint: str) -> Checkpoint | None:
        """The checkpoint of a truncated file whose first line hashes to ``fingerprint``: its copy's origin."""
        for cp in self.entries.values():
            if cp.truncated and cp.fingerprint == fingerprint:
                return cp
        return None

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
    out: dict[str, object] = {"path": cp.path, "dev": cp.dev, "ino": cp.ino, "fingerprint": cp.fingerprint,
                              "offset": cp.offset}
    if cp.identity:
        out["identity"] = cp.identity
    if cp.truncated:
        out["truncated"] = True
    return out

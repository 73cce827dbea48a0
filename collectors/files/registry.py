"""The checkpoint registry: for every generation of every file, the offset up to which Kafka acknowledged every entry.

Written atomically (write, fsync, rename, fsync the directory), so a crash at any moment leaves either the old or
the new registry, never a torn one. A file is known by its device, inode and the fingerprint of its first line; the
bytes behind one offset can still change under that triple (a truncation, a rewrite, an inode reused by a new file
with the same first line), so each content the triple has held is a *generation* of it, numbered from 0, and the
generation is part of the identity the entries carry. The registry keeps the latest generation of every triple,
even once it has ended, so that the number is never handed out twice: a reused number would give new lines the
identities of old ones, which the processor drops as duplicates.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import orjson

from logjet.errors import ConfigError

__all__ = ["MAX_ENDED", "Checkpoint", "Registry"]

# Ended generations are kept to number the next content of their (device, inode, first line), and truncated ones
# for their copy; the oldest past this many are dropped. A copy comes at once, and the check of the bytes before a
# checkpoint still tells most reused inodes apart; what is lost is the number of a deleted file's generation.
MAX_ENDED = 1024

_Triple = tuple[int, int, str]


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
    # The file was truncated or rewritten: its copy, if one is found, continues from this offset.
    truncated: bool = False
    generation: int = 0
    # Hash of the bytes just before ``offset`` (see tailer.anchor): checked before resuming, so that a file rewritten
    # while it was not watched is read as a new generation instead of being resumed in the middle of other bytes.
    anchor: str = ""
    # This generation is over (truncated, rewritten, deleted): what its (device, inode, first line) holds now is a
    # later generation.
    ended: bool = False

    @property
    def triple(self) -> _Triple:
        return (self.dev, self.ino, self.fingerprint)

    @property
    def key(self) -> str:
        return generation_key(self.dev, self.ino, self.fingerprint, self.generation)


def generation_key(dev: int, ino: int, fingerprint: str, generation: int) -> str:
    """The registry key and source key of one generation; generation 0 keeps the key of registry version 1."""
    base = f"{dev}:{ino}:{fingerprint}"
    return base if generation == 0 else f"{base}:g{generation}"


class Registry:
    VERSION = 2
    READABLE = (1, 2)  # version 1 is version 2 without generations, anchors or ended entries

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Checkpoint] = {}
        self._latest: dict[_Triple, int] = {}  # the highest generation of every triple
        self._dirty = False
        self._load()

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        try:
            doc = orjson.loads(raw)
            version = doc.get("version")
            if version not in self.READABLE:
                raise ValueError(f"unknown version {version!r}")
            for item in doc["files"]:
                cp = Checkpoint(**item)
                if version == 1 and cp.truncated:
                    # Version 1 read a truncated file again under the same key: whatever it holds now is newer.
                    cp = replace(cp, ended=True)
                self._put(cp)
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            # Starting over silently would re-send or skip whole files: make the operator decide.
            raise ConfigError(
                f"checkpoint registry {self.path} is unreadable ({exc}); move it aside to start over"
            ) from exc

    def _put(self, cp: Checkpoint) -> None:
        self.entries[cp.key] = cp
        if cp.generation >= self._latest.get(cp.triple, -1):
            self._latest[cp.triple] = cp.generation
        self._dirty = True

    def get(self, dev: int, ino: int, fingerprint: str) -> Checkpoint | None:
        """The latest generation of this (device, inode, first line), ended or not."""
        generation = self._latest.get((dev, ino, fingerprint))
        if generation is None:
            return None
        return self.entries.get(generation_key(dev, ino, fingerprint, generation))

    def inodes(self) -> set[tuple[int, int]]:
        return {(cp.dev, cp.ino) for cp in self.entries.values()}

    def start(self, cp: Checkpoint) -> None:
        """Record a generation as it starts to be read, before any of it is acknowledged: its number is taken."""
        if cp.triple in self._latest:  # a later generation (rare): drop the ended ones it supersedes
            for key in [k for k, old in self.entries.items()
                        if old.triple == cp.triple and old.generation < cp.generation and not old.truncated]:
                del self.entries[key]
        self._put(cp)

    def advance(self, cp: Checkpoint) -> None:
        """Kafka acknowledged everything before ``cp.offset``; acknowledgements of one generation may come late."""
        old = self.entries.get(cp.key)
        if old is None:
            if self._latest.get(cp.triple, -1) > cp.generation:
                return  # a generation already superseded and dropped
            self._put(cp)
            return
        if cp.offset > old.offset:
            self._put(replace(cp, truncated=old.truncated, ended=old.ended))
        elif cp.path != old.path:
            self._put(replace(old, path=cp.path))

    def end(self, key: str, truncated: bool) -> None:
        """The generation is over; ``truncated``: its copy (copytruncate) may still turn up and continue it."""
        cp = self.entries.get(key)
        if cp is None or (cp.ended and cp.truncated >= truncated):
            return
        for other, old in list(self.entries.items()):
            if old.triple == cp.triple and old.generation < cp.generation and old.truncated:
                del self.entries[other]  # only the latest truncation's copy is waited for
        del self.entries[key]  # re-inserted last: the ended entries are pruned oldest first
        if not truncated:  # only its number matters now: keep the registry small
            cp = replace(cp, path="", offset=0, identity="", anchor="")
        self._put(replace(cp, ended=True, truncated=truncated))
        self._prune()

    def find_truncated(self, fingerprint: str, holds: Callable[[Checkpoint], bool]) -> Checkpoint | None:
        """The truncated generation whose copy this is: same first line, and ``holds(cp)`` (its bytes match)."""
        for cp in self.entries.values():
            if cp.truncated and cp.fingerprint == fingerprint and holds(cp):
                return cp
        return None

    def claim(self, key: str) -> None:
        """A copy continues this truncated generation: no other file may continue it."""
        cp = self.entries.get(key)
        if cp is None or not cp.truncated:
            return
        if self._latest.get(cp.triple, -1) > cp.generation:
            del self.entries[key]  # a later generation holds the number
            self._dirty = True
        else:
            self._put(replace(cp, truncated=False))

    def _prune(self) -> None:
        ended = [k for k, cp in self.entries.items() if cp.ended]
        for key in ended[: max(0, len(ended) - MAX_ENDED)]:
            cp = self.entries.pop(key)
            if self._latest.get(cp.triple) == cp.generation:
                del self._latest[cp.triple]

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
    for name in ("identity", "truncated", "generation", "anchor", "ended"):
        value = getattr(cp, name)
        if value:
            out[name] = value
    return out

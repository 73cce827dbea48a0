"""Who the local stack's servers run as, and how the files they use are laid out so that user gains nothing.

Started by an ordinary user, the servers run as that user. Started by root, both run as the unprivileged system
user ``stack.run_as`` (Elasticsearch refuses root; Kafka does not need it), which then owns only what the servers
write: their data, logs and temporary files. Everything root writes (configurations, Kafka's jars, pid files, the
servers' stdout logs) lives in directories root owns and no one else can write, and every such file is written by
renaming a new file into place, so a symbolic or hard link that user planted cannot redirect root's write. Handing a
directory over to the user never follows a link nor gives away a file with other names. The servers are given only
the environment they need, never the caller's (which may hold credentials).

This module must never signal or stop a process.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from logjet.errors import StackError

__all__ = ["ServerAccount", "give_to", "private_dir", "write_private"]

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ServerAccount:
    user: str | None  # None: the servers run as this process's own user
    uid: int
    gid: int

    @classmethod
    def current(cls) -> ServerAccount:
        return cls(None, os.geteuid(), os.getegid())

    @classmethod
    def for_stack(cls, run_as: str, *, create: bool) -> ServerAccount:
        """The account the servers run as: ``run_as`` when this process is root (created if ``create``)."""
        if os.geteuid() != 0:
            return cls.current()
        try:
            entry = pwd.getpwnam(run_as)
        except KeyError:
            if not create:
                return cls(run_as, -1, -1)
            res = subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", run_as],
                capture_output=True, text=True, check=False,
            )
            if res.returncode != 0:
                raise StackError(f"cannot create the system user {run_as!r} to run the stack: {res.stderr}") from None
            entry = pwd.getpwnam(run_as)
        if entry.pw_uid == 0:
            raise StackError(f"stack.run_as {run_as!r} is root: it must be an unprivileged user")
        return cls(run_as, entry.pw_uid, entry.pw_gid)

    @property
    def dropped(self) -> bool:
        """Whether the servers run as another (unprivileged) user than this process."""
        return self.user is not None

    def command(self, cmd: Sequence[str]) -> list[str]:
        """``cmd`` run as this account: through setpriv (no privileges to regain) when dropping root's."""
        if not self.dropped:
            return list(cmd)
        setpriv = shutil.which("setpriv", path=SAFE_PATH)
        if setpriv is None:
            raise StackError("setpriv (util-linux) is needed to run the stack's servers as an unprivileged user")
        return [setpriv, f"--reuid={self.user}", f"--regid={self.gid}", "--init-groups", "--no-new-privs", *cmd]

    def environment(self, home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The whole environment of a server: a fixed PATH, a home it may write, a UTF-8 locale, and ``extra``."""
        env = {"PATH": SAFE_PATH, "HOME": str(home), "LANG": "C.UTF-8"}
        if self.user is not None:
            env["USER"] = env["LOGNAME"] = self.user
        env.update(extra or {})
        return env


def private_dir(path: Path) -> None:
    """Make ``path`` a directory that only this process's user can write (0755).

    Whatever stands in its place (a symbolic link, a file) is removed; a directory another user owned (an older
    layout) is taken back, after which that user can no longer add, rename or remove its entries. Its parent must
    already be private: then nobody else can replace ``path`` itself between these steps.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        os.mkdir(path, 0o755)
        st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        os.mkdir(path, 0o755)
        st = os.lstat(path)
    if st.st_uid != os.geteuid() or st.st_gid != os.getegid():
        os.chown(path, os.geteuid(), os.getegid(), follow_symlinks=False)
    if stat.S_IMODE(st.st_mode) != 0o755:
        os.chmod(path, 0o755)


def write_private(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Write ``path`` (in a private directory) as a new file renamed over the old name: a link at that name is
    replaced, never followed."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.new")
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, mode)  # the umask does not decide what the server may read
    finally:
        os.close(fd)
    os.replace(tmp, path)


def copy_private(source: Path, path: Path, mode: int = 0o644) -> None:
    """Copy ``source`` to ``path`` (in a private directory), as ``write_private`` does."""
    tmp = path.with_name(f".{path.name}.new")
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
        os.fchmod(out.fileno(), mode)
    os.replace(tmp, path)


def _give(name: str, dir_fd: int | None, account: ServerAccount) -> None:
    # Open, check and chown the same inode: a name swapped for a link in between changes nothing.
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return  # a symbolic link (ELOOP), or gone: nothing of ours to give
    try:
        st = os.fstat(fd)
        if st.st_uid == account.uid and st.st_gid == account.gid:
            return
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            return  # another name for this file may be anywhere: not root's to give away
        os.fchown(fd, account.uid, account.gid)
    finally:
        os.close(fd)


def give_to(path: Path, account: ServerAccount) -> None:
    """Make ``path`` a directory the server writes, owned with everything in it by ``account``.

    ``path``'s parent must be private. Nothing is followed: links inside are left as they are, and a file with
    more than one name is not given away (a hard link may point anywhere).
    """
    try:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(path)
            raise FileNotFoundError
    except FileNotFoundError:
        os.mkdir(path, 0o755)
    if not account.dropped:
        return
    _give(str(path), None, account)
    for _root, dirs, files, root_fd in os.fwalk(path, follow_symlinks=False):
        for name in dirs + files:
            _give(name, root_fd, account)

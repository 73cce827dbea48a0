"""A deterministic corpus of realistic log lines: the same seed and size give the same bytes on every machine.

Kinds: JSON application logs, access logs, Java-style application lines, syslog-file lines, and the Loghub
samples (real production logs in tests/data/loghub; see the LICENSE kept with them).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOGHUB_DIR", "file_lines", "loghub_lines", "write_file_corpus"]

LOGHUB_DIR = Path(os.environ.get("LOGJET_LOGHUB_DIR", Path(__file__).resolve().parent.parent / "tests" / "data" /
                                 "loghub"))

_SERVICES = ("checkout", "payments", "search", "inventory", "auth")
_PATHS = ("/api/cart", "/api/pay", "/search?q=shoes&page=2", "/api/items/42", "/healthz", "/static/app.js")
_AGENTS = ("curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "kube-probe/1.30")


def loghub_lines() -> list[str]:
    lines: list[str] = []
    if LOGHUB_DIR.is_dir():
        for path in sorted(LOGHUB_DIR.glob("*/*_2k.log")):
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines


def file_lines(n: int, seed: int = 42) -> Iterator[str]:
    """``n`` application-file lines, a fixed mix of kinds."""
    rng = random.Random(seed)
    loghub = loghub_lines()
    for i in range(n):
        k = i % 5
        sec, ms = i % 60, rng.randrange(1000)
        if k == 0:
            level = rng.choice(("INFO", "WARN", "ERROR"))
            yield (f'{{"@timestamp":"2026-11-25T14:02:{sec:02d}.{ms:03d}Z","level":"{level}",'
                   f'"service":"{rng.choice(_SERVICES)}","msg":"order placed","order_id":{rng.randrange(10**6)},'
                   f'"amount":{rng.uniform(1, 500):.2f},"trace_id":"{rng.getrandbits(64):016x}"}}')
        elif k == 1:
            ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
            path, status = rng.choice(_PATHS), rng.choice((200, 200, 200, 304, 404, 500))
            yield (f'{ip} - - [25/Nov/2026:14:02:{sec:02d} +0000] "GET {path} HTTP/1.1" {status} '
                   f'{rng.randrange(100, 90000)} "-" "{rng.choice(_AGENTS)}"')
        elif k == 2:
            yield (f"2026-11-25 14:02:{sec:02d},{ms:03d} {rng.choice(('INFO ', 'WARN ', 'ERROR', 'DEBUG'))} "
                   f"[pool-{rng.randrange(8)}-thread-{rng.randrange(32)}] c.s.{rng.choice(_SERVICES).title()}Service - "
                   f"cache miss for key user:{rng.randrange(10**5)} after {rng.randrange(1, 3000)}ms")
        elif k == 3:
            yield (f"Nov 25 14:02:{sec:02d} node-{rng.randrange(40)} sshd[{rng.randrange(1000, 60000)}]: Accepted "
                   f"publickey for deploy from 10.0.{rng.randrange(256)}.{rng.randrange(256)} port "
                   f"{rng.randrange(30000, 60000)} ssh2")
        else:
            yield loghub[i // 5 % len(loghub)] if loghub else f"kernel: eth0: link up, 1000Mbps, full-duplex {i}"


def write_file_corpus(path: Path, n: int, seed: int = 42) -> int:
    """Write ``n`` lines to ``path`` (if not already there with that size); return its size in bytes."""
    marker = path.with_suffix(path.suffix + f".{n}.{seed}.ok")
    if path.exists() and marker.exists():
        return path.stat().st_size
    with path.open("w", encoding="utf-8") as fh:
        for line in file_lines(n, seed):
            fh.write(line + "\n")
    marker.touch()
    return path.stat().st_size

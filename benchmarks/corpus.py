"""A deterministic corpus of realistic log lines: the same seed and size give the same bytes on every machine.

Kinds, in a fixed rotation: JSON application logs, access logs, Java-style application lines, syslog-file lines,
the Loghub samples (real production logs in tests/data/loghub; see the LICENSE kept with them), Docker json-file
records and CRI lines (as a third-party shipper passes them on), RFC 5424 and RFC 3164 syslog messages with their
``<PRI>``, and (entries only, not file lines) multi-line Java stack traces as a multi-line rule joins them.

``wire_records`` wraps entries into collector records (wire format v1) from three kinds of source: application
files, containers (Kubernetes tags, ``log.iostream`` per entry) and a syslog listener (the sender's address and the
facility per entry).
"""

from __future__ import annotations

import calendar
import hashlib
import os
import random
from collections.abc import Iterator
from pathlib import Path

import orjson

from logjet.wire import Batch, Entry, Source, encode_batch

__all__ = ["LOGHUB_DIR", "entries", "file_lines", "loghub_lines", "syslog_messages", "wire_records",
           "write_file_corpus"]

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
    """``n`` single lines, a fixed mix of kinds."""
    return _mix(n, seed, 9)


def entries(n: int, seed: int = 42) -> Iterator[str]:
    """``n`` entries as a collector ships them: the single-line kinds plus multi-line stack traces."""
    return _mix(n, seed, 10)


def _mix(n: int, seed: int, kinds: int) -> Iterator[str]:
    rng = random.Random(seed)
    loghub = loghub_lines()
    for i in range(n):
        k = i % kinds
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
        elif k == 4:
            yield loghub[i // kinds % len(loghub)] if loghub else f"kernel: eth0: link up, 1000Mbps, full-duplex {i}"
        elif k == 5:
            inner = (f'{{"time":"2026-11-25T14:02:{sec:02d}.{ms:03d}Z","level":"info","msg":"request served",'
                     f'"status":{rng.choice((200, 201, 404))},"duration_ms":{rng.randrange(1, 900)}}}')
            yield orjson.dumps({"log": inner + "\n", "stream": rng.choice(("stdout", "stderr")),
                                "time": f"2026-11-25T14:02:{sec:02d}.{ms:03d}{rng.randrange(10**6):06d}Z"}).decode()
        elif k == 6:
            yield (f"2026-11-25T14:02:{sec:02d}.{ms:03d}{rng.randrange(10**6):06d}Z {rng.choice(('stdout', 'stderr'))} "
                   f"F level=info ts=2026-11-25T14:02:{sec:02d}.{ms:03d}Z caller=main.go:{rng.randrange(40, 400)} "
                   f'msg="reconciled" objects={rng.randrange(500)}')
        elif k == 7:
            yield (f"<{rng.choice((134, 131, 165))}>1 2026-11-25T14:02:{sec:02d}.{ms:03d}Z node-{rng.randrange(40)} "
                   f"{rng.choice(_SERVICES)} {rng.randrange(1000, 60000)} ID{rng.randrange(50)} "
                   f'[exampleSDID@32473 iut="3" eventSource="Application"] user {rng.randrange(10**5)} logged in')
        elif k == 8:
            yield (f"<{rng.choice((13, 30, 86))}>Nov 25 14:02:{sec:02d} node-{rng.randrange(40)} "
                   f"CRON[{rng.randrange(1000, 60000)}]: (root) CMD (run-parts /etc/cron.hourly)")
        else:
            frames = "".join(f"\n\tat com.shop.{rng.choice(_SERVICES)}.Handler.step{j}"
                             f"(Handler.java:{rng.randrange(900)})" for j in range(rng.randrange(4, 12)))
            yield (f"2026-11-25 14:02:{sec:02d},{ms:03d} ERROR [http-nio-8080-exec-{rng.randrange(200)}] "
                   f"c.s.OrderController - request failed\njava.lang.IllegalStateException: order "
                   f"{rng.randrange(10**6)} already closed{frames}")


def syslog_messages(n: int, seed: int = 42) -> list[bytes]:
    """``n`` syslog messages: the file lines as the MSG of RFC 5424 and RFC 3164 messages in turn (those already
    framed as syslog, as they are)."""
    out: list[bytes] = []
    for i, line in enumerate(file_lines(n, seed)):
        if not line.startswith("<"):
            app, host, pid, sec = _SERVICES[i % 5], f"node-{i % 40}", 1000 + i % 9000, i % 60
            if i % 2:
                line = f"<14>1 2026-11-25T14:02:{sec:02d}.{i % 1000:03d}Z {host} {app} {pid} - - {line}"
            else:
                line = f"<13>Nov 25 14:02:{sec:02d} {host} {app}[{pid}]: {line}"
        out.append(line.encode())
    return out


# (kind, tags) of the sources records rotate through; entries of container and syslog sources carry attrs.
_SOURCES = ("file", "container", "syslog")


def wire_records(n: int, per_record: int = 1000, seed: int = 42) -> Iterator[tuple[bytes, bytes, list]]:
    """``n`` entries as collector records: (key, value, headers) of wire format v1."""
    rng = random.Random(seed + 1)
    now = calendar.timegm((2026, 11, 25, 14, 3, 0)) * 1_000_000_000  # the corpus lines' own day
    batch: list[Entry] = []
    n_record = 0
    offset = 0
    for message in entries(n, seed):
        kind = _SOURCES[n_record % len(_SOURCES)]
        attrs: dict[str, str | int] | None = None
        if kind == "container":
            attrs = {"log.iostream": "stdout" if rng.random() < 0.8 else "stderr"}
        elif kind == "syslog":
            attrs = {"source.ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                     "log.syslog.facility.code": 3, "log.syslog.severity.name": "informational"}
        batch.append(Entry(offset, now + offset, message, (), attrs))
        offset += len(message) + 1
        if len(batch) == per_record or offset and len(batch) + n_record * per_record == n:
            yield encode_batch(Batch(_source(kind, n_record), batch))
            n_record += 1
            batch, offset = [], 0


def _source(kind: str, i: int) -> Source:
    if kind == "file":
        return Source(f"file:bench:{i}", "file", "bench-host", "bench", f"/var/log/app/{_SERVICES[i % 5]}.log")
    if kind == "container":
        return Source(f"container:bench:{i}", "container", "bench-host", "bench", None, {
            "container.id": f"{i:064x}", "container.name": f"{_SERVICES[i % 5]}-{i % 7}",
            "container.image.name": f"registry.local/{_SERVICES[i % 5]}:1.{i % 9}",
            "kubernetes.namespace": "shop", "kubernetes.pod.name": f"{_SERVICES[i % 5]}-7d9f-{i % 13}",
            "service.name": _SERVICES[i % 5]})
    return Source(f"syslog:bench:{i}", "syslog", "bench-host", "bench")


def write_file_corpus(path: Path, n: int, seed: int = 42) -> int:
    """Write ``n`` lines to ``path`` unless it already holds exactly them; return its size in bytes."""
    # What the file holds, written next to it after the file is complete: a size, a seed and a digest of the
    # generator's code, so a changed corpus or an interrupted write is never reused.
    identity = f"{n} {seed} {hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]}"
    marker = path.with_name(path.name + ".ok")
    if path.exists() and marker.exists() and marker.read_text() == identity:
        return path.stat().st_size
    marker.unlink(missing_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for line in file_lines(n, seed):
            fh.write(line + "\n")
    marker.write_text(identity)
    return path.stat().st_size

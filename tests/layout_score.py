"""How well the processor's parser reads log headers it was not written for: scored on the layout catalogue.

``tests/data/layouts/catalogue.toml`` holds the header layouts of widely used loggers, servers and operating systems,
each with golden lines and the fields expected from them; ``levels.toml`` the level words loggers write. This module
loads both (the catalogue's unit test uses the same loader), and, run as ``python -m tests.layout_score``, parses
every golden line with ``processor.parsers.parse_line``, the parser the processor runs (the compiled core, and the
Python reference for the lines the core hands back; ``LOGJET_CORE=python`` scores the reference alone), and prints
per layout and in total how many lines got the right timestamp, the right level (of the lines that have one), the
right message, and, of the lines whose layout has them, all of pid, thread, logger, host and program right; then the
same shares on the seven Loghub samples in ``tests/data/loghub``. With ``--write`` it also writes the same shares
(per layout, per Loghub system and in total) to ``benchmarks/results/layouts-<UTC stamp>.json`` (``--suffix TEXT``
appends ``-TEXT`` to the name and ``--parser-commit SHA`` names the commit, for a run of another commit's parser:
the reference alone is scored then, as the compiled core in this checkout is not that commit's). ``--time`` also
times the catalogue's lines through the compiled core's ``parse_batch`` and through ``parse_lines`` (per line, the
best of 30 runs).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data" / "layouts"
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
CATALOGUE = DATA / "catalogue.toml"
LEVELS = DATA / "levels.toml"

# The fields a golden line may expect besides ``@timestamp`` and ``message``: ECS names, as the parser fills them.
FIELDS = ("log.level", "process.pid", "process.thread.id", "process.thread.name", "process.name", "log.logger",
          "host.hostname")
INT_FIELDS = ("process.pid", "process.thread.id")


def load_catalogue() -> dict[str, Any]:
    with CATALOGUE.open("rb") as fh:
        return tomllib.load(fh)


def load_levels() -> dict[str, Any]:
    with LEVELS.open("rb") as fh:
        return tomllib.load(fh)


def parse_rfc3339(text: str) -> datetime:
    """A golden ``@timestamp`` (``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``) as an aware datetime, nanoseconds cut to micros."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z", text)
    if m is None:
        raise ValueError(f"not RFC 3339 UTC with nanoseconds: {text!r}")
    return datetime.strptime(m[1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC, microsecond=int(m[2][:6]))


def nanos(text: str) -> str:
    """The nine fraction digits of a golden ``@timestamp``."""
    return text[20:29]


def parse_offset(text: str) -> timezone:
    m = re.fullmatch(r"([+-])(\d\d):?(\d\d)", text)
    if m is None:
        raise ValueError(f"not a UTC offset: {text!r}")
    minutes = int(m[2]) * 60 + int(m[3])
    return timezone(timedelta(minutes=-minutes if m[1] == "-" else minutes))


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_TOKEN = re.compile(r"%(-|:)?(\d)?([A-Za-z%])")


def render(fmt: str, stamp: str, offset: str | None = None) -> str:
    """Write a golden ``@timestamp`` the way a layout's ``timestamp`` format says, in the line's own UTC offset.

    The format's tokens are strftime's with GNU date's fractions: ``%Y %y %m %d %H %M %S %b %a %p %z %Z %s %%``,
    ``%e`` (day padded with a space), ``%-m %-d %-I`` (no padding), ``%I`` (12-hour clock), ``%:z`` (``+01:00``),
    ``%3N``/``%4N``/``%6N``/``%9N`` (the first digits of the fraction). Going this way (from the expected value to
    the text) needs no parser, so the catalogue's test can check every golden line against its expected time.
    """
    tz = parse_offset(offset) if offset else UTC
    dt = parse_rfc3339(stamp).astimezone(tz)
    frac = nanos(stamp)

    def one(m: re.Match[str]) -> str:
        flag, width, code = m.groups()
        hour12 = dt.hour % 12 or 12
        table = {
            "Y": f"{dt.year:04d}", "y": f"{dt.year % 100:02d}", "m": f"{dt.month:02d}", "d": f"{dt.day:02d}",
            "e": f"{dt.day:2d}", "H": f"{dt.hour:02d}", "I": f"{hour12:02d}", "M": f"{dt.minute:02d}",
            "S": f"{dt.second:02d}", "b": _MONTHS[dt.month - 1], "a": _DAYS[dt.weekday()],
            "p": "AM" if dt.hour < 12 else "PM", "N": frac[: int(width or 9)], "%": "%",
            "s": str(int(parse_rfc3339(stamp).timestamp())),
            "Z": "UTC" if dt.utcoffset() == timedelta(0) else "?",
        }
        if code == "z":
            total = int(dt.utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
            sign, total = ("-" if total < 0 else "+"), abs(total)
            return f"{sign}{total // 60:02d}{':' if flag == ':' else ''}{total % 60:02d}"
        if flag == "-":
            return {"m": str(dt.month), "d": str(dt.day), "I": str(hour12), "H": str(dt.hour)}[code]
        return table[code]

    return _TOKEN.sub(one, fmt)


@dataclass
class Tally:
    lines: int = 0
    time_ok: int = 0
    with_level: int = 0
    level_ok: int = 0
    message_ok: int = 0
    with_fields: int = 0
    fields_ok: int = 0

    def add(self, other: Tally) -> None:
        for name in ("lines", "time_ok", "with_level", "level_ok", "message_ok", "with_fields", "fields_ok"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def row(self, name: str) -> str:
        def share(n: int, d: int) -> str:
            return f"{n:>4}/{d:<4} {n / d:6.1%}" if d else f"{'-':>9} {'':6}"

        return (f"{name:<34} {share(self.time_ok, self.lines)}  {share(self.level_ok, self.with_level)}  "
                f"{share(self.message_ok, self.lines)}  {share(self.fields_ok, self.with_fields)}")

    def shares(self) -> dict[str, Any]:
        """The counts and the shares (None where no line has the field), as the result file holds them."""
        def share(n: int, d: int) -> float | None:
            return round(n / d, 4) if d else None

        return {"lines": self.lines, "timestamp": share(self.time_ok, self.lines), "timestamp_ok": self.time_ok,
                "lines_with_level": self.with_level, "level": share(self.level_ok, self.with_level),
                "level_ok": self.level_ok, "message": share(self.message_ok, self.lines),
                "message_ok": self.message_ok, "lines_with_fields": self.with_fields,
                "fields": share(self.fields_ok, self.with_fields), "fields_ok": self.fields_ok}

    def count_fields(self, got: dict[str, Any], want: dict[str, Any]) -> bool:
        if not want:
            return True
        self.with_fields += 1
        ok = all(got.get(k) == v for k, v in want.items())
        self.fields_ok += ok
        return ok


HEAD = f"{'':<34} {'timestamp':<16}  {'level':<16}  {'message':<16}  {'pid/thread/logger/host':<16}"


def score_layouts(verbose: bool = False) -> tuple[dict[str, Tally], Tally]:
    from processor.parsers import parse_line

    catalogue = load_catalogue()
    receive_ns = _ns(catalogue["receive_time"])
    per: dict[str, Tally] = {}
    total = Tally()
    for layout in catalogue["layout"]:
        t = Tally()
        for golden in layout["line"]:
            p = parse_line(golden["line"], receive_ns)
            t.lines += 1
            # A line without a time gets the collector's read time, which the receive time stands for here.
            time_ok = (p.time_ns if p.time_ns is not None else receive_ns) == _ns(golden["@timestamp"])
            t.time_ok += time_ok
            level_ok = True
            if "log.level" in golden:
                t.with_level += 1
                level_ok = p.level == golden["log.level"]
                t.level_ok += level_ok
            message_ok = p.message == golden["message"]
            t.message_ok += message_ok
            fields_ok = t.count_fields(p.fields, {k: golden[k] for k in FIELDS[1:] if k in golden})
            if verbose and not (time_ok and level_ok and message_ok and fields_ok):
                print(f"  {layout['name']}: {golden['line']!r}\n    got {p.time_ns} {p.level!r} {p.message!r} "
                      f"{p.fields}")
        per[layout["name"]] = t
        total.add(t)
    return per, total


def score_loghub() -> dict[str, Tally]:
    """The same shares on the seven Loghub samples, from the ground truth ``tests/unit/test_loghub.py`` reads."""
    from processor.parsers import parse_line
    from tests.unit.test_loghub import _LEVELS, LOGHUB, NOW, SYSTEMS

    out: dict[str, Tally] = {}
    for system, (stamp, expected) in sorted(SYSTEMS.items()):
        lines = (LOGHUB / system / f"{system}_2k.log").read_text(encoding="utf-8", errors="replace").splitlines()
        with open(LOGHUB / system / f"{system}_2k.log_structured.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        t = Tally()
        for line, row in zip(lines, rows, strict=True):
            p = parse_line(line, NOW)
            t.lines += 1
            t.time_ok += p.time_ns == stamp(row)
            want = expected(row)
            level = want.pop("level", None)
            t.count_fields(p.fields, want)
            if level is not None:
                t.with_level += 1
                t.level_ok += p.level == _LEVELS.get(level, level)
            t.message_ok += p.message.rstrip() == row["Content"].rstrip()
        out[system] = t
    return out


def _core_name() -> str:
    from processor.parsers import CORE

    return "compiled core" if CORE == "native" else "Python reference"


def time_catalogue(reps: int = 30) -> None:
    """Per-line microseconds of the catalogue's lines through ``_core.parse_batch`` and ``parse_lines``."""
    from logjet import _core
    from processor.parsers import parse_lines

    catalogue = load_catalogue()
    lines = [g["line"] for layout in catalogue["layout"] for g in layout["line"]]
    times = [_ns(catalogue["receive_time"])] * len(lines)
    back = sum(type(r) is not tuple for r in _core.parse_batch(lines, times))

    def best(fn: Any) -> float:
        out = float("inf")
        for _ in range(reps):
            start = time.perf_counter()
            fn()
            out = min(out, time.perf_counter() - start)
        return out / len(lines) * 1e6

    batch = best(lambda: _core.parse_batch(lines, times))
    settled = best(lambda: parse_lines(lines, times))
    print(f"\nCatalogue lines ({len(lines)}, {back} handed back by the core): _core.parse_batch {batch:.2f} us/line, "
          f"parse_lines (with the reference for the handed-back ones) {settled:.2f} us/line")


def _ns(stamp: str) -> int:
    from logjet.timeparse import rfc3339_ns

    ns = rfc3339_ns(stamp)
    if ns is None:
        raise ValueError(f"unreadable timestamp {stamp!r}")
    return ns


def commit_state(*paths: str) -> tuple[str | None, bool]:
    """This checkout's commit, and whether ``paths`` (what a score depends on) have uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=root,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None, False
    return sha.stdout.strip(), bool(dirty.stdout.strip())


def write_result(per: dict[str, Tally], total: Tally, loghub: dict[str, Tally], loghub_total: Tally,
                 suffix: str = "", parser_commit: str | None = None) -> Path:
    """The shares as ``benchmarks/results/layouts-<UTC stamp>[-suffix].json``."""
    now = datetime.now(UTC).replace(microsecond=0)
    commit, dirty = (parser_commit, False) if parser_commit else commit_state("processor", "tests/data/layouts")
    result = {
        "kind": "layouts", "date": now.isoformat(), "commit": commit, "uncommitted_changes": dirty,
        "parser": f"processor.parsers.parse_line ({_core_name()})", "receive_time": load_catalogue()["receive_time"],
        "catalogue": {"total": total.shares(), "layouts": {name: t.shares() for name, t in per.items()}},
        "loghub": {"total": loghub_total.shares(), "systems": {name: t.shares() for name, t in loghub.items()}},
    }
    name = f"layouts-{now.strftime('%Y%m%dT%H%M%SZ')}{'-' + suffix if suffix else ''}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.layout_score", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", action="store_true", help="print every line that is not read right")
    parser.add_argument("--write", action="store_true", help="write the shares to benchmarks/results/layouts-*.json")
    parser.add_argument("--suffix", default="", help="append -SUFFIX to the result file's name")
    parser.add_argument("--parser-commit", help="the commit whose parser is scored, when it is not this checkout's "
                        "(its processor/ and logjet/ first on PYTHONPATH)")
    parser.add_argument("--time", action="store_true", help="time the catalogue's lines through the compiled core")
    args = parser.parse_args(argv)
    if args.parser_commit:
        os.environ.setdefault("LOGJET_CORE", "python")
    per, total = score_layouts(verbose=args.v)
    print(f"Layout catalogue ({len(per)} layouts, parse_line: {_core_name()})\n{HEAD}")
    for name, t in per.items():
        print(t.row(name))
    print(total.row("TOTAL"))
    print(f"\nLoghub samples (parse_line: {_core_name()})\n{HEAD}")
    loghub = score_loghub()
    all_loghub = Tally()
    for system, t in loghub.items():
        print(t.row(system))
        all_loghub.add(t)
    print(all_loghub.row("TOTAL"))
    if args.time:
        time_catalogue()
    if args.write:
        print(f"\nwritten: {write_result(per, total, loghub, all_loghub, args.suffix, args.parser_commit)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The processor's parser against real production logs with ground truth: the Loghub samples copied into
tests/data/loghub (https://github.com/logpai/loghub; its LICENSE notice is kept with the copy).

For every system, the share of lines whose timestamp, level (where the system has one), host, program and pid
(where the layout has them) and message all match the ``_structured.csv`` ground truth is reported and must be at
least 99%. Messages are compared without trailing whitespace, which the ground truth trims. The parser knows
nothing of these systems: only the test knows which column is what (Linux's ``Level`` column holds the host name,
OpenSSH's ``Component`` the host: the datasets' own labels are off there).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from logjet.timeparse import MONTHS, to_ns
from processor.parsers import parse_line

LOGHUB = Path(os.environ.get("LOGJET_LOGHUB_DIR", Path(__file__).resolve().parents[1] / "data" / "loghub"))
# Lines without a year are read as if received on this day, so the test does not depend on the calendar.
NOW = to_ns(2026, 11, 25, 12, 0, 0)
FLOOR = 0.99


def _ctime(row: dict) -> int:  # Sun Dec 04 04:47:44 2005
    _, mon, day, hms, year = row["Time"].split()
    h, m, s = hms.split(":")
    return to_ns(int(year), MONTHS[mon], int(day), int(h), int(m), int(s))


def _compact(row: dict) -> int:  # 081109 203615
    d, t = row["Date"].zfill(6), row["Time"].zfill(6)
    return to_ns(2000 + int(d[:2]), int(d[2:4]), int(d[4:]), int(t[:2]), int(t[2:4]), int(t[4:]))


def _iso_comma(row: dict) -> int:  # 2015-10-18 + 18:01:47,978
    y, mo, d = row["Date"].split("-")
    hms, ms = row["Time"].split(",")
    h, m, s = hms.split(":")
    return to_ns(int(y), int(mo), int(d), int(h), int(m), int(s), ms)


def _slashed(row: dict) -> int:  # 17/06/09 + 20:10:40
    y, mo, d = row["Date"].split("/")
    h, m, s = row["Time"].split(":")
    return to_ns(2000 + int(y), int(mo), int(d), int(h), int(m), int(s))


def _syslog(month_col: str, day_col: str) -> Callable[[dict], int]:
    def stamp(row: dict) -> int:
        # No year in the line: the year of reception, or the one before if that would be more than a day ahead.
        h, m, s = row["Time"].split(":")
        ns = to_ns(2026, MONTHS[row[month_col]], int(row[day_col]), int(h), int(m), int(s))
        return ns if ns - NOW <= 86_400 * 10**9 else to_ns(2025, MONTHS[row[month_col]], int(row[day_col]),
                                                            int(h), int(m), int(s))

    return stamp


# system -> (timestamp from the row, expected fields from the row)
SYSTEMS: dict[str, tuple[Callable[[dict], int], Callable[[dict], dict]]] = {
    "Apache": (_ctime, lambda r: {"level": r["Level"].lower()}),
    "HDFS": (_compact, lambda r: {"level": r["Level"].lower(), "log.logger": r["Component"],
                                  "process.thread.id": int(r["Pid"])}),
    "Hadoop": (_iso_comma, lambda r: {"level": r["Level"].lower(), "log.logger": r["Component"],
                                      "process.thread.name": r["Process"]}),
    "Linux": (_syslog("Month", "Date"), lambda r: {"host.hostname": r["Level"], "process.name": r["Component"],
                                                   **({"process.pid": int(r["PID"])} if r["PID"] else {})}),
    "OpenSSH": (_syslog("Date", "Day"), lambda r: {"host.hostname": r["Component"], "process.name": "sshd",
                                                   "process.pid": int(r["Pid"])}),
    "Spark": (_slashed, lambda r: {"level": r["Level"].lower(), "log.logger": r["Component"]}),
    "Zookeeper": (_iso_comma, lambda r: {"level": r["Level"].lower()}),
}
_LEVELS = {"warning": "warn"}


def _share(system: str) -> tuple[float, list[str]]:
    stamp, expected = SYSTEMS[system]
    lines = (LOGHUB / system / f"{system}_2k.log").read_text(encoding="utf-8", errors="replace").splitlines()
    with open(LOGHUB / system / f"{system}_2k.log_structured.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(lines)
    good, misses = 0, []
    for line, row in zip(lines, rows, strict=True):
        p = parse_line(line, NOW)
        got = {"level": p.level, **p.fields}
        want = expected(row)
        if "level" in want:
            want["level"] = _LEVELS.get(want["level"], want["level"])
        ok = (p.time_ns == stamp(row) and p.message.rstrip() == row["Content"].rstrip()
              and all(got.get(k) == v for k, v in want.items()))
        if ok:
            good += 1
        elif len(misses) < 5:
            misses.append(f"{line!r}\n    got {p.time_ns} {got} {p.message!r}\n    want {stamp(row)} {want} "
                          f"{row['Content']!r}")
    return good / len(rows), misses


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_loghub_ground_truth(system: str) -> None:
    share, misses = _share(system)
    print(f"\n{system}: {share:.2%} of lines fully match the ground truth")
    assert share >= FLOOR, f"{system}: {share:.2%} < {FLOOR:.0%}\n" + "\n".join(misses)

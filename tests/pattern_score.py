"""How well log patterns group the lines of the seven Loghub samples in ``tests/data/loghub``: grouping accuracy.

Grouping accuracy (GA) as defined by Zhu et al., "Tools and Benchmarks for Automated Log Parsing" (ICSE-SEIP 2019):
a line counts when the set of lines given its pattern is exactly the set the ground truth (the ``EventTemplate``
column of ``<system>_2k.log_structured.csv``) gives its event. The messages are the processor's own (``parse_line``),
as the documents carry them, not the dataset's Content column.

Run as ``python -m tests.pattern_score``, it prints per system the GA, the number of patterns found and of events in
the ground truth; ``--write`` also writes them to ``benchmarks/results/patterns-<UTC stamp>.json``, which
``python -m benchmarks report`` tables. The unit test (tests/unit/test_patterns.py) holds the mean to its floor with
the same function.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from processor.parsers import CORE, parse_line
from processor.patterns import pattern
from tests.layout_score import commit_state
from tests.unit.test_loghub import LOGHUB, NOW, SYSTEMS

__all__ = ["Score", "grouping_accuracy", "main", "score_system"]

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


@dataclass(frozen=True)
class Score:
    lines: int
    ga: float
    patterns: int  # distinct pattern ids found
    events: int  # distinct templates in the ground truth


def grouping_accuracy(found: list[str], truth: list[str]) -> float:
    """The share of lines whose group (lines with the same ``found`` id) is exactly their ``truth`` event's lines."""
    if len(found) != len(truth):
        raise ValueError(f"{len(found)} patterns for {len(truth)} ground-truth events")
    by_found: dict[str, list[int]] = defaultdict(list)
    by_truth: dict[str, int] = defaultdict(int)
    for i, (f, t) in enumerate(zip(found, truth, strict=True)):
        by_found[f].append(i)
        by_truth[t] += 1
    right = sum(len(idx) for idx in by_found.values()
                if len({truth[i] for i in idx}) == 1 and by_truth[truth[idx[0]]] == len(idx))
    return right / len(truth) if truth else 1.0


def score_system(system: str) -> Score:
    lines = (LOGHUB / system / f"{system}_2k.log").read_text(encoding="utf-8", errors="replace").splitlines()
    with open(LOGHUB / system / f"{system}_2k.log_structured.csv", newline="", encoding="utf-8") as fh:
        truth = [row["EventTemplate"] for row in csv.DictReader(fh)]
    found = [pattern(parse_line(line, NOW).message)[0] for line in lines]
    return Score(len(lines), grouping_accuracy(found, truth), len(set(found)), len(set(truth)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.pattern_score", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the scores to benchmarks/results/patterns-*.json")
    args = parser.parse_args(argv)
    scores = {system: score_system(system) for system in sorted(SYSTEMS)}
    mean = sum(s.ga for s in scores.values()) / len(scores)
    print(f"{'system':<12} {'lines':>6} {'GA':>6} {'patterns':>9} {'events':>7}")
    for system, s in scores.items():
        print(f"{system:<12} {s.lines:>6} {s.ga:>6.3f} {s.patterns:>9} {s.events:>7}")
    print(f"{'mean':<12} {'':>6} {mean:>6.3f}")
    if args.write:
        now = datetime.now(UTC).replace(microsecond=0)
        commit, dirty = commit_state("processor", "native/src")
        result = {"kind": "patterns", "date": now.isoformat(), "commit": commit, "uncommitted_changes": dirty,
                  "core": CORE, "mean_ga": mean, "systems": {name: asdict(s) for name, s in scores.items()}}
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"patterns-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

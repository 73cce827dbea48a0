"""The layout catalogue and its golden lines are well-formed, and every golden line agrees with its expected fields.

The agreement checks go from the expected value to the text, so they need no parser: the expected ``@timestamp``
written in the layout's own format (and the line's own offset) is in the header, the message is the text after the
header, a level word that ``levels.toml`` maps to the expected level is in the header, and so are the expected pid,
thread, logger and host. A typo in a golden line or in its expectation fails here, not in the score.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from logjet.timeparse import rfc3339_ns
from processor.parsers import SYSLOG_LEVEL, normal_level
from tests.layout_score import FIELDS, INT_FIELDS, load_catalogue, load_levels, parse_rfc3339, render

CATALOGUE = load_catalogue()
LEVELS = load_levels()
LAYOUTS = CATALOGUE["layout"]
RECEIVED = parse_rfc3339(CATALOGUE["receive_time"])
KNOWN_LEVELS = set(LEVELS["normalised"])
_SYSLOG_SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")
_KEYS = {"name", "source", "pattern", "timestamp", "zone", "has_year", "has_date", "has_zone", "has_fraction",
         "header", "message", "level_from", "notes", "line"}
_LINE_KEYS = {"line", "@timestamp", "message", "written_offset", *FIELDS}
_YES_NO = {"yes", "no", "optional"}


def _lines() -> list[tuple[dict, dict]]:
    return [(layout, line) for layout in LAYOUTS for line in layout["line"]]


def _id(pair: tuple[dict, dict]) -> str:
    layout, line = pair
    return f"{layout['name']}:{layout['line'].index(line)}"


def test_at_least_forty_layouts_with_unique_names() -> None:
    names = [layout["name"] for layout in LAYOUTS]
    assert len(names) >= 40
    assert len(set(names)) == len(names), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout["name"])
def test_layout_is_described(layout: dict) -> None:
    assert set(layout) <= _KEYS, set(layout) - _KEYS
    assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*", layout["name"])
    assert len(layout["source"]) >= 20 and ("http" in layout["source"] or "section" in layout["source"])
    assert layout["pattern"] and layout["header"]
    assert layout["zone"] in {"none", "offset", "name", "utc", "epoch"}
    for key in ("has_year", "has_date", "has_zone", "has_fraction"):
        assert layout[key] in _YES_NO, key
    assert layout["message"] in {"after-header", "whole-line", "logfmt"}
    assert layout["level_from"] in {"word", "pri", "none"}
    assert len(layout["line"]) >= 3
    levels = [line.get("log.level") for line in layout["line"]]
    if layout["level_from"] == "none":
        assert not any(levels)
    else:  # golden lines of a layout with levels show several of them
        assert len(set(levels)) >= 2, levels
    if not layout["timestamp"]:  # a line without a time of its own has none of its parts
        assert all(layout[k] == "no" for k in ("has_year", "has_date", "has_zone", "has_fraction"))
    elif layout["has_fraction"] != "no":
        assert any(line["@timestamp"][20:29] != "000000000" for line in layout["line"]), "no line with a fraction"


@pytest.mark.parametrize("pair", _lines(), ids=_id)
def test_golden_line_is_well_formed(pair: tuple[dict, dict]) -> None:
    layout, golden = pair
    assert set(golden) <= _LINE_KEYS, set(golden) - _LINE_KEYS
    stamp = parse_rfc3339(golden["@timestamp"])  # raises unless RFC 3339, UTC, nanoseconds
    assert rfc3339_ns(golden["@timestamp"]) is not None  # and the processor's own reader takes it
    if layout["has_year"] == "no" or layout["has_date"] == "no":
        # Read as received at receive_time: never more than a day ahead of it, never a year behind.
        assert RECEIVED - timedelta(days=366) < stamp <= RECEIVED + timedelta(days=1)
    if layout["has_date"] == "no":
        assert stamp.date() == RECEIVED.date()
    if not layout["timestamp"]:
        assert stamp == RECEIVED
    if "log.level" in golden:
        assert golden["log.level"] in KNOWN_LEVELS
    for key in INT_FIELDS:
        if key in golden:
            assert type(golden[key]) is int
    assert isinstance(golden["message"], str) and golden["message"]


def _header(layout: dict, golden: dict) -> str:
    line, message = golden["line"], golden["message"]
    if layout["message"] == "after-header":
        assert line.endswith(message), "the message is not the end of the line"
        header = line[: len(line) - len(message)]
        assert header, "no header before the message"
        return header
    if layout["message"] == "whole-line":
        assert message == line
        return line
    quoted = '"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert f"msg={quoted}" in line or f"msg={message}" in line
    return line


@pytest.mark.parametrize("pair", _lines(), ids=_id)
def test_golden_line_agrees_with_its_expectations(pair: tuple[dict, dict]) -> None:
    layout, golden = pair
    header = _header(layout, golden)
    written = [render(fmt, golden["@timestamp"], golden.get("written_offset")) for fmt in layout["timestamp"]]
    assert any(w in header for w in written) or not written, f"none of {written} in {header!r}"
    if written and not any("%S" in fmt or "%s" in fmt for fmt in layout["timestamp"]):  # zerolog's 3:04PM
        assert golden["@timestamp"][17:29] == "00.000000000"
    level = golden.get("log.level")
    if level and layout["level_from"] == "pri":
        pri = int(re.match(r"<(\d{1,3})>", golden["line"])[1])  # type: ignore[index]
        assert SYSLOG_LEVEL[_SYSLOG_SEVERITIES[pri % 8]] == level
    elif level:
        words = [w for w in LEVELS["word"] if w["level"] == level]
        assert any(_has_word(header, w["word"]) for w in words), f"no word for {level!r} in {header!r}"
    for key in FIELDS:
        if key in INT_FIELDS and key in golden:  # a whole number, not the digits of a longer one
            assert re.search(rf"(?<!\d){golden[key]}(?!\d)", header), key
        elif key != "log.level" and key in golden:
            assert golden[key] in header, key


def _has_word(header: str, word: str) -> bool:
    if not word[0].isalnum():  # Redis's symbols: the header's last token, right after the time
        return re.search(rf"\d {re.escape(word)} $", header) is not None
    # Not inside a longer word; a single letter may be glued to digits (glog's I1129, MongoDB's D1).
    return re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", header, re.IGNORECASE) is not None


def test_levels_vocabulary() -> None:
    known = KNOWN_LEVELS
    # The vocabulary's levels are the ones the processor already writes: its syslog severities, and each a fixed
    # point of its own normalisation.
    assert set(SYSLOG_LEVEL.values()) <= known
    assert all(normal_level(level) == level for level in known)
    seen: set[str] = set()
    for entry in LEVELS["word"]:
        assert set(entry) == {"word", "level", "used_by"}, entry
        assert entry["level"] in known, entry
        assert entry["used_by"], entry
        assert entry["word"].lower() not in seen, f"{entry['word']} normalised twice"  # words are read in any case
        seen.add(entry["word"].lower())
    # Every word the processor's parser already recognises is in the vocabulary, with the same normalisation.
    vocabulary = {(e["word"].lower(), e["level"]) for e in LEVELS["word"]}
    for word in ("trace", "debug", "info", "notice", "warn", "warning", "error", "err", "critical", "crit", "fatal",
                 "severe", "alert", "emerg", "emergency"):
        assert (word, normal_level(word)) in vocabulary, word


def test_every_expected_level_is_reachable_from_the_vocabulary() -> None:
    used = {line["log.level"] for _, line in _lines() if "log.level" in line}
    assert used <= {e["level"] for e in LEVELS["word"]}


def test_the_parser_reads_the_catalogues_headers() -> None:
    # The catalogue is the header rules' development set: these floors keep a change from losing what they read.
    from tests.layout_score import score_layouts

    _, total = score_layouts()
    assert total.time_ok / total.lines >= 0.99
    assert total.level_ok / total.with_level >= 0.99
    assert total.message_ok / total.lines >= 0.97
    assert total.fields_ok / total.with_fields >= 0.90


def test_the_compiled_core_decides_the_catalogues_records() -> None:
    # Batch level: records of the catalogue's lines are transformed whole by the core (the header recogniser runs
    # there), their documents byte for byte the Python reference's.
    from tests.unit.test_transform_differential import _records_of, check, handed_back

    lines = [golden["line"] for _, golden in _lines()]
    records = _records_of(lines, per_record=20)
    assert handed_back(records) == []
    assert check(records) == len(lines)
    assert check(records, keep_original=True, patterns=False) == len(lines)

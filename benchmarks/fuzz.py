"""`python -m benchmarks fuzz --inputs N`: the processor's transform and the compiled core under generated inputs.

Deterministic by ``--seed``: the same seed gives the same inputs. An input is a log line or a Kafka record. Lines are
of every kind the benchmark corpus has, in Docker json-file, CRI and syslog ``<PRI>`` envelopes or none, with
generated content around them: invalid UTF-8 (a third party's record is raw bytes), lone surrogates, control
characters, deep and huge JSON, oversized lines, odd numbers (past 64 bits, exponents, negative zero). Lines travel
in wire records of every source kind (file, container, syslog) or as third-party records (no wire header, one line
each); records of their own are valid or broken (truncated, not JSON, another version, wrong types, missing fields).

Records go in batches through ``processor.transform.Transform`` (the worker's code: with the default
``LOGJET_CORE`` its parse step is the compiled core), and the lines of every decodable record through
``logjet._core.parse_batch``. For each input:

- no exception escapes the transform or ``parse_batch``;
- every entry of a record ends as a document or a dead letter with a kind and a reason (a record the wire decoder
  refuses: one ``wire_format`` dead letter, no document);
- every document body is valid JSON (an object);
- ``parse_batch`` answers each line with a parse (5 fields) or a known reason to hand it to the reference;
- for one record in ``--sample`` (chosen by the seed), the documents and dead letters equal those of the Python
  reference (``LOGJET_CORE=python``, run in a process of its own): documents as JSON, less ``event.ingested`` (the
  transform's clock), dead letters by kind and reason.

Writes ``benchmarks/results/fuzz-<time>.json``: inputs, seed, failures by check with the first examples, time, and
the core's version and commit.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import pickle
import random
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from benchmarks.corpus import entries as corpus_entries
from benchmarks.corpus import loghub_lines
from benchmarks.hot_path import StandInRecord
from logjet.errors import WireFormatError
from logjet.wire import Batch, Entry, Source, decode_record, encode_batch

__all__ = ["CHECKS", "Fuzzer", "Tally", "check_batch", "generate", "main"]

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parent.parent
HANDED_BACK = frozenset({"json", "bigint", "receive_time", "regex_limit", "raises", "not_text", "header"})
CHECKS = ("exception", "accounting", "dead_letter", "document_json", "core_answer", "reference")
EXAMPLES = 5  # kept per check
NOW_NS = 1_795_000_000_000_000_000  # receive times are drawn around this (2026-11-19)


# ---- generation -------------------------------------------------------------------------------------------------

_ODD_NUMBERS = ("18446744073709551616", "-9223372036854775809", "9223372036854775807", "1e400", "-1e-400", "-0",
                "0.0000000000000000000001", "123456789012345678901234567890", "1E+2", "-0.0", "4.9e-324",
                "1.7976931348623157e308", "00", "NaN", "Infinity", "0x10", "1_000")
_LEVELS = ("INFO", "info", "WARN", "warning", "ERROR", "err", "DEBUG", "TRACE", "FATAL", "critical", "notice", "")
_TIMES = ("2026-11-25T14:03:00Z", "2026-11-25T14:03:00.123456789+02:00", "2024-02-29T00:00:00Z",
          "2023-02-29T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "1969-12-31T23:59:59Z",
          "2026-13-45T25:61:61Z", "2026-11-25 14:03:00,123", "Nov 25 14:03:00", "Feb 29 00:00:00", "1764079380",
          "1764079380123", "not a time", "")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Foo")


def _text(rng: random.Random, n: int) -> str:
    """Any characters: ASCII words mostly, then controls, non-ASCII, NUL; one text in 200 has a lone surrogate (a
    JSON escape can make one; the wire decoder refuses the record that carries it)."""
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.7:
            out.append(rng.choice("abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789=:{}[]\",.-_/\\<>|'"))
        elif r < 0.8:
            out.append(chr(rng.randrange(0, 32)))
        elif r < 0.97:
            out.append(chr(rng.randrange(0x80, 0x2FFFF)).encode("utf-8", "replace").decode("utf-8", "replace"))
        else:
            out.append(rng.choice(("\u2028", "\ufeff", "\ufffd", "\x00", "\r\n", "\t")))
    if n and rng.random() < 0.005:
        out.insert(rng.randrange(len(out) + 1), chr(rng.randrange(0xD800, 0xE000)))
    return "".join(out)


def _json_value(rng: random.Random, depth: int) -> str:
    r = rng.random()
    if depth <= 0 or r < 0.4:
        return rng.choice((f'"{_text(rng, rng.randrange(12)).replace(chr(34), "")}"', rng.choice(_ODD_NUMBERS),
                           "true", "false", "null", str(rng.randrange(-10**6, 10**6)), '"\\ud800"', '"\\u0000"'))
    if r < 0.7:
        return "[" + ",".join(_json_value(rng, depth - 1) for _ in range(rng.randrange(4))) + "]"
    return _json_object(rng, depth - 1)


def _json_object(rng: random.Random, depth: int = 3) -> str:
    keys = ("message", "msg", "level", "log.level", "@timestamp", "time", "ts", "a", "a.b", "a.b.c", "", " ",
            "event.id", "host.name", "service", "http.response.status_code", "error.stack_trace", "tags", "_id")
    pairs = []
    for _ in range(rng.randrange(6)):
        key = rng.choice(keys) if rng.random() < 0.8 else _text(rng, 6).replace('"', "").replace("\\", "")
        value = _json_value(rng, depth)
        if key in ("@timestamp", "time", "ts") and rng.random() < 0.6:
            value = orjson.dumps(rng.choice(_TIMES)).decode()
        elif key in ("level", "log.level") and rng.random() < 0.6:
            value = orjson.dumps(rng.choice(_LEVELS)).decode()
        pairs.append(f'"{key}":{value}')
    return "{" + ",".join(pairs) + "}"


def _content(rng: random.Random, pool: Sequence[str]) -> str:
    """What an application writes: a corpus line, JSON (deep, huge, odd), logfmt, or anything."""
    r = rng.random()
    if r < 0.45:
        line = rng.choice(pool)
        return line if rng.random() < 0.8 else _mutate(rng, line)
    if r < 0.65:
        return _json_object(rng)
    if r < 0.67:
        depth = rng.choice((50, 127, 128, 255, 256, 1000, 5000))
        return '{"a":' * depth + "1" + "}" * depth if rng.random() < 0.5 else "[" * depth + "]" * depth
    if r < 0.6705:
        size = rng.choice((70_000, 300_000, 1_100_000))  # past the 64 KiB collectors and past a megabyte
        return '{"message":"' + "x" * size + '","level":"info"}' if rng.random() < 0.5 else "y" * size
    if r < 0.78:
        return " ".join(f"{_text(rng, 4).replace(' ', '')}={rng.choice(_ODD_NUMBERS + _LEVELS + _TIMES)!s}"
                        for _ in range(rng.randrange(1, 6)))
    if r < 0.85:
        return ""
    return _text(rng, rng.randrange(1, 200))


def _mutate(rng: random.Random, line: str) -> str:
    if not line:
        return line
    i = rng.randrange(len(line))
    r = rng.random()
    if r < 0.3:
        return line[:i]
    if r < 0.6:
        return line[:i] + _text(rng, 3) + line[i:]
    if r < 0.8:
        return line[:i] + rng.choice(_ODD_NUMBERS + _TIMES) + line[i + 1:]
    return line + "\n" + line  # two lines in one entry


def _envelope(rng: random.Random, inner: str) -> str:
    """The content inside a Docker json-file record, a CRI line or a syslog message (RFC 5424 or 3164)."""
    r = rng.random()
    t = rng.choice(_TIMES)
    if r < 0.25:
        doc: dict[str, Any] = {"log": inner + rng.choice(("\n", "", "\r\n")), "stream": rng.choice(("stdout", "stderr",
                                                                                                    "x")), "time": t}
        if rng.random() < 0.2:
            doc.pop(rng.choice(list(doc)))
        try:
            return orjson.dumps(doc).decode()
        except TypeError:  # a lone surrogate: written as its JSON escape, as a shipper's JSON would
            return '{"log":"' + inner.encode("utf-8", "backslashreplace").decode().replace('"', '\\"') + '"}'
    if r < 0.45:
        return f"{t} {rng.choice(('stdout', 'stderr', 'x'))} {rng.choice(('F', 'P', 'Q'))} {inner}"
    pri = rng.choice(("<13>", "<0>", "<191>", "<192>", "<999>", "<-1>", "<a>", "<>", "<134>", "<1"))
    if r < 0.75:
        sd = rng.choice(("-", '[ex@32473 k="v"]', '[ex@1 a="\\"]" b="\\\\"][id c=""]', "[broken", '[x k=v]'))
        return (f"{pri}{rng.choice(('1', '2', '', '01'))} {t or '-'} {rng.choice(('host', '-', ''))} app "
                f"{rng.choice(('1234', '-'))} {rng.choice(('ID47', '-'))} {sd} {inner}")
    day = rng.choice((" 1", "25", "29", "31", "00", "x"))
    return (f"{pri}{rng.choice(_MONTHS)} {day} {rng.randrange(25):02d}:{rng.randrange(61):02d}:{rng.randrange(61):02d}"
            f" {rng.choice(('host', ''))} {rng.choice(('tag[1]:', 'tag:', 'x'))} {inner}")


def gen_line(rng: random.Random, pool: Sequence[str]) -> str:
    inner = _content(rng, pool)
    return _envelope(rng, inner) if rng.random() < 0.4 else inner


def _receive_time(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.9:
        return NOW_NS + rng.randrange(-10**15, 10**15)
    return rng.choice((0, -1, 2**63 - 1, -(2**63), 951_782_400_000_000_000, -10**18))  # edges, a leap day, 1938


def _attrs(rng: random.Random, kind: str) -> dict[str, Any] | None:
    if kind == "container":
        return {"log.iostream": rng.choice(("stdout", "stderr"))}
    if kind == "syslog":
        return {"source.ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                "log.syslog.facility.code": rng.randrange(-1, 30), "log.syslog.severity.name": rng.choice(_LEVELS),
                "log.syslog.severity.code": rng.choice((0, 3, 7, 8, -1, 2**63 - 1, 1.5, True))}
    return None


def _source(rng: random.Random, kind: str, n: int) -> Source:
    tags = {}
    if kind == "container":
        tags = {"container.id": f"{n:064x}", "container.name": f"c{n % 7}", "kubernetes.namespace": "fuzz",
                "kubernetes.pod.name": f"p{n % 13}", "service.name": rng.choice(("a", "b", "", "a.b"))}
    path = f"/var/log/fuzz/{n % 5}.log" if kind == "file" else None
    return Source(f"{kind}:fuzz:{n}", kind, rng.choice(("fuzz-host", "", "h\u00e9te")), "fuzz", path, tags)


def _wire(rng: random.Random, kind: str, n: int, lines: list[str]) -> tuple[bytes, bytes, list]:
    entries, offset = [], rng.choice((0, 0, 2**62, 2**63 - 1 - 10**6))
    for line in lines:
        entries.append(Entry(offset, _receive_time(rng), line, rng.choice(((), (), ("truncated",), ("x",))),
                             _attrs(rng, kind)))
        offset += len(line) + 1
    source = _source(rng, kind, n)
    try:
        return encode_batch(Batch(source, entries))
    except TypeError:  # a lone surrogate: the record's JSON carries its escape, as any JSON writer's would
        parts = [f'[{e.seq},{e.time_ns},"{_escape(e.message)}",{json.dumps(list(e.flags))}'
                 + (f",{json.dumps(e.attrs)}]" if e.attrs else "]") for e in entries]
        value = '{"v":1,"source":' + json.dumps(source.to_json()) + ',"entries":[' + ",".join(parts) + "]}"
        return source.id.encode(), value.encode(), [("logjet-wire", b"1"),
                                                    ("content-type", b"application/vnd.logjet.batch+json")]


def _escape(text: str) -> str:
    """``text`` as the inside of a JSON string, lone surrogates as their ``\\uXXXX`` escapes."""
    out = []
    for c in text:
        if 0xD800 <= ord(c) < 0xE000 or ord(c) < 0x20 or c in '"\\':
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


def _broken(rng: random.Random, key: bytes, value: bytes, headers: list) -> tuple[bytes, bytes | None, list]:
    """A record that claims the wire format and breaks it somehow (or, now and then, only looks broken)."""
    r = rng.random()
    if r < 0.15:
        return key, value[:rng.randrange(len(value))], headers
    if r < 0.25:
        return key, value, [("logjet-wire", rng.choice((b"2", b"", b"1.0", b"\xff")))]
    if r < 0.3:
        return key, rng.choice((None, b"")), headers
    if r < 0.4:
        i = rng.randrange(len(value))
        return key, value[:i] + bytes([rng.randrange(0x80, 0x100)]) + value[i:], headers  # invalid UTF-8
    doc = json.loads(value)  # the standard library's: it keeps lone surrogates and numbers past 64 bits
    r = rng.random()
    if r < 0.1:
        doc["v"] = rng.choice((2, "1", None, 1.0))
    elif r < 0.2:
        doc["entries"] = rng.choice(([], None, {}, "x"))
    elif r < 0.3:
        doc["source"] = rng.choice((None, {}, {"id": 1, "kind": "file"}, {"id": "x"}, [], {"id": "x", "kind": "f",
                                                                                           "tags": [1]}))
    else:
        e = doc["entries"][rng.randrange(len(doc["entries"]))]
        slot = rng.randrange(5)
        bad = rng.choice(("1", 1.5, None, 2**64, -(2**63) - 1, [], {}, True, {"": 1}, {"k": {"n": 1}}, ["f", 1],
                          {"k": [1]}, 2**63 - 1))
        if slot < len(e):
            e[slot] = bad
        else:
            e.append(bad)
    return key, json.dumps(doc).encode(), headers


@dataclass
class Input:
    index: int  # of the first input the record holds
    inputs: int  # inputs it counts for: its lines, or 1 for a record made as one
    key: bytes
    value: bytes | None
    headers: list | None


def generate(seed: int, inputs: int) -> Iterator[Input]:
    """The inputs of the seed, as the Kafka records that carry them, in order."""
    rng = random.Random(seed)
    pool = [*corpus_entries(5000, seed), *loghub_lines()[::7]]
    index = n = 0
    while index < inputs:
        n += 1
        r = rng.random()
        if r < 0.15:  # a third party's record: one line, raw bytes
            line = gen_line(rng, pool)
            raw = line.encode("utf-8", "surrogatepass")
            if rng.random() < 0.3:
                i = rng.randrange(len(raw) + 1)
                raw = raw[:i] + bytes(rng.sample(range(0x80, 0x100), rng.randrange(1, 4))) + raw[i:]
            yield Input(index, 1, b"", raw + rng.choice((b"", b"\n", b"\r\n")), rng.choice((None, [], [("x", b"1")])))
            index += 1
            continue
        kind = rng.choice(("file", "container", "syslog"))
        count = min(inputs - index, rng.randrange(1, 40))
        key, value, headers = _wire(rng, kind, n, [gen_line(rng, pool) for _ in range(count)])
        if r < 0.3:  # a record made broken: counted as one input
            yield Input(index, 1, *_broken(rng, key, value, headers))
            index += 1
        else:
            yield Input(index, count, key, value, headers)
            index += count


# ---- checking ---------------------------------------------------------------------------------------------------

@dataclass
class Tally:
    inputs: int = 0
    records: int = 0
    lines: int = 0
    documents: int = 0
    dead_letters: int = 0
    sampled: int = 0
    dead_kinds: dict[str, int] = field(default_factory=dict)  # what the inputs exercised: dead letters by kind,
    core_answers: dict[str, int] = field(default_factory=dict)  # and parse_batch's answers (parsed, or why not)
    failures: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def fail(self, check: str, item: Input | None, what: str, line: str | None = None) -> None:
        self.failures[check] = self.failures.get(check, 0) + 1
        kept = self.examples.setdefault(check, [])
        if len(kept) < EXAMPLES:
            example: dict[str, Any] = {"what": what[:2000]}
            if item is not None:
                example.update({"input": item.index, "headers": repr(item.headers)[:300],
                                "value_b64": base64.b64encode((item.value or b"")[:4000]).decode()})
            if line is not None:
                example["line"] = line[:2000]
            kept.append(example)


def _record(item: Input, offset: int) -> StandInRecord:
    return StandInRecord(item.key, item.value, item.headers, offset)  # type: ignore[arg-type]


def _decoded(item: Input, offset: int) -> Batch | None:
    try:
        return decode_record(item.value, item.headers, topic="bench", partition=0, offset=offset,
                             timestamp_ms=1_795_000_000_000)
    except WireFormatError:
        return None


def _comparable(body: bytes) -> Any:
    doc = orjson.loads(body)
    doc.get("event", {}).pop("ingested", None)
    return doc


def check_batch(transform: Any, items: list[Input], tally: Tally, parse_batch: Any,
                sampled: set[int] | None = None, reference: Reference | None = None) -> None:
    """Run one batch through ``transform`` and ``parse_batch`` and record what fails the checks."""
    records = [_record(item, i) for i, item in enumerate(items)]
    tally.records += len(items)
    tally.inputs += sum(item.inputs for item in items)
    try:
        out = transform(records)
    except Exception as exc:  # the check: nothing may escape
        tally.fail("exception", items[0], f"the transform raised {exc!r} on a batch of {len(items)} records")
        return
    if len(out.docs) != len(out.origins):
        tally.fail("accounting", items[0], f"{len(out.docs)} documents but {len(out.origins)} origins")
        return
    docs: dict[int, list[tuple[str, bytes]]] = {}
    dead: dict[int, list[Any]] = {}
    for (doc_id, body), origin in zip(out.docs, out.origins, strict=True):
        docs.setdefault(id(origin[0]), []).append((doc_id, body))
    for letter in out.dead:
        dead.setdefault(id(letter.record), []).append(letter)
        tally.dead_kinds[str(letter.kind)] = tally.dead_kinds.get(str(letter.kind), 0) + 1
    tally.documents += len(out.docs)
    tally.dead_letters += len(out.dead)
    lines: list[str] = []
    times: list[int] = []
    owners: list[Input] = []
    for i, (item, record) in enumerate(zip(items, records, strict=True)):
        mine, letters = docs.get(id(record), []), dead.get(id(record), [])
        for letter in letters:
            if not (isinstance(letter.kind, str) and letter.kind and isinstance(letter.reason, str) and letter.reason):
                tally.fail("dead_letter", item, f"a dead letter without kind or reason: {letter.kind!r}, "
                                                f"{letter.reason!r}")
        for doc_id, body in mine:
            try:
                if not isinstance(orjson.loads(body), dict) or not doc_id:
                    tally.fail("document_json", item, f"document {doc_id!r} is not a JSON object with an id")
            except orjson.JSONDecodeError as exc:
                tally.fail("document_json", item, f"document {doc_id!r} is not valid JSON: {exc}")
        batch = _decoded(item, i)
        if batch is None:
            if mine or [d.kind for d in letters] != ["wire_format"]:
                tally.fail("accounting", item, f"a record the wire decoder refuses gave {len(mine)} documents and "
                                               f"dead letters {[d.kind for d in letters]}, not one wire_format")
        else:
            entry_letters = [d for d in letters if d.kind != "wire_format"]
            if len(mine) + len(entry_letters) != len(batch.entries) or len(entry_letters) != len(letters):
                tally.fail("accounting", item, f"{len(batch.entries)} entries gave {len(mine)} documents and "
                                               f"dead letters {[d.kind for d in letters]}")
            lines += [e.message for e in batch.entries]
            times += [e.time_ns for e in batch.entries]
            owners += [item] * len(batch.entries)
    tally.lines += len(lines)
    try:
        answers = parse_batch(lines, times)
    except Exception as exc:
        tally.fail("exception", items[0], f"parse_batch raised {exc!r} on {len(lines)} lines")
        answers = None
    if answers is not None:
        for line, item, answer in zip(lines, owners, answers, strict=True):
            said = "parsed" if type(answer) is tuple else str(answer)[:40]
            tally.core_answers[said] = tally.core_answers.get(said, 0) + 1
            if not (type(answer) is tuple and len(answer) == 5 or type(answer) is str and answer in HANDED_BACK):
                tally.fail("core_answer", item, f"parse_batch answered {str(answer)[:500]!r}", line)
    if reference is not None and sampled:
        chosen = [i for i in range(len(items)) if items[i].index in sampled]
        if chosen:
            tally.sampled += len(chosen)
            theirs = reference.transform([(items[i], i) for i in chosen])
            for i, (ref_docs, ref_dead) in zip(chosen, theirs, strict=True):
                ours_docs = [(d, _comparable(b)) for d, b in docs.get(id(records[i]), [])]
                ref = [(d, _comparable(b)) for d, b in ref_docs]
                ours_dead = [(d.kind, d.reason) for d in dead.get(id(records[i]), [])]
                if ours_docs != ref or ours_dead != ref_dead:
                    tally.fail("reference", items[i], "differs from the Python reference: "
                                                      f"{len(ours_docs)} vs {len(ref)} documents "
                                                      f"({_first_difference(ours_docs, ref)}), dead letters "
                                                      f"{ours_dead[:3]} vs {ref_dead[:3]}")


def _first_difference(ours: list[tuple[str, Any]], ref: list[tuple[str, Any]]) -> str:
    for (our_id, our), (ref_id, theirs) in zip(ours, ref, strict=False):
        if our_id != ref_id:
            return f"ids {our_id} vs {ref_id}"
        if our != theirs:
            keys = sorted(k for k in set(our) | set(theirs) if our.get(k) != theirs.get(k))
            return f"document {our_id}: " + "; ".join(f"{k}: {our.get(k)!r:.300} vs {theirs.get(k)!r:.300}"
                                                      for k in keys)
    return "the same documents" if len(ours) == len(ref) else "a document more on one side"


class Reference:
    """The transform with ``LOGJET_CORE=python`` in a process of its own; records in, per-record results out."""

    def __init__(self) -> None:
        env = {**os.environ, "LOGJET_CORE": "python"}
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.fuzz", "--serve-reference"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def transform(self, items: list[tuple[Input, int]]) -> list[tuple[list[tuple[str, bytes]], list[tuple[str, str]]]]:
        """Each record (with its offset in the batch: a third party's record takes its identity from it) alone."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        pickle.dump([(i.key, i.value, i.headers, offset) for i, offset in items], self.proc.stdin)
        self.proc.stdin.flush()
        return pickle.load(self.proc.stdout)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(60)


def _serve_reference() -> None:
    from logjet.config import ElasticsearchSettings, ProcessorSettings
    from processor.parsers import CORE
    from processor.transform import Transform

    assert CORE == "python", CORE
    transform = Transform(ProcessorSettings(), ElasticsearchSettings())
    while True:
        try:
            batch = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        out = []
        for key, value, headers, offset in batch:
            got = transform([StandInRecord(key, value, headers, offset)])
            out.append((list(got.docs), [(d.kind, d.reason) for d in got.dead]))
        pickle.dump(out, sys.stdout.buffer)
        sys.stdout.buffer.flush()


# ---- the run ----------------------------------------------------------------------------------------------------

def _core_identity() -> dict[str, Any]:
    from processor.parsers import CORE

    version = tomllib.loads((ROOT / "native" / "Cargo.toml").read_text())["package"]["version"]

    def git(*args: str) -> str | None:
        res = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return res.stdout.strip() if res.returncode == 0 else None

    status = git("status", "--porcelain", "--", "native", "processor", "logjet")
    return {"core": CORE, "crate_version": version, "commit": git("rev-parse", "HEAD"),
            "uncommitted_changes": bool(status) if status is not None else None}


class Fuzzer:
    def __init__(self, seed: int, batch_records: int, sample_every: int) -> None:
        from logjet import _core
        from logjet.config import ElasticsearchSettings, ProcessorSettings
        from processor.transform import Transform

        self.seed, self.batch_records, self.sample_every = seed, batch_records, sample_every
        self.transform = Transform(ProcessorSettings(), ElasticsearchSettings())
        self.parse_batch = _core.parse_batch
        self.pick = random.Random(seed ^ 0x5EED)

    def run(self, inputs: int) -> Tally:
        tally = Tally()
        reference = Reference() if self.sample_every > 0 else None
        try:
            pending: list[Input] = []
            sampled: set[int] = set()
            for item in generate(self.seed, inputs):
                pending.append(item)
                if self.sample_every > 0 and self.pick.randrange(self.sample_every) == 0:
                    sampled.add(item.index)
                if len(pending) == self.batch_records:
                    check_batch(self.transform, pending, tally, self.parse_batch, sampled, reference)
                    pending, sampled = [], set()
            if pending:
                check_batch(self.transform, pending, tally, self.parse_batch, sampled, reference)
        finally:
            if reference is not None:
                reference.close()
        return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=10_000_000, help="inputs to generate (lines and records)")
    parser.add_argument("--seed", type=int, default=1, help="the seed: the same one gives the same inputs")
    parser.add_argument("--batch", type=int, default=200, help="records per call of the transform")
    parser.add_argument("--sample", type=int, default=50, help="one record in this many is compared with the "
                        "Python reference (0: none)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where fuzz-<time>.json is written")
    parser.add_argument("--serve-reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_reference:
        _serve_reference()
        return 0
    start = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    tally = Fuzzer(args.seed, args.batch, args.sample).run(args.inputs)
    seconds = time.monotonic() - t0
    result = {
        "kind": "fuzz", "date": start.isoformat(timespec="seconds"), "inputs": tally.inputs, "seed": args.seed,
        "batch_records": args.batch, "sample_every": args.sample, "records": tally.records, "lines": tally.lines,
        "documents": tally.documents, "dead_letters": tally.dead_letters, "sampled_records": tally.sampled,
        "dead_letter_kinds": dict(sorted(tally.dead_kinds.items())),
        "core_answers": dict(sorted(tally.core_answers.items())),
        "checks": list(CHECKS), "failures": {c: {"count": n, "examples": tally.examples[c]}
                                             for c, n in sorted(tally.failures.items())},
        "failed": sum(tally.failures.values()), "seconds": round(seconds, 1), **_core_identity(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"fuzz-{start.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"{tally.inputs:,} inputs ({tally.records:,} records, {tally.lines:,} lines) in {seconds:,.0f} s: "
          f"{tally.documents:,} documents, {tally.dead_letters:,} dead letters, {tally.sampled:,} records compared "
          f"with the reference; failures: {result['failed']} {dict(tally.failures)}\nwritten: {path}")
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m benchmarks fuzz`: a short run passes every check; the inputs are the seed's; and each check fails when
what it checks is broken."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from benchmarks.fuzz import Tally, check_batch, generate, main
from logjet import _core
from logjet.config import ElasticsearchSettings, ProcessorSettings
from logjet.errors import WireFormatError
from logjet.wire import decode_record
from processor.transform import Transform


def test_a_short_run_passes_every_check_and_records_what_it_ran(tmp_path: Path) -> None:
    assert main(["--inputs", "400", "--seed", "3", "--sample", "4", "--out", str(tmp_path)]) == 0
    [path] = tmp_path.glob("fuzz-*.json")
    result = orjson.loads(path.read_bytes())
    assert result["inputs"] == 400 and result["seed"] == 3 and result["failed"] == 0 and result["failures"] == {}
    assert result["documents"] > 0 and result["dead_letters"] > 0 and result["sampled_records"] > 0
    assert result["documents"] + result["dead_letters"] >= result["records"]
    assert result["core"] in ("native", "python") and result["crate_version"] and "seconds" in result


def test_the_seed_decides_the_inputs_and_they_hold_every_kind() -> None:
    first = [(i.key, i.value, i.headers) for i in generate(11, 3000)]
    assert first == [(i.key, i.value, i.headers) for i in generate(11, 3000)]
    assert first != [(i.key, i.value, i.headers) for i in generate(12, 3000)]
    kinds: Counter[str] = Counter()
    for _, value, headers in first:
        if not any(h[0] == "logjet-wire" for h in headers or []):
            try:
                (value or b"").decode()
                kinds["third party"] += 1
            except UnicodeDecodeError:
                kinds["third party, invalid UTF-8"] += 1
            continue
        try:
            batch = decode_record(value, headers, topic="t", partition=0, offset=0, timestamp_ms=0)
            kinds[batch.source.kind] += 1
            kinds["deep JSON"] += any(e.message.count('{"a":') > 100 for e in batch.entries)
            kinds["envelope"] += any(e.message.startswith(('{"log":', "<")) for e in batch.entries)
        except WireFormatError:
            kinds["broken"] += 1
    for kind in ("file", "container", "syslog", "third party", "third party, invalid UTF-8", "broken", "deep JSON",
                 "envelope"):
        assert kinds[kind] > 0, kinds


class _Losing:
    """The real transform, made to lose a record's last document, or to raise, or to write a broken body."""

    def __init__(self, how: str) -> None:
        self.inner, self.how = Transform(ProcessorSettings(), ElasticsearchSettings()), how

    def __call__(self, records: list) -> object:
        if self.how == "raise":
            raise RuntimeError("boom")
        out = self.inner(records)
        if self.how == "lose":
            out.docs.pop()
            out.origins.pop()
        elif self.how == "garble":
            doc_id, body = out.docs[0]
            out.docs[0] = (doc_id, body[:-1])
        elif self.how == "mute":
            for letter in out.dead:
                letter.reason = ""
        return out


def test_each_check_fails_on_what_it_checks() -> None:
    items = [i for i in generate(5, 600)]
    for how, check in (("lose", "accounting"), ("raise", "exception"), ("garble", "document_json"),
                       ("mute", "dead_letter")):
        tally = Tally()
        check_batch(_Losing(how), items, tally, _core.parse_batch)
        assert tally.failures.get(check, 0) >= 1, (how, tally.failures)
        assert tally.examples[check][0]["what"]
    tally = Tally()
    check_batch(_Losing("none"), items, tally, lambda lines, times: ["panic: x"] * len(lines))
    assert tally.failures == {"core_answer": tally.lines}
    tally = Tally()
    check_batch(_Losing("none"), items, tally, _core.parse_batch)
    assert tally.failures == {} and tally.inputs == 600


class _OtherReference:
    """A reference that disagrees about everything."""

    def transform(self, pairs: list) -> list:
        return [([], [("wire_format", "not this")]) for _ in pairs]


def test_a_record_that_differs_from_the_reference_is_a_failure() -> None:
    items = [i for i in generate(5, 300)]
    tally = Tally()
    check_batch(_Losing("none"), items, tally, _core.parse_batch, {items[0].index, items[3].index}, _OtherReference())
    assert tally.sampled == 2 and tally.failures == {"reference": 2}

"""One consumed batch of Kafka records to encoded documents: decode, parse, map to ECS, encode.

No I/O: the worker sends what comes out to Elasticsearch and the dead-letter topic, and the B1 benchmark times this
exact code in one process.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from logjet.config import ElasticsearchSettings, ProcessorSettings
from logjet.errors import WireFormatError
from logjet.timeparse import format_ns
from logjet.wire import Entry, Source, decode_record, entry_ids
from processor.ecs import source_fields, to_document
from processor.parsers import Parsed, parse_line, parse_lines
from processor.parsers.user import UserParseError, UserParsers
from processor.patterns import patterns
from shippers.elasticsearch import EncodedDoc

__all__ = ["DeadLetter", "Record", "Transform", "Transformed", "content_hash", "tune_gc"]

# A batch holds up to ~100,000 documents of small dicts alive at once, and nearly all of it is freed by reference
# counting when the batch ends. CPython's default thresholds (700, 10, 10) make the collector walk those live objects
# again and again for cycles that are not there: measured, 9% of a worker's CPU on the B1 corpus.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Set a worker process's garbage collector for batch work: start-up objects frozen, longer generations."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def content_hash(message: str) -> str:
    """``event.hash``: what an entry says (its raw text), hashed (BLAKE2b, 8 bytes, hex). A replay of the entry has
    the same; another entry under the same identity almost surely not. Not its times: a file re-read after a restart
    is read at another time.
    """
    try:
        raw = message.encode()
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape: still hashed, the encoder decides its fate
        raw = message.encode(errors="surrogatepass")
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


class Record(Protocol):
    """What the transform reads of a consumed record (confluent_kafka.Message has these methods)."""

    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes | None]] | None: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def timestamp(self) -> tuple[int, int]: ...


@dataclass(slots=True)
class DeadLetter:
    record: Any  # the Record it came from
    kind: str
    reason: str
    original: str | bytes | None
    extra: dict[str, Any]


@dataclass(slots=True)
class Transformed:
    docs: list[EncodedDoc] = field(default_factory=list)
    # Per document: (its record, the entry's message, source id, seq): what a rejected document's dead letter needs.
    origins: list[tuple[Any, str, str, int]] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)  # per document: its event.hash
    dead: list[DeadLetter] = field(default_factory=list)


class Transform:
    def __init__(self, ps: ProcessorSettings, es: ElasticsearchSettings) -> None:
        self.user_parsers = UserParsers(list(ps.parsers))  # imports user functions: fails before any I/O
        self.keep_original = ps.keep_original
        self.patterns = ps.patterns
        self.dataset, self.namespace = es.dataset, es.namespace
        # (topic, partition) -> the topic's id, kept current by the worker: part of a third-party record's identity.
        self.topic_ids: Mapping[tuple[str, int], str] = {}

    def __call__(self, msgs: Sequence[Record]) -> Transformed:
        out = Transformed()
        docs, origins, dead, hashes = out.docs, out.origins, out.dead, out.hashes
        topic_ids = self.topic_ids
        ingested = format_ns(time.time_ns())
        dumps = orjson.dumps
        keep_original, ds, ns = self.keep_original, self.dataset, self.namespace
        user = self.user_parsers
        for msg in msgs:
            _, ts_ms = msg.timestamp()
            topic, partition = msg.topic() or "", msg.partition() or 0
            try:
                batch = decode_record(msg.value(), msg.headers(), topic=topic, partition=partition,
                                      offset=msg.offset() or 0, timestamp_ms=ts_ms,
                                      topic_id=topic_ids.get((topic, partition), "") if topic_ids else "")
            except WireFormatError as exc:
                dead.append(DeadLetter(msg, "wire_format", f"wire format: {exc}", msg.value(), {}))
                continue
            source = batch.source
            base = source_fields(source)
            ids = entry_ids(source.id)
            entries = batch.entries
            # Without user parsers a record's entries are parsed in one call (one crossing into the compiled core).
            parsed_all = None if user else parse_lines([e.message for e in entries], [e.time_ns for e in entries])
            if parsed_all is None:
                parsed_all = []
                for entry in entries:
                    try:
                        parsed_all.append(self._user_parse(source, entry))
                    except UserParseError as exc:
                        parsed_all.append(None)
                        dead.append(DeadLetter(msg, "parser", str(exc), entry.message,
                                               {"source_id": source.id, "seq": entry.seq}))
            # One call per record, like the parse: the compiled core's patterns, when it is built.
            found = patterns([p.message if p is not None else "" for p in parsed_all]) if self.patterns else None
            for i, entry in enumerate(entries):
                parsed = parsed_all[i]
                if parsed is None:  # dead-lettered by a user parser
                    continue
                doc_id, doc = to_document(source, entry, parsed, ds, ns, ingested, keep_original, base, ids)
                if found is not None:
                    doc["logjet"]["pattern"] = {"id": found[i][0], "template": found[i][1]}
                digest = doc["event"]["hash"] = content_hash(entry.message)
                try:
                    body = dumps(doc)
                except orjson.JSONEncodeError as exc:  # e.g. a JSON line nested deeper than JSON encoders go
                    dead.append(DeadLetter(msg, "unencodable", f"cannot encode the document: {exc}", entry.message,
                                           {"source_id": source.id, "seq": entry.seq}))
                    continue
                docs.append((doc_id, body))
                origins.append((msg, entry.message, source.id, entry.seq))
                hashes.append(digest)
        return out

    def _user_parse(self, source: Source, entry: Entry) -> Parsed:
        found = self.user_parsers.parse(source, entry)
        if found is None:
            return parse_line(entry.message, entry.time_ns)
        message, time_ns, level, fields = found
        return Parsed(message, time_ns, level, fields)

"""One consumed batch of Kafka records to encoded documents: decode, parse, map to ECS, encode.

With the compiled core (``LOGJET_CORE=native``, the default), the whole batch is one call into
``logjet._core.transform_batch``, which does all of it in Rust with the GIL released and hands over the documents as
their bulk request lines in one buffer (``shippers.elasticsearch.encoder.BulkDocs``), not as an object per document.
The records it hands back (any record that breaks the wire format, an entry it does not decide, a panic: see
``native/src/transform.rs``; and every record a user-defined parser may apply to, by its source and syslog app name)
go whole through ``Transform.reference``, the Python path, which stays the reference the core is held to
(tests/unit/test_transform_differential.py), and which runs alone with ``LOGJET_CORE=python``.

No I/O: the worker sends what comes out to Elasticsearch and the dead-letter topic, and the B1 benchmark times this
exact code in one process.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import time
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from logjet.config import ElasticsearchSettings, ProcessorSettings
from logjet.errors import WireFormatError
from logjet.timeparse import format_ns
from logjet.wire import HEADER_VERSION, Batch, Entry, Source, decode_record, entry_ids
from processor.ecs import source_fields, to_document
from processor.parsers import CORE, Parsed, parse_line, parse_lines
from processor.parsers.user import UserParseError, UserParsers
from processor.patterns import patterns
from shippers.elasticsearch.encoder import BulkDocs, EncodedDoc

if CORE == "native":
    from logjet._core import SourceRules, transform_batch
else:
    SourceRules = transform_batch = None

__all__ = ["CoreHashes", "CoreOrigins", "DeadLetter", "Record", "Transform", "Transformed", "content_hash", "tune_gc"]

# A batch holds up to ~100,000 documents of small dicts alive at once, and nearly all of it is freed by reference
# counting when the batch ends. CPython's default thresholds (700, 10, 10) make the collector walk those live objects
# again and again for cycles that are not there: measured, 9% of a worker's CPU on the B1 corpus.
GC_THRESHOLDS = (50_000, 20, 100)


# glibc's mallopt parameters and the values set: the heap's free top is kept up to 1 GiB, and blocks up to 32 MiB (the
# largest glibc allows on 64 bits) come from the heap instead of a mapping of their own (see keep_freed_memory).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 1 << 30
MMAP_THRESHOLD = 32 << 20


def keep_freed_memory() -> bool:
    """Keep the memory a batch frees for the next batch (glibc): by default the heap's free top is given back to the
    system as soon as 128 KiB of it is free, so a batch's bodies and documents, freed when it ends, are faulted in
    again page by page by the next one (measured: about a tenth of the transform's time spent by the kernel zeroing
    pages). The worker's memory then stays at its largest batch's, which it reaches anyway. Setting it also fixes
    glibc's threshold for mapping a block of its own at 128 KiB, so the bodies of bulk requests (up to
    ``bulk_max_bytes``, cut from the batch's buffer each batch) would each be a fresh mapping, faulted in page by page
    and given back when freed (measured on B1: 0.18 s of 2.9 s); that threshold is raised to 32 MiB. False where the
    C library has no ``mallopt`` (musl) or refuses the setting."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def tune_gc() -> None:
    """Set a worker process's memory for batch work: start-up objects frozen, longer garbage-collector
    generations, freed memory kept for the next batch."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    keep_freed_memory()


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


Origin = tuple[Any, str, str, int]


@dataclass(slots=True)
class Transformed:
    # (id, JSON) per document: a list from the Python path; from the core, `BulkDocs`, their bulk lines in one buffer.
    docs: list[EncodedDoc] | BulkDocs = field(default_factory=list)
    # Per document: (its record, the entry's message, source id, seq): what a rejected document's dead letter needs.
    # A list from the Python path; from the core, `CoreOrigins`, which makes an origin only when it is asked for.
    origins: list[Origin] | CoreOrigins = field(default_factory=list)
    hashes: Sequence[str] = field(default_factory=list)  # per document: its event.hash
    dead: list[DeadLetter] = field(default_factory=list)


_NO_ENTRY = 0xFFFFFFFF  # in CoreOrigins.where: a document of the Python path, whose origin is kept whole


class CoreOrigins:
    """Per document, ``(record, message, source id, seq)`` as the Python path's ``origins`` list has them, made when
    asked: only a document Elasticsearch refuses needs its origin, so the core's batch carries (record index, entry
    index) pairs and the record is decoded again for the few that are looked up."""

    __slots__ = ("_decode", "_decoded", "_kept", "_len", "_records", "_where")

    def __init__(self, records: Sequence[Record], where: array[int], kept: dict[int, Origin],
                 decode: Any) -> None:
        self._records, self._where, self._kept, self._decode = records, where, kept, decode
        self._decoded: dict[int, Batch] = {}
        self._len = len(where) // 2

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, pos: int) -> Origin:
        if pos < 0:
            pos += self._len
        if not 0 <= pos < self._len:
            raise IndexError(pos)
        kept = self._kept.get(pos)
        if kept is not None:
            return kept
        rec, ent = self._where[2 * pos], self._where[2 * pos + 1]
        batch = self._decoded.get(rec)
        if batch is None:
            batch = self._decoded[rec] = self._decode(self._records[rec])
        entry = batch.entries[ent]
        return self._records[rec], entry.message, batch.source.id, entry.seq

    def __iter__(self) -> Iterator[Origin]:
        return (self[pos] for pos in range(self._len))

    def pop(self) -> Origin:
        """Drop the last document's origin (as ``list.pop``)."""
        last = self[-1]
        self._len -= 1
        return last


class CoreHashes(Sequence[str]):
    """Per document, its ``event.hash``: 16 hex digits each, in one bytes object from the core."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        self._raw = raw

    def __len__(self) -> int:
        return len(self._raw) // 16

    def __getitem__(self, pos: int) -> str:  # type: ignore[override]
        if pos < 0:
            pos += len(self)
        if not 0 <= pos < len(self):
            raise IndexError(pos)
        return self._raw[16 * pos:16 * pos + 16].decode("ascii")


def _wire_header(headers: Sequence[tuple[str, bytes | None]] | None) -> bytes | None:
    """The value of the first ``logjet-wire`` header, as ``decode_record`` reads it."""
    if headers:
        for key, val in headers:
            if key == HEADER_VERSION:
                return val
    return None


class Transform:
    def __init__(self, ps: ProcessorSettings, es: ElasticsearchSettings) -> None:
        self.user_parsers = UserParsers(list(ps.parsers))  # imports user functions: fails before any I/O
        self.keep_original = ps.keep_original
        self.patterns = ps.patterns
        self.dataset, self.namespace = es.dataset, es.namespace
        # (topic, partition) -> the topic's id, kept current by the worker: part of a third-party record's identity.
        self.topic_ids: Mapping[tuple[str, int], str] = {}
        # event.ingested's clock (nanoseconds): one reading per batch.
        self.clock = time.time_ns
        # The user rules' source conditions, for the core to hand back the records they may apply to.
        self._rules = SourceRules(self.user_parsers.source_conditions()) if SourceRules and self.user_parsers else None

    def __call__(self, msgs: Sequence[Record]) -> Transformed:
        if transform_batch is None:
            return self.reference(msgs)
        return self._core(msgs if type(msgs) is list else list(msgs))

    def _decode(self, msg: Record) -> Batch:
        _, ts_ms = msg.timestamp()
        topic, partition = msg.topic() or "", msg.partition() or 0
        return decode_record(msg.value(), msg.headers(), topic=topic, partition=partition, offset=msg.offset() or 0,
                             timestamp_ms=ts_ms,
                             topic_id=self.topic_ids.get((topic, partition), "") if self.topic_ids else "")

    def _core(self, msgs: list[Record]) -> Transformed:
        """The batch in one call into the compiled core; the records it hands back through the reference, in place."""
        topic_ids = self.topic_ids
        values, wire, topics, partitions, offsets, stamps, tids = [], [], [], [], [], [], []
        for msg in msgs:
            topic, partition = msg.topic() or "", msg.partition() or 0
            values.append(msg.value())
            wire.append(_wire_header(msg.headers()))
            topics.append(topic)
            partitions.append(partition)
            offsets.append(msg.offset() or 0)
            stamps.append(msg.timestamp()[1])
            tids.append(topic_ids.get((topic, partition), "") if topic_ids else "")
        buf, starts_raw, bodies_raw, where_raw, hashes_raw, handed_back = transform_batch(
            values, wire, topics, partitions, offsets, stamps, tids, self.dataset, self.namespace,
            format_ns(self.clock()), self.keep_original, self.patterns, rules=self._rules)
        starts, bodies, where = array("Q"), array("Q"), array("I")
        starts.frombytes(starts_raw)
        bodies.frombytes(bodies_raw)
        where.frombytes(where_raw)
        docs = BulkDocs(buf, starts, bodies)
        if not handed_back:
            return Transformed(docs, CoreOrigins(msgs, where, {}, self._decode), CoreHashes(hashes_raw), [])
        # Each handed-back record's documents go where the reference would have put them: after the core's
        # documents of the records before it. The batch's buffer is joined once from the pieces.
        pieces: list[BulkDocs] = []
        out_where = array("I")
        out_hashes = bytearray()
        kept: dict[int, Origin] = {}
        dead: list[DeadLetter] = []
        recs = memoryview(where_raw).cast("I")[0::2]
        done = n = 0
        for r in handed_back:
            cut = bisect_left(recs, r, lo=done)
            pieces.append(docs[done:cut])
            out_where.extend(where[2 * done:2 * cut])
            out_hashes += hashes_raw[16 * done:16 * cut]
            n += cut - done
            done = cut
            sub = self.reference([msgs[r]])
            pieces.append(BulkDocs.of(sub.docs))
            for origin, digest in zip(sub.origins, sub.hashes, strict=True):
                kept[n] = origin
                n += 1
                out_where.extend((r, _NO_ENTRY))
                out_hashes += digest.encode("ascii")
            dead.extend(sub.dead)
        pieces.append(docs[done:])
        out_where.extend(where[2 * done:])
        out_hashes += hashes_raw[16 * done:]
        return Transformed(BulkDocs.joined(pieces), CoreOrigins(msgs, out_where, kept, self._decode),
                           CoreHashes(bytes(out_hashes)), dead)

    def reference(self, msgs: Sequence[Record]) -> Transformed:
        """The Python path: record by record, entry by entry (the core's parser per record, when it is built); its
        documents are a list of ``(id, JSON)``."""
        out = Transformed()
        docs, dead = out.docs, out.dead
        origins: list[Origin] = []
        hashes: list[str] = []
        out.origins, out.hashes = origins, hashes
        topic_ids = self.topic_ids
        ingested = format_ns(self.clock())
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

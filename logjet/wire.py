"""The logjet wire format, version 1: what a Kafka record written by a collector carries.

See docs/wire-format.md for the contract. In short:

- key: the source id (UTF-8), so one source's entries stay in order on one partition;
- headers: ``logjet-wire: 1`` and ``content-type: application/vnd.logjet.batch+json``;
- value: one JSON object ``{"v": 1, "source": {...}, "entries": [[seq, time_ns, message, flags?, attrs?], ...]}``
  holding a run of consecutive entries of one source.

An entry's identity is (source id, seq), stable across collector restarts; ``entry_id`` hashes it into the
Elasticsearch ``_id``. Records without the ``logjet-wire`` header come from third-party producers (kcat,
rsyslog omkafka, any client): each record is one entry whose identity is its topic (name and id: a topic deleted
and created again is another topic), partition and offset.

This module must stay free of I/O and of any Kafka or Elasticsearch client: both ends import it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import orjson

from logjet.errors import WireFormatError

__all__ = [
    "CONTENT_TYPE",
    "HEADER_VERSION",
    "VERSION",
    "Batch",
    "Entry",
    "Source",
    "decode_record",
    "encode_batch",
    "entry_id",
    "entry_ids",
    "foreign_source_id",
]

VERSION = 1
HEADER_VERSION = "logjet-wire"
CONTENT_TYPE = "application/vnd.logjet.batch+json"
_HEADERS = [(HEADER_VERSION, str(VERSION).encode()), ("content-type", CONTENT_TYPE.encode())]

FLAG_TRUNCATED = "truncated"
FLAG_INVALID_UTF8 = "invalid_utf8"
FLAG_MALFORMED = "malformed"

AttrValue = str | int | float | bool
_ATTR_TYPES = frozenset((str, int, float, bool))  # JSON decoding yields exactly these types, never subclasses


@dataclass(frozen=True, slots=True)
class Source:
    """Where entries come from. ``id`` is unique and stable for the life of the source."""

    id: str
    kind: str
    host: str = ""
    collector: str = ""
    path: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "host": self.host, "collector": self.collector}
        if self.path is not None:
            out["path"] = self.path
        if self.tags:
            out["tags"] = dict(self.tags)
        return out


# int64: msgspec bounds go no further; the rarer u64 range falls back to the checked path, as larger numbers fail it.
_Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class Entry(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One log entry. ``seq`` orders entries within a source (a file's byte offset, a Kafka offset).

    ``attrs`` holds what the input knew of this entry alone, keyed by ECS field path (``log.iostream``,
    ``log.syslog.severity.code``, ``source.ip``); what holds for every entry of a source goes in ``Source.tags``.

    A msgspec struct, so that a record's entries are decoded and checked straight from its JSON array form in C.
    """

    seq: _Int
    time_ns: _Int
    message: str
    flags: tuple[str, ...] = ()
    # Not Optional: on the wire, an attrs element is an object; None only means "absent".
    attrs: dict[Annotated[str, msgspec.Meta(min_length=1)], AttrValue] = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive entries of one source: the unit a Kafka record carries."""

    source: Source
    entries: Sequence[Entry]


def entry_id(source_id: str, seq: int) -> str:
    """The stable document id of an entry: a replay of the same entry maps to the same id."""
    digest = hashlib.blake2b(f"{source_id}\x00{seq}".encode(), digest_size=15).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def entry_ids(source_id: str) -> Callable[[int], str]:
    """``entry_id`` for the entries of one source, with what they share prepared once."""
    prefix = source_id.encode() + b"\x00"
    blake2b, b64, urlsafe = hashlib.blake2b, binascii.b2a_base64, _URLSAFE

    def ids(seq: int) -> str:
        return b64(blake2b(prefix + b"%d" % seq, digest_size=15).digest(), newline=False).translate(urlsafe).decode()

    return ids


def encode_batch(batch: Batch) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Return (key, value, headers) of the Kafka record that carries ``batch``."""
    if not batch.entries:
        raise ValueError("a wire record carries at least one entry")
    # Tuples: orjson writes them as the arrays the format wants, and they are cheaper to make than lists.
    entries = [
        (e.seq, e.time_ns, e.message, e.flags, e.attrs) if e.attrs
        else (e.seq, e.time_ns, e.message, e.flags) if e.flags
        else (e.seq, e.time_ns, e.message)
        for e in batch.entries
    ]
    value = orjson.dumps({"v": VERSION, "source": batch.source.to_json(), "entries": entries})
    return batch.source.id.encode(), value, list(_HEADERS)


def _header(headers: Sequence[tuple[str, bytes | None]] | None, name: str) -> bytes | None:
    if headers:
        for key, val in headers:
            if key == name:
                return val
    return None


def _decode_source(raw: Any) -> Source:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not isinstance(raw.get("kind"), str):
        raise WireFormatError("source must be an object with string 'id' and 'kind'")
    tags = raw.get("tags") or {}
    if not isinstance(tags, dict):
        raise WireFormatError("source.tags must be an object")
    path = raw.get("path")
    return Source(
        id=raw["id"],
        kind=raw["kind"],
        host=str(raw.get("host", "")),
        collector=str(raw.get("collector", "")),
        path=path if isinstance(path, str) else None,
        tags={str(k): str(v) for k, v in tags.items()},
    )


def _decode_entry(raw: Any) -> Entry:
    if not isinstance(raw, list) or not 3 <= len(raw) <= 5:
        raise WireFormatError("an entry must be [seq, time_ns, message, flags?, attrs?]")
    seq, time_ns, message = raw[0], raw[1], raw[2]
    if type(seq) is not int or type(time_ns) is not int or not isinstance(message, str):
        raise WireFormatError("entry fields must be [int, int, string]")
    flags: tuple[str, ...] = ()
    if len(raw) >= 4:
        if type(raw[3]) is not list or not all(type(f) is str for f in raw[3]):
            raise WireFormatError("entry flags must be a list of strings")
        flags = tuple(raw[3])
    attrs = None
    if len(raw) == 5:
        attrs = raw[4]
        if type(attrs) is not dict or not all(type(v) in _ATTR_TYPES and k for k, v in attrs.items()):
            raise WireFormatError("entry attrs must be an object of non-empty keys to strings, numbers or booleans")
    return Entry(seq, time_ns, message, flags, attrs)


class _Record(msgspec.Struct):
    v: Any
    source: Any
    entries: Annotated[list[Entry], msgspec.Meta(min_length=1)]


_record_decoder = msgspec.json.Decoder(_Record)


def _decode_logjet(value: bytes) -> Batch:
    try:
        record = _record_decoder.decode(value)
    except msgspec.DecodeError:
        # Rare: let the checks below name what is wrong, with the same words for every way of being wrong.
        return _decode_logjet_checked(value)
    if record.v != VERSION:
        raise WireFormatError(f"unsupported wire version in value: {record.v!r}")
    return Batch(_decode_source(record.source), record.entries)


def _decode_logjet_checked(value: bytes) -> Batch:
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise WireFormatError(f"value is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise WireFormatError("value must be a JSON object")
    if doc.get("v") != VERSION:
        raise WireFormatError(f"unsupported wire version in value: {doc.get('v')!r}")
    entries = doc.get("entries")
    if not isinstance(entries, list) or not entries:
        raise WireFormatError("entries must be a non-empty list")
    return Batch(_decode_source(doc.get("source")), [_decode_entry(e) for e in entries])


def foreign_source_id(topic: str, partition: int, topic_id: str = "") -> str:
    """The source id of a third-party record: its topic, the topic's id (when the broker has topic ids) and its
    partition; the offset is the seq."""
    return f"kafka/{topic}/{topic_id}/{partition}" if topic_id else f"kafka/{topic}/{partition}"


def _decode_foreign(value: bytes, topic: str, partition: int, offset: int, timestamp_ms: int,
                    topic_id: str) -> Batch:
    try:
        text = value.decode("utf-8")
        flags: tuple[str, ...] = ()
    except UnicodeDecodeError:
        text = value.decode("utf-8", errors="replace")
        flags = (FLAG_INVALID_UTF8,)
    if text.endswith("\n"):
        text = text[:-1].rstrip("\r")
    source = Source(id=foreign_source_id(topic, partition, topic_id), kind="kafka")
    return Batch(source, [Entry(offset, timestamp_ms * 1_000_000, text, flags)])


def decode_record(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int,
    topic_id: str = "",
) -> Batch:
    """Decode one Kafka record, logjet's own or a third party's, into a batch of entries.

    ``topic_id`` is the id of the record's topic (a Kafka topic UUID), part of a third-party record's identity.

    Raises ``WireFormatError`` for a record that claims the logjet format but breaks it.
    """
    version = _header(headers, HEADER_VERSION)
    if version is None:
        return _decode_foreign(value or b"", topic, partition, offset, timestamp_ms, topic_id)
    if version != str(VERSION).encode():
        raise WireFormatError(f"unsupported wire version in header: {version!r}")
    if not value:
        raise WireFormatError("empty value")
    return _decode_logjet(value)

"""Map a decoded entry and its parse to an Elastic Common Schema document.

``@timestamp`` is the source's own time when the line has one, the collector's otherwise, with nanosecond
precision kept (the index maps it as ``date_nanos``). ``event.id`` is the entry's stable identity, also used as the
document ``_id``, so a replayed entry is recognised.

Trust: what the source carries (host, agent, file path, and ``Source.tags``: the collector's container and pod tags,
the operator's tags) is written first and is never overwritten. What an entry's content says (its parsers' fields,
a user parser's groups, the entry's attrs) fills only the places left free, and never the scope fields
(``SCOPE_ROOTS``): what it claims there is kept under ``json`` with its dotted key, where no API key's scope looks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from logjet.timeparse import format_ns
from logjet.wire import Entry, Source, entry_id
from processor.parsers import SYSLOG_LEVEL, Parsed

__all__ = ["SCOPE_ROOTS", "source_fields", "to_document"]

# What a source, an entry or a parser may not set: the pipeline's own bookkeeping. Roots are closed as a whole;
# of ``event`` only the identity and the pipeline's times are (event.action, event.dataset... are the line's).
_RESERVED = frozenset(("@timestamp", "message", "data_stream", "logjet", "json", "_id"))
_RESERVED_PATHS = frozenset(("event.id", "event.ingested", "event.created", "event.original", "event.hash"))

# What an API key's scope may match (api/auth.py): set by the collector from the node's own knowledge (the CRI path,
# the container runtime's metadata, the kubelet's labels) or by the operator (an input's tags, as ``labels``), never
# by an entry's content.
SCOPE_ROOTS = frozenset(("kubernetes", "container", "labels"))


def _copy(node: Any) -> Any:
    return {k: _copy(v) for k, v in node.items()} if isinstance(node, dict) else node


def _label(doc: dict[str, Any], key: str, value: Any) -> None:
    doc.setdefault("labels", {})[key.replace(".", "_")] = value


# key -> its path parts, or None when it cannot be nested (goes under ``labels`` for a source, ``json`` for content).
# Keys are mostly the same few ECS paths, so each is split and checked once; the bound keeps arbitrary keys (a user
# function's) from growing the caches without end.
_PATHS: dict[str, tuple[str, ...] | None] = {}
_CONTENT_PATHS: dict[str, tuple[str, ...] | None] = {}
_PATHS_MAX = 4096


def _path(key: str) -> tuple[str, ...] | None:
    parts = key.split(".")
    path = None if (len(parts) == 1 or parts[0] in _RESERVED or key in _RESERVED_PATHS or not all(parts)) \
        else tuple(parts)
    if len(_PATHS) < _PATHS_MAX:
        _PATHS[key] = path
    return path


def _content_path(key: str) -> tuple[str, ...] | None:
    path = _PATHS[key] if key in _PATHS else _path(key)
    if path is not None and path[0] in SCOPE_ROOTS:
        path = None
    if len(_CONTENT_PATHS) < _PATHS_MAX:
        _CONTENT_PATHS[key] = path
    return path


def _merge(doc: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Nest a source's dotted ECS paths into ``doc``; undotted keys, reserved roots and clashes go under ``labels``."""
    paths = _PATHS
    for key, value in fields.items():
        parts = paths[key] if key in paths else _path(key)
        if parts is None:
            _label(doc, key, value)
            continue
        node = doc
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif type(child) is not dict:
                _label(doc, key, value)
                break
            node = child
        else:
            if type(node.get(parts[-1])) is dict:
                _label(doc, key, value)
            else:
                node[parts[-1]] = value


# What content may put at an ECS path: a value every mapping of a field takes (a user function's object or list would
# fail its document on a mapped keyword; it goes under ``json`` instead).
_SCALARS = frozenset((str, int, float, bool, type(None)))


def _merge_content(doc: dict[str, Any], fields: Mapping[str, Any], shared: set[str],
                   claims: dict[str, Any] | None) -> dict[str, Any] | None:
    """Nest what an entry's content says into the places of ``doc`` still free; return what could not be placed
    (a scope field, a field already set, a key that is not an ECS path, a value that is not a scalar), for ``json``."""
    paths = _CONTENT_PATHS
    scalars = _SCALARS
    for key, value in fields.items():
        parts = paths[key] if key in paths else _content_path(key)
        if parts is not None and type(value) in scalars:
            root = parts[0]
            if root in shared:
                doc[root] = _copy(doc[root])
                shared.discard(root)
            node = doc
            for part in parts[:-1]:
                child = node.get(part)
                if child is None:
                    child = node[part] = {}
                elif type(child) is not dict:
                    break
                node = child
            else:
                if parts[-1] not in node:
                    node[parts[-1]] = value
                    continue
        if claims is None:
            claims = {}
        claims[key] = value
    return claims


def source_fields(source: Source) -> dict[str, Any]:
    """What every document of ``source`` carries (host, agent, container, pod, labels, file path), nested once per
    source instead of once per entry."""
    base: dict[str, Any] = {}
    if source.host:
        base["host"] = {"name": source.host}
    if source.collector:
        base["agent"] = {"id": source.collector, "type": "logjet"}
    if source.path:
        base["log"] = {"file": {"path": source.path}}
    if source.tags:
        _merge(base, source.tags)
    return base


# (dataset, namespace) -> the data_stream object every document of that stream carries; shared, never written to
# (data_stream is a reserved root: nothing is merged into it).
_STREAMS: dict[tuple[str, str], dict[str, str]] = {}


def to_document(source: Source, entry: Entry, parsed: Parsed, dataset: str, namespace: str,
                ingested: str, keep_original: bool = False,
                base: dict[str, Any] | None = None,
                ids: Callable[[int], str] | None = None) -> tuple[str, dict[str, Any]]:
    """The document id and the ECS document of one entry; ``base`` is ``source_fields(source)`` and ``ids`` is
    ``entry_ids(source.id)``, both made once per source by the caller (``base`` is never modified here)."""
    if base is None:
        base = source_fields(source)
    seq = entry.seq
    doc_id = ids(seq) if ids is not None else entry_id(source.id, seq)
    level = parsed.level
    attrs = entry.attrs
    if level is None and attrs:  # a syslog message's severity, when its text names no level
        severity = attrs.get("log.syslog.severity.name")
        level = SYSLOG_LEVEL.get(severity) if isinstance(severity, str) else None
    log: dict[str, Any] = {"offset": seq, "level": level} if level else {"offset": seq}
    created = format_ns(entry.time_ns)
    event: dict[str, Any] = {"id": doc_id, "ingested": ingested, "created": created}
    stream = _STREAMS.get((dataset, namespace))
    if stream is None:
        stream = _STREAMS[(dataset, namespace)] = {"type": "logs", "dataset": dataset, "namespace": namespace}
    doc: dict[str, Any] = {
        "@timestamp": format_ns(parsed.time_ns) if parsed.time_ns is not None else created,
        "message": parsed.message,
        "event": event,
        "log": log,
        "data_stream": stream,
        "logjet": {"source": {"id": source.id, "kind": source.kind}, "seq": seq},
    }
    shared: set[str] = set()
    for key, value in base.items():
        if key in doc:  # log, event: this entry's own dicts take the source's keys
            doc[key].update(_copy(value))
        else:
            doc[key] = value
            shared.add(key)
    claims = _merge_content(doc, attrs, shared, None) if attrs else None
    if entry.flags:
        doc["logjet"]["flags"] = list(entry.flags)
    if parsed.fields:
        claims = _merge_content(doc, parsed.fields, shared, claims)
    extra = parsed.json
    if claims:
        if extra is None:
            extra = claims
        else:
            for key, value in claims.items():
                extra.setdefault(key, value)
    if extra:
        doc["json"] = extra
    if keep_original:
        event["original"] = entry.message
    return doc_id, doc

"""Map a decoded entry and its parse to an Elastic Common Schema document.

``@timestamp`` is the source's own time when the line has one, the collector's otherwise, with nanosecond
precision kept (the index maps it as ``date_nanos``). ``event.id`` is the entry's stable identity, also used as the
document ``_id``, so a replayed entry is recognised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logjet.timeparse import format_ns
from logjet.wire import Entry, Source, entry_id
from processor.parsers import SYSLOG_LEVEL, Parsed

__all__ = ["to_document"]

# What a source, an entry or a parser may not set: the pipeline's own bookkeeping. Roots are closed as a whole;
# of ``event`` only the identity and the pipeline's times are (event.action, event.dataset... are the line's).
_RESERVED = frozenset(("@timestamp", "message", "data_stream", "logjet", "_id"))
_RESERVED_PATHS = frozenset(("event.id", "event.ingested", "event.created", "event.original"))


def _merge(doc: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Nest dotted ECS paths into ``doc``; undotted keys, reserved roots and clashes go under ``labels``."""
    for key, value in fields.items():
        parts = key.split(".")
        if len(parts) == 1 or parts[0] in _RESERVED or key in _RESERVED_PATHS or not all(parts):
            doc.setdefault("labels", {})[key.replace(".", "_")] = value
            continue
        node = doc
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                doc.setdefault("labels", {})[key.replace(".", "_")] = value
                break
            node = child
        else:
            if isinstance(node.get(parts[-1]), dict):
                doc.setdefault("labels", {})[key.replace(".", "_")] = value
            else:
                node[parts[-1]] = value


def to_document(source: Source, entry: Entry, parsed: Parsed, dataset: str, namespace: str,
                ingested: str, keep_original: bool = False) -> tuple[str, dict[str, Any]]:
    doc_id = entry_id(source.id, entry.seq)
    log: dict[str, Any] = {"offset": entry.seq}
    level = parsed.level
    if level is None and entry.attrs:  # a syslog message's severity, when its text names no level
        severity = entry.attrs.get("log.syslog.severity.name")
        level = SYSLOG_LEVEL.get(severity) if isinstance(severity, str) else None
    if level:
        log["level"] = level
    if source.path:
        log["file"] = {"path": source.path}
    doc: dict[str, Any] = {
        "@timestamp": format_ns(parsed.time_ns if parsed.time_ns is not None else entry.time_ns),
        "message": parsed.message,
        "event": {"id": doc_id, "ingested": ingested, "created": format_ns(entry.time_ns)},
        "log": log,
        "data_stream": {"type": "logs", "dataset": dataset, "namespace": namespace},
        "logjet": {"source": {"id": source.id, "kind": source.kind}, "seq": entry.seq},
    }
    if source.host:
        doc["host"] = {"name": source.host}
    if source.collector:
        doc["agent"] = {"id": source.collector, "type": "logjet"}
    if source.tags:
        _merge(doc, source.tags)
    if entry.attrs:
        _merge(doc, entry.attrs)
    if entry.flags:
        doc["logjet"]["flags"] = list(entry.flags)
    if parsed.fields:
        _merge(doc, parsed.fields)
    if parsed.json:
        doc["json"] = parsed.json
    if keep_original:
        doc["event"]["original"] = entry.message
    return doc_id, doc

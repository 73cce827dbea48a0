"""Bulk request bodies assembled as bytes, without an intermediate list of Python objects per action."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

__all__ = ["encode_bulk"]


def encode_bulk(docs: Iterable[tuple[str, dict[str, Any]]]) -> tuple[bytes, list[str]]:
    """NDJSON body of ``create`` actions (so a replayed id is refused, not overwritten) and the ids in order."""
    parts: list[bytes] = []
    ids: list[str] = []
    for doc_id, doc in docs:
        parts.append(b'{"create":{"_id":"' + doc_id.encode() + b'"}}\n')
        parts.append(orjson.dumps(doc))
        parts.append(b"\n")
        ids.append(doc_id)
    return b"".join(parts), ids

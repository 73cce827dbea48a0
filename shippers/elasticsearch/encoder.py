"""Bulk request bodies assembled as bytes from documents encoded once, so a retry re-sends bytes, not objects."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

__all__ = ["EncodedDoc", "chunks_by_size", "encode_bulk"]

# (document id, the document as JSON bytes)
EncodedDoc = tuple[str, bytes]
_ACTION_OVERHEAD = len(b'{"create":{"_id":""}}\n\n')


def encode_bulk(docs: Iterable[EncodedDoc]) -> bytes:
    """NDJSON body of ``create`` actions (so a replayed id is refused, not overwritten)."""
    parts: list[bytes] = []
    for doc_id, body in docs:
        parts.append(b'{"create":{"_id":"' + doc_id.encode() + b'"}}\n')
        parts.append(body)
        parts.append(b"\n")
    return b"".join(parts)


def chunks_by_size(positions: Sequence[int], docs: Sequence[EncodedDoc], max_bytes: int,
                   max_docs: int = 1 << 30) -> Iterator[list[int]]:
    """Split ``positions`` into runs whose bulk bodies stay under ``max_bytes`` and ``max_docs`` (a lone larger
    document alone)."""
    chunk: list[int] = []
    size = 0
    for pos in positions:
        n = len(docs[pos][0]) + len(docs[pos][1]) + _ACTION_OVERHEAD
        if chunk and (size + n > max_bytes or len(chunk) >= max_docs):
            yield chunk
            chunk, size = [], 0
        chunk.append(pos)
        size += n
    if chunk:
        yield chunk

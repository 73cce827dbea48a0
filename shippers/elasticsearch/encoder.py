"""Bulk request bodies assembled as bytes from documents encoded once, so a retry re-sends bytes, not objects.

A batch's documents are ``BulkDocs``: their bulk lines (``{"create":{"_id":"<id>"}}\\n<document>\\n`` each) in one
buffer with where each document starts, as the compiled core hands them over. A request for a run of consecutive
documents is one slice of that buffer, and the runs are cut by ``bulk_chunks`` from the offsets by bisection: no
Python work per document on the way to Elasticsearch. Only a retry of scattered failed items joins per-document
slices. Never escapes ids: they are the transform's own (URL-safe base64).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from typing import overload

__all__ = ["BulkDocs", "EncodedDoc", "bulk_chunks", "chunk_limit", "chunks_by_size", "encode_bulk"]

# (document id, the document as JSON bytes)
EncodedDoc = tuple[str, bytes]
_HEAD = b'{"create":{"_id":"'
_TAIL = b'"}}\n'
_ACTION_OVERHEAD = len(_HEAD + _TAIL) + 1  # and the newline after the document


def _action(doc_id: str) -> bytes:
    return _HEAD + doc_id.encode() + _TAIL


def encode_bulk(docs: Iterable[EncodedDoc]) -> bytes:
    """NDJSON body of ``create`` actions (so a replayed id is refused, not overwritten)."""
    parts: list[bytes] = []
    for doc_id, body in docs:
        parts.append(_action(doc_id))
        parts.append(body)
        parts.append(b"\n")
    return b"".join(parts)


class BulkDocs(Sequence[EncodedDoc]):
    """Documents as their bulk lines in one buffer; ``docs[pos]`` gives ``(id, JSON bytes)``, made when asked.

    ``starts`` holds, per document, where its lines start in ``buf``, then the end of the last (``len + 1``
    offsets, non-decreasing); ``bodies``, per document, where its JSON starts.
    """

    __slots__ = ("_bodies", "_buf", "_starts")

    def __init__(self, buf: bytes, starts: array[int], bodies: array[int]) -> None:
        if len(starts) != len(bodies) + 1:
            raise ValueError("starts must hold one offset more than bodies")
        self._buf, self._starts, self._bodies = buf, starts, bodies

    @classmethod
    def of(cls, docs: Iterable[EncodedDoc]) -> BulkDocs:
        """The bulk lines of ``(id, JSON)`` pairs (the Python path's documents)."""
        if isinstance(docs, BulkDocs):
            return docs
        parts: list[bytes] = []
        for doc_id, body in docs:
            parts += (_action(doc_id), body, b"\n")
        # Each document is three parts (action, JSON, newline): it starts where the parts before it end, and its
        # JSON one part later.
        ends = array("Q", accumulate(map(len, parts), initial=0))
        return cls(b"".join(parts), ends[0::3], ends[1::3])

    @classmethod
    def joined(cls, pieces: Iterable[BulkDocs]) -> BulkDocs:
        """The documents of ``pieces``, one after the other (offsets shifted per piece, not per document in Python)."""
        pieces = [p for p in pieces if len(p)]
        if len(pieces) == 1:
            return pieces[0]
        starts, bodies, at = array("Q"), array("Q"), 0
        for p in pieces:
            shift = at - p._starts[0]
            starts.extend(map(shift.__add__, p._starts[:-1]))
            bodies.extend(map(shift.__add__, p._bodies))
            at += p._starts[-1] - p._starts[0]
        starts.append(at)
        return cls(b"".join(p.body(0, len(p)) for p in pieces), starts, bodies)

    def __len__(self) -> int:
        return len(self._bodies)

    @overload
    def __getitem__(self, pos: int) -> EncodedDoc: ...
    @overload
    def __getitem__(self, pos: slice) -> BulkDocs: ...
    def __getitem__(self, pos: int | slice) -> EncodedDoc | BulkDocs:
        if isinstance(pos, slice):
            lo, hi, step = pos.indices(len(self))
            if step != 1:
                return BulkDocs.of(self[i] for i in range(lo, hi, step))
            hi = max(lo, hi)
            return BulkDocs(self._buf, self._starts[lo:hi + 1], self._bodies[lo:hi])
        if pos < 0:
            pos += len(self)
        if not 0 <= pos < len(self):
            raise IndexError(pos)
        start, body, end = self._starts[pos], self._bodies[pos], self._starts[pos + 1]
        return self._buf[start + len(_HEAD):body - len(_TAIL)].decode("ascii"), self._buf[body:end - 1]

    def __setitem__(self, pos: int, doc: EncodedDoc) -> None:
        """Replace one document (rare: the buffer is rebuilt)."""
        docs = list(self)
        docs[pos] = doc
        self._assign(BulkDocs.of(docs))

    def pop(self) -> EncodedDoc:
        """Drop the last document (as ``list.pop``)."""
        last = self[-1]
        self._assign(self[:-1])
        return last

    def _assign(self, other: BulkDocs) -> None:
        self._buf, self._starts, self._bodies = other._buf, other._starts, other._bodies

    @property
    def nbytes(self) -> int:
        """The size of the bulk body of all the documents."""
        return self._starts[-1] - self._starts[0]

    def body(self, lo: int, hi: int) -> bytes:
        """The bulk body of documents ``lo`` to ``hi`` (excluded): one slice of the buffer."""
        start, end = self._starts[lo], self._starts[hi]
        if start == 0 and end == len(self._buf):
            return self._buf
        return self._buf[start:end]

    def lines(self, pos: int) -> bytes:
        """One document's bulk lines."""
        return self._buf[self._starts[pos]:self._starts[pos + 1]]

    def body_of(self, positions: Sequence[int]) -> bytes:
        """The bulk body of ``positions``: a slice for a run of consecutive documents, else the lines joined."""
        if isinstance(positions, range) and positions.step == 1:
            return self.body(positions.start, max(positions.start, positions.stop))
        return b"".join(map(self.lines, positions))

    def chunks(self, max_bytes: int, max_docs: int = 1 << 30) -> list[range]:
        """Consecutive runs of documents whose bulk bodies stay under ``max_bytes`` and ``max_docs`` (a lone larger
        document alone), each as long as the limits allow: one bisection per run."""
        starts, n = self._starts, len(self)
        out: list[range] = []
        lo = 0
        while lo < n:
            cap = min(n, lo + max_docs)
            hi = max(lo + 1, bisect_right(starts, starts[lo] + max_bytes, lo + 1, cap + 1) - 1)
            out.append(range(lo, hi))
            lo = hi
        return out


def chunk_limit(docs: BulkDocs, max_bytes: int, concurrency: int) -> int:
    """The byte limit of one request: ``max_bytes``, or with several requests in flight a large batch spread over
    them (below ~1 MB one request is cheaper than several)."""
    if concurrency <= 1:
        return max_bytes
    return max(1 << 20, min(max_bytes, -(-docs.nbytes // concurrency)))


def bulk_chunks(docs: BulkDocs, max_bytes: int, max_docs: int, concurrency: int = 1) -> Iterator[tuple[range, bytes]]:
    """The requests the shipper sends for ``docs`` first: each run of documents and its bulk body."""
    for run in docs.chunks(chunk_limit(docs, max_bytes, concurrency), max_docs):
        yield run, docs.body(run.start, run.stop)


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


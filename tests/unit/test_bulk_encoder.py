from __future__ import annotations

import os
import subprocess
import sys
from array import array
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shippers.elasticsearch.encoder import BulkDocs, bulk_chunks, chunk_limit, chunks_by_size, encode_bulk

_SIZES = st.lists(st.integers(0, 5000), max_size=60)


def _docs(sizes: list[int]) -> list[tuple[str, bytes]]:
    return [(f"id{i}", b"x" * n) for i, n in enumerate(sizes)]


@given(_SIZES, st.integers(200, 20000), st.integers(1, 70))
def test_chunks_cover_every_document_once_in_order_and_respect_the_limits(sizes: list[int], limit: int,
                                                                          max_docs: int) -> None:
    docs = _docs(sizes)
    chunks = list(chunks_by_size(range(len(docs)), docs, limit, max_docs))
    assert [p for c in chunks for p in c] == list(range(len(docs)))
    for chunk in chunks:
        assert len(chunk) <= max_docs
        body = encode_bulk(docs[p] for p in chunk)
        assert len(body) <= limit or len(chunk) == 1  # only a lone document may exceed it


@given(_SIZES, st.integers(200, 20000), st.integers(1, 70))
def test_bulk_docs_cut_the_same_runs_and_bodies_as_the_per_document_encoder(sizes: list[int], limit: int,
                                                                             max_docs: int) -> None:
    docs = _docs(sizes)
    bulk = BulkDocs.of(docs)
    assert list(bulk) == docs and len(bulk) == len(docs)
    assert bulk.body(0, len(bulk)) == encode_bulk(docs) and bulk.nbytes == len(encode_bulk(docs))
    runs = bulk.chunks(limit, max_docs)
    assert [list(r) for r in runs] == list(chunks_by_size(range(len(docs)), docs, limit, max_docs))
    for run, body in bulk_chunks(bulk, limit, max_docs):
        assert body == encode_bulk(docs[run.start:run.stop]) == bulk.body_of(run)
    scattered = list(range(len(docs)))[::-2]
    assert bulk.body_of(scattered) == encode_bulk(docs[p] for p in scattered)


@given(st.lists(_SIZES, max_size=5), st.data())
def test_slices_and_joins_keep_every_document(groups: list[list[int]], data: st.DataObject) -> None:
    pieces = [BulkDocs.of(_docs(g)) for g in groups]
    joined = BulkDocs.joined(pieces)
    assert list(joined) == [d for g in groups for d in _docs(g)]
    lo = data.draw(st.integers(0, len(joined)))
    hi = data.draw(st.integers(0, len(joined)))
    part = joined[lo:hi]
    assert list(part) == list(joined)[lo:hi]
    assert part.body(0, len(part)) == encode_bulk(list(joined)[lo:hi])
    # A join of slices of one buffer (the transform's splice) shifts their offsets to the new buffer.
    assert list(BulkDocs.joined([joined[:lo], BulkDocs.of([("mid", b"{}")]), joined[lo:]])) == \
        list(joined)[:lo] + [("mid", b"{}")] + list(joined)[lo:]


def test_bulk_body_uses_create_actions() -> None:
    assert encode_bulk([("a", b'{"m":1}'), ("b", b"{}")]) == (
        b'{"create":{"_id":"a"}}\n{"m":1}\n{"create":{"_id":"b"}}\n{}\n')
    bulk = BulkDocs.of([("a", b'{"m":1}'), ("b", b"{}")])
    assert bulk.body(0, 2) == encode_bulk([("a", b'{"m":1}'), ("b", b"{}")])
    assert (bulk[1], bulk[-2], bulk.lines(1)) == (("b", b"{}"), ("a", b'{"m":1}'), b'{"create":{"_id":"b"}}\n{}\n')


def test_the_first_requests_are_slices_of_the_buffer_without_a_copy_for_one_request() -> None:
    bulk = BulkDocs.of(_docs([10] * 100))
    ((run, body),) = bulk_chunks(bulk, 10 << 20, 20_000)
    assert run == range(100) and body is bulk.body(0, 100)  # the whole buffer, the same object
    assert [r for r, _ in bulk_chunks(bulk, 10 << 20, 30)] == [range(0, 30), range(30, 60), range(60, 90),
                                                               range(90, 100)]


def test_concurrency_spreads_a_large_batch_over_the_requests_in_flight() -> None:
    bulk = BulkDocs.of(_docs([1000] * 8000))  # about 8 MB
    limit = -(-bulk.nbytes // 4)
    assert chunk_limit(bulk, 10 << 20, 1) == 10 << 20
    assert chunk_limit(bulk, 10 << 20, 4) == limit
    bodies = [body for _, body in bulk_chunks(bulk, 10 << 20, 20_000, 4)]
    assert len(bodies) in (4, 5) and max(map(len, bodies)) <= limit  # whole documents: the last may spill over
    assert chunk_limit(BulkDocs.of(_docs([10])), 10 << 20, 4) == 1 << 20


def test_pop_and_replace_as_a_list_does() -> None:
    bulk = BulkDocs.of(_docs([1, 2, 3]))
    assert bulk.pop() == ("id2", b"xxx") and len(bulk) == 2
    bulk[0] = ("z", b"{}")
    assert list(bulk) == [("z", b"{}"), ("id1", b"xx")]
    assert bulk.body(0, 2) == encode_bulk([("z", b"{}"), ("id1", b"xx")])


def test_offsets_must_match() -> None:
    try:
        BulkDocs(b"", array("Q"), array("Q"))
    except ValueError:
        return
    raise AssertionError("an empty starts array was accepted")


# A batch's request bodies, cut from its buffer again and again (as the shipper does, batch after batch): the page
# faults that costs, with the worker's memory settings or the C library's defaults.
_FAULTS = """
import resource, sys
from processor.transform import keep_freed_memory
from shippers.elasticsearch.encoder import BulkDocs, bulk_chunks
if sys.argv[1] == "keep" and not keep_freed_memory():
    print("unsupported")
    raise SystemExit
docs = BulkDocs.of((f"id{i}", b"x" * 2000) for i in range(20_000))  # about 40 MB
for _ in bulk_chunks(docs, 8 << 20, 20_000):
    pass
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    for _ in bulk_chunks(docs, 8 << 20, 20_000):
        pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int | None:
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", _FAULTS, mode], cwd=root, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(root)}, timeout=120).stdout.strip()
    return None if out == "unsupported" else int(out)


def test_request_bodies_reuse_the_workers_memory_instead_of_fresh_pages() -> None:
    kept = _faults("keep")
    if kept is None:
        pytest.skip("the C library has no mallopt (not glibc)")
    default = _faults("default")
    pages = 5 * 40_000_000 // os.sysconf("SC_PAGE_SIZE")
    assert default > pages // 4, f"{default} page faults by default: the measurement shows nothing"
    assert kept < pages // 20, f"{kept} page faults for {pages} pages of request bodies"

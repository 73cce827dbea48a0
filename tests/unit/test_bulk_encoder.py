from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shippers.elasticsearch.encoder import chunks_by_size, encode_bulk


@given(st.lists(st.integers(0, 5000), max_size=60), st.integers(200, 20000), st.integers(1, 70))
def test_chunks_cover_every_document_once_in_order_and_respect_the_limits(sizes: list[int], limit: int,
                                                                          max_docs: int) -> None:
    docs = [(f"id{i}", b"x" * n) for i, n in enumerate(sizes)]
    chunks = list(chunks_by_size(range(len(docs)), docs, limit, max_docs))
    assert [p for c in chunks for p in c] == list(range(len(docs)))
    for chunk in chunks:
        assert len(chunk) <= max_docs
        body = encode_bulk(docs[p] for p in chunk)
        assert len(body) <= limit or len(chunk) == 1  # only a lone document may exceed it


def test_bulk_body_uses_create_actions() -> None:
    assert encode_bulk([("a", b'{"m":1}'), ("b", b"{}")]) == (
        b'{"create":{"_id":"a"}}\n{"m":1}\n{"create":{"_id":"b"}}\n{}\n')

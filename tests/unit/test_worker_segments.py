"""Where the worker cuts a batch so that third-party records are decoded with their own topic's id."""

from __future__ import annotations

from dataclasses import dataclass

from processor.transform import content_hash
from processor.worker import Worker


@dataclass
class _Msg:
    t: str
    p: int
    o: int

    def topic(self) -> str:
        return self.t

    def partition(self) -> int:
        return self.p

    def offset(self) -> int:
        return self.o


def _worker() -> Worker:
    worker = Worker.__new__(Worker)  # only the offset bookkeeping: no Kafka, no Elasticsearch
    worker._last_offset = {}
    return worker


def test_a_partition_going_backwards_starts_a_new_part_whose_ids_are_read_again() -> None:
    worker = _worker()
    first = [_Msg("t", 0, 5), _Msg("t", 1, 7), _Msg("t", 0, 6)]
    assert worker._segments(first) == [(first, set())]
    # partition 0 starts again from 0 (the topic was deleted and created again); partition 1 goes on
    second = [_Msg("t", 1, 8), _Msg("t", 0, 0), _Msg("t", 1, 9), _Msg("t", 0, 1)]
    assert worker._segments(second) == [(second[:1], set()), (second[1:], {("t", 0)})]
    # a second jump back within one batch cuts again
    third = [_Msg("t", 0, 2), _Msg("t", 0, 0)]
    assert worker._segments(third) == [(third[:1], set()), (third[1:], {("t", 0)})]


def test_the_content_hash_is_the_text_s_alone() -> None:
    assert content_hash("payment 1 accepted") == content_hash("payment 1 accepted")
    assert content_hash("payment 1 accepted") != content_hash("payment 2 declined")
    assert len(content_hash("")) == 16
    assert content_hash("lone \ud800 surrogate")  # hashed, not raised: the encoder decides what becomes of it

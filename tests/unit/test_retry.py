from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shippers.elasticsearch.retry import backoff, retriable_status


@given(st.integers(0, 10_000), st.floats(0.01, 60))
def test_backoff_is_capped_and_non_negative(attempt: int, cap: float) -> None:
    assert 0 <= backoff(attempt, cap) <= cap


def test_only_pushback_and_server_errors_are_retried() -> None:
    assert [s for s in (200, 201, 400, 404, 409, 413, 429, 500, 503) if retriable_status(s)] == [429, 500, 503]

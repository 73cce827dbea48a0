from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shippers.elasticsearch.retry import backoff, retriable_status, retry_cause


@given(st.integers(0, 10_000), st.floats(0.01, 60))
def test_backoff_is_capped_and_non_negative(attempt: int, cap: float) -> None:
    assert 0 <= backoff(attempt, cap) <= cap


def test_pushback_server_errors_and_the_clusters_state_are_retried_the_documents_faults_are_not() -> None:
    statuses = (200, 201, 400, 401, 403, 404, 409, 413, 429, 500, 503)
    assert [s for s in statuses if retriable_status(s)] == [401, 403, 404, 429, 500, 503]
    # 403 (a write block, no privilege) and 404 (no data stream) name their cause in the retry metric
    assert [retry_cause(s) for s in (403, 404, 429, 503, 400)] == ["forbidden", "not_found", "pushback",
                                                                     "server_error", None]

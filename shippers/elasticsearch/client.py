"""Build the official Elasticsearch client; ``elasticsearch.options`` pass through untouched.

With several URLs the client's node pool rotates requests over them and sends a request that got no answer
(connection refused, reset, timed out connecting) to the next node, up to ``elasticsearch.max_retries`` times,
keeping a failed node aside for a growing back-off: a cluster keeps serving while one of its nodes is down.
"""

from __future__ import annotations

from elasticsearch import Elasticsearch

from logjet.config import ElasticsearchSettings
from logjet.errors import ConfigError

__all__ = ["make_client"]


def make_client(settings: ElasticsearchSettings) -> Elasticsearch:
    try:
        kwargs = {"request_timeout": settings.request_timeout_s, "max_retries": settings.max_retries,
                  # Connection errors only: a request that reached a node and timed out may have been applied, and
                  # the bulk shipper decides itself what to send again.
                  "retry_on_timeout": False, **settings.options}
        return Elasticsearch(settings.hosts, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid Elasticsearch client configuration (elasticsearch.options): {exc}") from exc

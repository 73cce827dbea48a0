"""Build the official Elasticsearch client; ``elasticsearch.options`` pass through untouched.

With several URLs the client's node pool rotates requests over them and sends a request that got no answer
(connection refused, reset, timed out connecting) to the next node, up to ``elasticsearch.max_retries`` times,
keeping a failed node aside for a growing back-off: a cluster keeps serving while one of its nodes is down.
``on_node_failure`` hears of each such failure with the node's URL (the processor counts them per node): the
client's node pool is the one place that knows which node failed, since the request itself succeeds elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from elastic_transport import BaseNode, NodePool
from elasticsearch import Elasticsearch

from logjet.config import ElasticsearchSettings
from logjet.errors import ConfigError

__all__ = ["make_client"]


def _reporting_pool(on_node_failure: Callable[[str], None]) -> type[NodePool]:
    class ReportingNodePool(NodePool):
        def mark_dead(self, node: BaseNode, _now: float | None = None) -> None:
            super().mark_dead(node, _now)
            on_node_failure(node.base_url)

    return ReportingNodePool


def make_client(settings: ElasticsearchSettings,
                on_node_failure: Callable[[str], None] | None = None) -> Elasticsearch:
    try:
        kwargs: dict[str, Any] = {"request_timeout": settings.request_timeout_s, "max_retries": settings.max_retries,
                  # Connection errors only: a request that reached a node and timed out may have been applied, and
                  # the bulk shipper decides itself what to send again.
                  "retry_on_timeout": False, **settings.options}
        if on_node_failure is not None:
            kwargs["node_pool_class"] = _reporting_pool(on_node_failure)
        return Elasticsearch(settings.hosts, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid Elasticsearch client configuration (elasticsearch.options): {exc}") from exc

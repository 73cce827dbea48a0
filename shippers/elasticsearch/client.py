"""Build the official Elasticsearch client; ``elasticsearch.options`` pass through untouched."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from logjet.config import ElasticsearchSettings
from logjet.errors import ConfigError

__all__ = ["make_client"]


def make_client(settings: ElasticsearchSettings) -> Elasticsearch:
    try:
        return Elasticsearch(settings.hosts, request_timeout=settings.request_timeout_s, **settings.options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid Elasticsearch client configuration (elasticsearch.options): {exc}") from exc

"""The composable index template behind logjet's data streams, installed idempotently at start-up."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from logjet.config import ElasticsearchSettings
from logjet.errors import ConfigError, ElasticsearchUnavailable

__all__ = ["install_template", "template_body"]

_KEYWORD = {"type": "keyword", "ignore_above": 1024}


def template_body(settings: ElasticsearchSettings) -> dict[str, Any]:
    return {
        "index_patterns": [settings.index_pattern],
        "data_stream": {},
        # Above the built-in logs-*-* template of clusters that have one.
        "priority": 200,
        "template": {
            "settings": {"index": {"number_of_replicas": 0, "refresh_interval": "1s"}},
            "mappings": {
                "dynamic_templates": [{"strings_as_keyword": {"match_mapping_type": "string", "mapping": _KEYWORD}}],
                "properties": {
                    "@timestamp": {"type": "date_nanos"},
                    "message": {"type": "text"},
                    "event": {"properties": {"id": {"type": "keyword"}, "ingested": {"type": "date_nanos"},
                                             "created": {"type": "date_nanos"}}},
                    "log": {"properties": {"level": {"type": "keyword"}, "offset": {"type": "long"},
                                           "file": {"properties": {"path": {"type": "keyword"}}}}},
                    "host": {"properties": {"name": {"type": "keyword"}}},
                    "source": {"properties": {"ip": {"type": "ip"}, "port": {"type": "long"}}},
                    "data_stream": {"properties": {"type": {"type": "keyword"},
                                                   "dataset": {"type": "keyword"},
                                                   "namespace": {"type": "keyword"}}},
                },
            },
        },
        "_meta": {"managed_by": "logjet"},
    }


def install_template(client: Elasticsearch, settings: ElasticsearchSettings) -> None:
    name = f"logjet-logs-{settings.dataset}"
    try:
        client.indices.put_index_template(name=name, **template_body(settings))
    except ApiError as exc:
        if exc.status_code in (400, 404):
            raise ConfigError(f"Elasticsearch refused the index template {name}: {exc.message}") from exc
        raise ElasticsearchUnavailable(f"installing the index template {name} failed: {exc}") from exc
    except TransportError as exc:
        raise ElasticsearchUnavailable(f"Elasticsearch unreachable at {settings.url}: {exc}") from exc

"""The composable index template behind logjet's data streams, installed idempotently at start-up."""

from __future__ import annotations

from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from logjet.config import ElasticsearchSettings, redact_url
from logjet.errors import ConfigError, ElasticsearchUnavailable

__all__ = ["install_template", "template_body"]

_KEYWORD = {"type": "keyword", "ignore_above": 1024}


def template_body(settings: ElasticsearchSettings) -> dict[str, Any]:
    # Unset, replicas follow the cluster: one as soon as a second data node can hold it.
    replicas = {"auto_expand_replicas": "0-1"} if settings.replicas is None else {
        "number_of_replicas": settings.replicas}
    index: dict[str, Any] = {**replicas, "refresh_interval": "1s", "mapping": _MAPPING_LIMITS}
    template: dict[str, Any] = {"settings": {"index": index}, "mappings": _mappings()}
    if settings.ilm_policy:
        index["lifecycle"] = {"name": settings.ilm_policy}
        # The data stream lifecycle would otherwise compete with ILM for the backing indices.
        template["lifecycle"] = {"enabled": False}
    elif settings.retention:
        template["lifecycle"] = {"data_retention": settings.retention}
    else:
        template["lifecycle"] = {}
    return {
        "index_patterns": [settings.index_pattern],
        "data_stream": {},
        # Above the built-in logs-*-* template of clusters that have one.
        "priority": 200,
        "template": template,
        "_meta": {"managed_by": "logjet"},
    }


# Past the field limit (1,000 by default), a new field that some document brings is left unmapped (kept in _source)
# instead of failing that document and every later one with a new field, whoever wrote them.
_MAPPING_LIMITS = {"total_fields": {"ignore_dynamic_beyond_limit": True}}
_LONG = {"type": "long"}


def _keywords(*names: str) -> dict[str, Any]:
    return {"properties": {name: _KEYWORD for name in names}}


def _mappings() -> dict[str, Any]:
    # Every field a built-in parser or the collector writes is mapped here, so no document decides a type for the
    # others (after each rollover, the first document to bring a dynamic field would). What content invents goes
    # under ``json``: one flattened field, every leaf a keyword, however many keys and whatever their types.
    return {
        "date_detection": False,  # a string that looks like a date must not make its field a date for everyone
        "dynamic_templates": [{"strings_as_keyword": {"match_mapping_type": "string", "mapping": _KEYWORD}}],
        "properties": {
            "@timestamp": {"type": "date_nanos"},
            "message": {"type": "text"},
            "event": {"properties": {"id": {"type": "keyword"}, "ingested": {"type": "date_nanos"},
                                     "created": {"type": "date_nanos"},
                                     "original": {"type": "keyword", "index": False, "doc_values": False},
                                     "hash": {"type": "keyword", "index": False}}},
            "log": {"properties": {"level": {"type": "keyword"}, "offset": _LONG, "logger": _KEYWORD,
                                   "iostream": _KEYWORD, "flags": _KEYWORD,
                                   "file": {"properties": {"path": {"type": "keyword"}}},
                                   "origin": {"properties": {"function": _KEYWORD,
                                                             "file": {"properties": {"name": _KEYWORD,
                                                                                     "line": _LONG}}}}}},
            "host": {"properties": {"name": {"type": "keyword"}, "hostname": _KEYWORD}},
            "source": {"properties": {"ip": {"type": "ip"}, "port": _LONG, "address": _KEYWORD}},
            "process": {"properties": {"pid": _LONG, "name": _KEYWORD,
                                       "thread": {"properties": {"id": _LONG, "name": _KEYWORD}}}},
            "http": {"properties": {"response": {"properties": {"status_code": _LONG,
                                                                "body": {"properties": {"bytes": _LONG}}}}}},
            # The fields an ECS-aware logger's JSON may set (processor/parsers: only these, only of these types).
            "service": {"properties": {**_keywords("name", "version", "environment", "id", "type")["properties"],
                                       "node": _keywords("name")}},
            "trace": _keywords("id"),
            "span": _keywords("id"),
            "transaction": _keywords("id"),
            "error": _keywords("message", "type", "code", "id", "stack_trace"),
            # Scope fields (api/auth.py): set by the collector and the operator only.
            "kubernetes": {"properties": {"namespace": _KEYWORD,
                                          "pod": _keywords("name", "uid"), "container": _keywords("name")}},
            "container": {"properties": {**_keywords("id", "name", "runtime")["properties"],
                                         "image": _keywords("name")}},
            "json": {"type": "flattened", "ignore_above": 1024},
            # The pipeline's own fields: a line's source and place in it (what a line's context is read by), its flags
            # and its pattern (processor/patterns.py: the template is at most a line's first 1,024 characters).
            "logjet": {"properties": {"source": _keywords("id", "kind"), "seq": _LONG, "flags": _KEYWORD,
                                      "pattern": {"properties": {"id": _KEYWORD,
                                                                 "template": {"type": "keyword",
                                                                              "ignore_above": 2048}}}}},
            "data_stream": {"properties": {"type": {"type": "keyword"},
                                           "dataset": {"type": "keyword"},
                                           "namespace": {"type": "keyword"}}},
        },
    }


def _install_ilm_policy(client: Elasticsearch, settings: ElasticsearchSettings) -> None:
    try:
        client.perform_request("GET", "/_ilm/status", headers={"accept": "application/json"})
    except ApiError as exc:
        if exc.status_code not in (400, 404, 405):
            raise
        raise ConfigError(f"elasticsearch.ilm_policy is set but the cluster at {redact_url(settings.url)} has no ILM "
                          f"(X-Pack): GET /_ilm/status answered {exc.status_code}. Unset ilm_policy to use the data "
                          "stream lifecycle (elasticsearch.retention) instead.") from exc
    phases: dict[str, Any] = {"hot": {"actions": {"rollover": {"max_primary_shard_size": settings.ilm_rollover_max_size,
                                                               "max_age": settings.ilm_rollover_max_age}}}}
    if settings.retention:
        phases["delete"] = {"min_age": settings.retention, "actions": {"delete": {}}}
    client.perform_request("PUT", f"/_ilm/policy/{settings.ilm_policy}", body={"policy": {"phases": phases}},
                           headers={"accept": "application/json", "content-type": "application/json"})


def install_template(client: Elasticsearch, settings: ElasticsearchSettings) -> None:
    """Install the index template (and the ILM policy, when one is asked for); idempotent.

    Raises ``ConfigError`` for what retrying cannot fix (a refused template, ILM asked of a cluster without it).
    """
    name = f"logjet-logs-{settings.dataset}"
    try:
        if settings.ilm_policy:
            _install_ilm_policy(client, settings)
        client.indices.put_index_template(name=name, **template_body(settings))
    except ApiError as exc:
        if exc.status_code in (400, 404):
            raise ConfigError(f"Elasticsearch refused the index template {name}: {exc.message}") from exc
        raise ElasticsearchUnavailable(f"installing the index template {name} failed: {exc}") from exc
    except TransportError as exc:
        raise ElasticsearchUnavailable(
            f"Elasticsearch unreachable at {redact_url(settings.url)}: {redact_url(str(exc))}") from exc

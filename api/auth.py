"""API keys: bearer tokens checked against SHA-256 hashes in constant time, and the scope each key imposes.

The scope is a filter the server adds to every search, tail and aggregation, whatever the client sends. It matches only
fields that the collector or the operator set and a log line cannot (``processor.ecs.SCOPE_ROOTS``): a key sees the
documents whose ``kubernetes.namespace`` is one of its namespaces, or whose namespace and ``service.name`` are one of
its (namespace, service) pairs, or whose ``labels.<name>`` / ``container.labels.<name>`` hold one of its values; and
nothing else. A service name is never enough on its own: any line can write one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from logjet.config import ApiKey, ApiSettings

__all__ = ["Caller", "authenticate", "new_key"]


@dataclass(frozen=True)
class Caller:
    name: str
    all_logs: bool
    namespaces: tuple[str, ...] = ()
    services: tuple[tuple[str, str], ...] = ()  # (kubernetes.namespace, service.name)
    labels: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (labels.<name> or container.labels.<name>, values)

    def scope_filter(self) -> dict[str, Any] | None:
        """The Elasticsearch filter of what this caller may read; None for all."""
        if self.all_logs:
            return None
        should: list[dict[str, Any]] = []
        if self.namespaces:
            should.append({"terms": {"kubernetes.namespace": list(self.namespaces)}})
        by_namespace: dict[str, list[str]] = {}
        for namespace, service in self.services:
            by_namespace.setdefault(namespace, []).append(service)
        for namespace, services in by_namespace.items():
            should.append({"bool": {"filter": [{"term": {"kubernetes.namespace": namespace}},
                                               {"terms": {"service.name": services}}]}})
        for field, values in self.labels:
            should.append({"terms": {field: list(values)}})
        return {"bool": {"should": should, "minimum_should_match": 1}}

    def may_ask_for(self, namespace: str | None, service: str | None) -> bool:
        """Whether explicit filters stay inside the scope (outside it is a 403, not an empty page)."""
        if self.all_logs or self.labels:  # a label scope spans namespaces and services: a filter only narrows it
            return True
        if namespace is not None and namespace not in self.namespaces:
            if service is None:
                return any(ns == namespace for ns, _ in self.services)
            return (namespace, service) in self.services
        if service is not None and not self.namespaces:
            return any(name == service for _, name in self.services)
        return True


OPEN = Caller("open-demo", all_logs=True)


def _from_key(key: ApiKey) -> Caller:
    services = tuple((ns, name) for ns, _, name in (s.partition("/") for s in key.services))
    labels = tuple((f"labels.{name}", tuple(values)) for name, values in key.labels.items()) + tuple(
        # The collector writes a container label's dots as "_" (metadata.py): the same name here.
        (f"container.labels.{name.replace('.', '_')}", tuple(values)) for name, values in key.container_labels.items())
    return Caller(key.name, key.all_logs, tuple(key.namespaces), services, labels)


def authenticate(settings: ApiSettings, authorization: str | None) -> Caller | None:
    """The caller an ``Authorization: Bearer <token>`` header names, or None."""
    if settings.open_demo:
        return OPEN
    if not authorization or not authorization.startswith("Bearer "):
        return None
    digest = hashlib.sha256(authorization[7:].strip().encode()).hexdigest()
    found = None
    for key in settings.keys:  # every key is compared, so the time taken does not tell which one was close
        if hmac.compare_digest(digest, key.sha256):
            found = key
    return _from_key(found) if found is not None else None


def new_key() -> tuple[str, str]:
    """A new random token and the SHA-256 to put in the configuration."""
    token = "lj_" + secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest()

"""API keys: bearer tokens checked against SHA-256 hashes in constant time, and the scope each key imposes.

The scope is a filter the server adds to every search, tail and aggregation, whatever the client sends: a key scoped
to namespaces N and services S sees the documents whose ``kubernetes.namespace`` is in N or whose ``service.name``
is in S, and nothing else.
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
    services: tuple[str, ...] = ()

    def scope_filter(self) -> dict[str, Any] | None:
        """The Elasticsearch filter of what this caller may read; None for all."""
        if self.all_logs:
            return None
        should: list[dict[str, Any]] = []
        if self.namespaces:
            should.append({"terms": {"kubernetes.namespace": list(self.namespaces)}})
        if self.services:
            should.append({"terms": {"service.name": list(self.services)}})
        return {"bool": {"should": should, "minimum_should_match": 1}}

    def may_ask_for(self, namespace: str | None, service: str | None) -> bool:
        """Whether explicit filters stay inside the scope (outside it is a 403, not an empty page)."""
        if self.all_logs:
            return True
        if namespace is not None and service is None:
            return namespace in self.namespaces or bool(self.services)
        if service is not None and namespace is None:
            return service in self.services or bool(self.namespaces)
        return True


OPEN = Caller("open-demo", all_logs=True)


def _from_key(key: ApiKey) -> Caller:
    return Caller(key.name, key.all_logs, tuple(key.namespaces), tuple(key.services))


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

"""The one error tree of logjet.

Every exception logjet raises on purpose is a ``LogjetError``; third-party exceptions (confluent-kafka,
elasticsearch, OS errors) are translated where they enter, with ``raise ... from exc`` so the cause stays visible::

    LogjetError
    ├── ConfigError            misconfiguration: a component refuses to start and names the key
    ├── StackError             the local Kafka/Elasticsearch stack could not be resolved, started or stopped
    ├── TransientError         worth retrying with capped, jittered back-off
    │   ├── KafkaUnavailable
    │   └── ElasticsearchUnavailable
    ├── MalformedError         the input itself is bad: dead-letter it with the reason, never retry
    │   └── WireFormatError
    └── FatalError             a peer said something that retrying cannot fix (e.g. a fatal librdkafka error)

This module must never import a third-party client: it is imported by everything.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ElasticsearchUnavailable",
    "FatalError",
    "KafkaUnavailable",
    "LogjetError",
    "MalformedError",
    "StackError",
    "TransientError",
    "WireFormatError",
]


class LogjetError(Exception):
    """Base of every error logjet raises on purpose."""


class ConfigError(LogjetError):
    """A setting is missing, unknown or invalid; the message names it."""


class StackError(LogjetError):
    """The local stack failed; the message says which service and carries the tail of its log."""


class TransientError(LogjetError):
    """A condition that may pass: retry with back-off."""


class KafkaUnavailable(TransientError):
    """Kafka could not be reached or did not answer in time."""


class ElasticsearchUnavailable(TransientError):
    """Elasticsearch could not be reached, answered 429/5xx, or timed out."""


class MalformedError(LogjetError):
    """The input cannot be processed as it is; it goes to the dead-letter place with this reason."""


class WireFormatError(MalformedError):
    """A Kafka record claims the logjet wire format but does not follow it."""


class FatalError(LogjetError):
    """A peer reported an error that no retry can fix; the component stops loudly."""

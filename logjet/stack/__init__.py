"""The local stack: Kafka 4.x (KRaft) and Elasticsearch 8.x as processes, from their Maven Central artifacts."""

from logjet.stack.stack import ServiceStatus, Stack

__all__ = ["ServiceStatus", "Stack"]

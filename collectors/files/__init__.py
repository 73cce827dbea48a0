"""Tail application log files into Kafka with a checkpoint registry that moves only after Kafka acknowledged."""

from collectors.files.collector import FileCollector
from collectors.files.registry import Registry

__all__ = ["FileCollector", "Registry"]

"""Tail files (application logs, and container logs through collectors.containers) with a checkpoint registry
that moves only after Kafka acknowledged."""

from collectors.files.collector import FileCollector, FileSet, file_set
from collectors.files.registry import Registry

__all__ = ["FileCollector", "FileSet", "Registry", "file_set"]

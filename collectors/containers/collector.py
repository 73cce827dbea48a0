"""The container input: Docker json-file and Kubernetes/CRI log files, tailed with their runtime's decoder and
tagged with their container's metadata. It is a set of files to the file collector, so it shares its checkpoint
registry, rotation handling and back-pressure."""

from __future__ import annotations

from pathlib import Path

from collectors.containers.metadata import ContainerMetadata, cri_path_tags
from collectors.containers.parser import CriDecoder, DockerJsonDecoder
from collectors.files.collector import FileSet
from logjet.config import ContainerInputSettings

__all__ = ["container_file_sets"]


def container_file_sets(settings: ContainerInputSettings, max_line_bytes: int) -> list[FileSet]:
    tags = dict(settings.tags)
    sets: list[FileSet] = []
    if settings.docker_root is not None:
        meta = ContainerMetadata(settings.docker_socket)
        sets.append(FileSet(
            "containers", "container", [str(Path(settings.docker_root) / "*" / "*-json.log")], settings.start_at,
            lambda _path: DockerJsonDecoder(max_line_bytes),
            lambda path: {**meta.for_docker_log(path), **tags},
        ))
    if settings.cri_paths:
        sets.append(FileSet(
            "containers", "container", list(settings.cri_paths), settings.start_at,
            lambda _path: CriDecoder(max_line_bytes),
            lambda path: {**cri_path_tags(path), **tags},
        ))
    return sets

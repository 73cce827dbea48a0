"""Tags of a container log file: container id, name, image and labels, and the Kubernetes pod it belongs to.

Docker's metadata comes from ``config.v2.json`` next to the log file, or from the Docker Engine API (docker SDK)
when a socket is configured. Kubernetes names come from the file path (``/var/log/containers/<pod>_<namespace>_
<container>-<id>.log`` or ``/var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log``) and, for Docker, from
the ``io.kubernetes.*`` labels the kubelet sets. Tags are ECS field paths (see docs/wire-format.md).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import orjson

from logjet.errors import ConfigError

__all__ = ["ContainerMetadata", "cri_path_tags", "docker_tags"]

log = logging.getLogger("logjet.collector.containers")

_CRI_LINK = re.compile(r"^(?P<pod>[^_/]+)_(?P<ns>[^_/]+)_(?P<container>.+)-(?P<id>[0-9a-f]{64})\.log$")
_PODS_DIR = re.compile(r"/(?P<ns>[^_/]+)_(?P<pod>[^_/]+)_(?P<uid>[^_/]+)/(?P<container>[^/]+)/[^/]+\.log$")
_K8S_LABELS = {
    "io.kubernetes.pod.namespace": "kubernetes.namespace",
    "io.kubernetes.pod.name": "kubernetes.pod.name",
    "io.kubernetes.pod.uid": "kubernetes.pod.uid",
    "io.kubernetes.container.name": "kubernetes.container.name",
}


def _dedot(key: str) -> str:
    # Label names are full of dots (com.docker.compose.project): as field paths they would become objects.
    return key.replace(".", "_")


def cri_path_tags(path: str) -> dict[str, str]:
    """Kubernetes names and the container id from a CRI log path (the symlink or its target)."""
    tags: dict[str, str] = {"container.runtime": "cri"}
    m = _CRI_LINK.match(os.path.basename(path))
    if m:
        tags.update({"kubernetes.pod.name": m["pod"], "kubernetes.namespace": m["ns"],
                     "kubernetes.container.name": m["container"], "container.id": m["id"]})
        target = os.path.realpath(path)
    else:
        target = path
    m2 = _PODS_DIR.search(target)
    if m2:
        tags.setdefault("kubernetes.namespace", m2["ns"])
        tags.setdefault("kubernetes.pod.name", m2["pod"])
        tags.setdefault("kubernetes.container.name", m2["container"])
        tags["kubernetes.pod.uid"] = m2["uid"]
    return tags


def docker_tags(container_id: str, attrs: dict[str, Any]) -> dict[str, str]:
    """Tags from a container's inspect document (``config.v2.json`` has the same shape)."""
    config = attrs.get("Config") or {}
    tags = {"container.runtime": "docker", "container.id": str(attrs.get("ID") or attrs.get("Id") or container_id)}
    name = attrs.get("Name")
    if isinstance(name, str) and name:
        tags["container.name"] = name.lstrip("/")
    image = config.get("Image")
    if isinstance(image, str) and image:
        tags["container.image.name"] = image
    labels = config.get("Labels") or {}
    if isinstance(labels, dict):
        for key, value in labels.items():
            tags[f"container.labels.{_dedot(str(key))}"] = str(value)
            if key in _K8S_LABELS:
                tags[_K8S_LABELS[key]] = str(value)
    return tags


class ContainerMetadata:
    """Looks up tags for Docker json-file logs, from the files or from the Engine API."""

    def __init__(self, docker_socket: str | None) -> None:
        self._client = None
        if docker_socket:
            import docker  # the SDK pulls in requests: only loaded when a socket is configured

            try:
                self._client = docker.DockerClient(base_url=docker_socket)
            except docker.errors.DockerException as exc:
                raise ConfigError(f"containers.docker_socket {docker_socket!r} is not usable: {exc}") from exc

    def for_docker_log(self, path: str) -> dict[str, str]:
        directory = os.path.dirname(path)
        container_id = os.path.basename(directory)
        attrs: dict[str, Any] | None = None
        if self._client is not None:
            attrs = self._from_api(container_id)
        if attrs is None:
            attrs = self._from_file(os.path.join(directory, "config.v2.json"))
        return docker_tags(container_id, attrs or {})

    def _from_api(self, container_id: str) -> dict[str, Any] | None:
        import docker

        try:
            return self._client.api.inspect_container(container_id)  # type: ignore[union-attr]
        except (docker.errors.DockerException, OSError) as exc:
            # The container may already be gone; its log is still worth reading, with what the files say.
            log.warning("docker API has no metadata for %s (%s); using config.v2.json", container_id[:12], exc)
            return None

    @staticmethod
    def _from_file(path: str) -> dict[str, Any] | None:
        try:
            with open(path, "rb") as fh:
                doc = orjson.loads(fh.read())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as exc:
            log.warning("cannot read container metadata %s: %s", path, exc)
            return None
        return doc if isinstance(doc, dict) else None

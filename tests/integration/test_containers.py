"""Container logs through the real collector and Kafka: Docker json-file with its metadata and 16 KiB splits,
Kubernetes CRI files through their /var/log/containers symlinks, new containers picked up within about a second,
and removed containers' files closed."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.integration.conftest import logjet_with_config, open_fds, read_topic, wait_for

GOLDEN = Path(__file__).parent.parent / "unit" / "golden" / "containers"
CID = "4f2c0a9d1e7b" + "0" * 52


def _docker_container(root: Path, cid: str, name: str, content: bytes) -> Path:
    d = root / cid
    d.mkdir(parents=True)
    (d / "config.v2.json").write_text(json.dumps({
        "ID": cid, "Name": f"/{name}", "Config": {"Image": "registry.local/shop/web:1.4", "Labels": {
            "com.docker.compose.project": "shop", "io.kubernetes.pod.namespace": "prod"}}}))
    log = d / f"{cid}-json.log"
    log.write_bytes(content)
    return log


def _cri_container(base: Path, ns: str, pod: str, container: str, cid: str, content: bytes) -> Path:
    target = base / "pods" / f"{ns}_{pod}_uid-{cid[:8]}" / container / "0.log"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    link = base / "containers" / f"{pod}_{ns}_{container}-{cid}.log"
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(target)
    return link


def test_docker_and_cri_logs_are_joined_tagged_and_delivered(make_settings, tmp_path: Path) -> None:
    docker_root, k8s = tmp_path / "docker", tmp_path / "k8s"
    _docker_container(docker_root, CID, "web-1", (GOLDEN / "docker-json.log").read_bytes())
    _cri_container(k8s, "shop", "api-7d9", "app", "b" * 64, (GOLDEN / "cri.log").read_bytes())
    settings = make_settings(collector={
        "registry_path": str(tmp_path / "registry.json"),
        "containers": {"docker_root": str(docker_root), "cri_paths": [str(k8s / "containers" / "*.log")]}})
    proc = logjet_with_config("collect", settings=settings, directory=tmp_path)
    try:
        expected_docker = json.loads((GOLDEN / "docker-json.expected.json").read_text())
        expected_cri = json.loads((GOLDEN / "cri.expected.json").read_text())
        got = read_topic(settings, len(expected_docker) + len(expected_cri), timeout=60)
        # A container started later is picked up within about a second.
        started = time.monotonic()
        _cri_container(k8s, "shop", "late-1", "app", "c" * 64, b"2024-05-01T10:11:12Z stdout F late line\n")
        later = read_topic(settings, len(got) + 1, timeout=30)
        assert any(e.message == "late line" for _, e in later)
        print(f"\nnew container's first line in Kafka after {time.monotonic() - started:.2f}s")
        assert time.monotonic() - started < 5
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    docker = [(s, e) for s, e in got if s.tags.get("container.runtime") == "docker"]
    cri = [(s, e) for s, e in got if s.tags.get("container.runtime") == "cri"]
    assert [e.message for _, e in docker] == [x["message"] for x in expected_docker]
    assert [e.message for _, e in cri] == [x["message"] for x in expected_cri]
    source = docker[0][0]
    assert source.kind == "container" and source.host and source.collector
    assert source.tags["container.id"] == CID and source.tags["container.name"] == "web-1"
    assert source.tags["container.image.name"] == "registry.local/shop/web:1.4"
    assert source.tags["container.labels.com_docker_compose_project"] == "shop"
    assert source.tags["kubernetes.namespace"] == "prod"
    assert {e.attrs["log.iostream"] for _, e in docker if e.attrs and "log.iostream" in e.attrs} == {"stdout",
                                                                                                    "stderr"}
    assert len(docker[2][1].message) == 17600  # the 16 KiB split, joined
    cri_source = cri[0][0]
    assert (cri_source.tags["kubernetes.namespace"], cri_source.tags["kubernetes.pod.name"],
            cri_source.tags["kubernetes.container.name"]) == ("shop", "api-7d9", "app")


def test_a_thousand_containers_come_and_go_and_every_descriptor_is_released(make_settings, tmp_path: Path) -> None:
    k8s = tmp_path / "k8s"
    (k8s / "containers").mkdir(parents=True)
    settings = make_settings(collector={
        "registry_path": str(tmp_path / "registry.json"), "max_open_files": 2000,
        "containers": {"docker_root": None, "cri_paths": [str(k8s / "containers" / "*.log")]}})
    proc = logjet_with_config("collect", settings=settings, directory=tmp_path)
    try:
        wait_for(lambda: "collector running" in (tmp_path / "logjet.out").read_text(), 30, "the collector")
        time.sleep(1)
        baseline = open_fds(proc.pid)
        links = [_cri_container(k8s, "load", f"pod{i:04d}", "app", f"{i:064x}",
                                f"2024-05-01T10:11:12Z stdout F container {i} says hi\n".encode())
                 for i in range(1000)]
        got = read_topic(settings, 1000, timeout=120)
        assert {e.message for _, e in got} == {f"container {i} says hi" for i in range(1000)}
        assert open_fds(proc.pid) >= baseline + 900  # they were open at some point
        for link in links:  # the kubelet removes the pods: symlink and log file
            Path(link.resolve()).unlink()
            link.unlink()
        wait_for(lambda: open_fds(proc.pid) <= baseline, 30, "descriptors back to their starting count")
        assert open_fds(proc.pid) == baseline
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.containers.metadata import cri_path_tags, docker_tags
from collectors.containers.parser import CriDecoder, DockerJsonDecoder
from collectors.files.tailer import Line
from logjet.timeparse import format_ns

GOLDEN = Path(__file__).parent / "golden" / "containers"
NOW = 1_700_000_000_000_000_000


def _lines(data: bytes) -> list[Line]:
    out, off = [], 0
    for raw in data.split(b"\n")[:-1]:
        out.append((off, raw, False))
        off += len(raw) + 1
    return out


@pytest.mark.parametrize(("name", "decoder"), [("docker-json", DockerJsonDecoder), ("cri", CriDecoder)])
def test_golden(name: str, decoder: type) -> None:
    lines = _lines((GOLDEN / f"{name}.log").read_bytes())
    expected = json.loads((GOLDEN / f"{name}.expected.json").read_text())
    got = decoder(1 << 20).decode(lines, NOW)
    assert len(got) == len(expected)
    for entry, exp in zip(got, expected, strict=True):
        assert entry.seq == exp["seq"]
        assert entry.message == exp["message"]
        assert list(entry.flags) == exp["flags"]
        assert format_ns(entry.time_ns) == (exp["time"] or format_ns(NOW))
        assert set(entry.attrs or {}) == set(exp["attrs"])
        for key, value in exp["attrs"].items():
            if value is not None:
                assert entry.attrs[key] == value
            else:  # a reason is given, whatever its wording
                assert entry.attrs[key]


def test_split_docker_line_waits_for_its_end_and_holds_the_checkpoint() -> None:
    d = DockerJsonDecoder(1 << 20)
    part = b'{"log":"first half ","stream":"stdout","time":"2024-05-01T10:11:12Z"}'
    assert d.decode([(100, part, False)], NOW) == []
    assert d.pending_offset == 100  # a restart must re-read from the first part
    end = b'{"log":"second half\\n","stream":"stdout","time":"2024-05-01T10:11:13Z"}'
    (entry,) = d.decode([(200, end, False)], NOW)
    assert (entry.seq, entry.message) == (100, "first half second half")
    assert d.pending_offset is None


def test_joined_line_is_bounded_and_flagged() -> None:
    d = CriDecoder(2048)
    lines = [(i * 2000, b"2024-05-01T10:11:12Z stdout P " + b"x" * 1500, False) for i in range(10)]
    lines.append((20000, b"2024-05-01T10:11:12Z stdout F end", False))
    (entry,) = d.decode(lines, NOW)
    assert len(entry.message) == 2048 and entry.flags == ("truncated",) and entry.seq == 0


def test_cri_streams_are_never_mixed() -> None:
    d = CriDecoder(1 << 20)
    ts = b"2024-05-01T10:11:12Z "
    got = d.decode([(0, ts + b"stdout P out-a ", False), (50, ts + b"stderr P err-a ", False),
                    (100, ts + b"stderr F err-b", False), (150, ts + b"stdout F out-b", False)], NOW)
    assert [(e.seq, e.message, e.attrs["log.iostream"]) for e in got] == [(50, "err-a err-b", "stderr"),
                                                                    (0, "out-a out-b", "stdout")]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_without_raising(raw: bytes) -> None:
    for decoder in (DockerJsonDecoder(1024), CriDecoder(1024)):
        for entry in decoder.decode([(0, raw.replace(b"\n", b" "), False)], NOW):
            assert isinstance(entry.message, str)


def test_docker_metadata_from_config_v2() -> None:
    doc = {"ID": "abc123", "Name": "/web-1", "Config": {"Image": "nginx:1.25", "Labels": {
        "com.docker.compose.project": "shop", "io.kubernetes.pod.namespace": "prod",
        "io.kubernetes.pod.name": "web-7d9", "io.kubernetes.container.name": "nginx"}}}
    tags = docker_tags("abc123", doc)
    assert tags["container.id"] == "abc123" and tags["container.name"] == "web-1"
    assert tags["container.image.name"] == "nginx:1.25"
    assert tags["container.labels.com_docker_compose_project"] == "shop"
    assert (tags["kubernetes.namespace"], tags["kubernetes.pod.name"], tags["kubernetes.container.name"]) == (
        "prod", "web-7d9", "nginx")


def test_kubernetes_names_from_the_cri_path(tmp_path: Path) -> None:
    cid = "a" * 64
    target = tmp_path / "pods" / "shop_web-7d9_0f1e2d3c" / "nginx" / "0.log"
    target.parent.mkdir(parents=True)
    target.write_text("")
    link = tmp_path / "containers" / f"web-7d9_shop_nginx-{cid}.log"
    link.parent.mkdir()
    link.symlink_to(target)
    tags = cri_path_tags(str(link))
    assert tags == {"container.runtime": "cri", "container.id": cid, "kubernetes.pod.name": "web-7d9",
                    "kubernetes.namespace": "shop", "kubernetes.container.name": "nginx",
                    "kubernetes.pod.uid": "0f1e2d3c"}

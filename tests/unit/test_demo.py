"""The demo of `logjet up` writes what the real runtimes write: the collectors' own decoders read it back whole
(Docker's 16 KiB records and CRI's partial lines joined, stack traces grouped), and its levels fit its messages."""

from __future__ import annotations

import glob
import time

import orjson
import pytest

from cli.demo import BURST_FROM, BURST_TO, CONTAINERS, MULTILINE_START, PODS, DemoSource
from collectors.containers.metadata import ContainerMetadata, cri_path_tags
from collectors.containers.parser import CriDecoder, DockerJsonDecoder
from collectors.files.decoder import MultilineDecoder
from logjet.config import MultilineSettings
from logjet.wire import Entry
from processor.parsers import python_parse_line


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSource:
    source = DemoSource(tmp_path_factory.mktemp("demo"))
    source.start()  # writes the history (one whole cycle), then goes on in a thread
    source.stop()
    return source


def _lines(path: str) -> list[tuple[int, bytes, bool]]:
    out, off = [], 0
    with open(path, "rb") as fh:
        for raw in fh:
            out.append((off, raw.rstrip(b"\n"), False))
            off += len(raw)
    return out


def _decode(decoder: DockerJsonDecoder | CriDecoder | MultilineDecoder, path: str) -> list[Entry]:
    entries = decoder.decode(_lines(path), time.time_ns())
    return entries + decoder.flush(time.monotonic(), force=True)


def test_docker_root_has_each_container_with_its_metadata_and_split_long_lines(demo: DemoSource) -> None:
    logs = sorted(glob.glob(str(demo.docker_root / "*" / "*-json.log")))
    assert len(logs) == len(CONTAINERS)
    names = set()
    for path in logs:
        tags = ContainerMetadata(None).for_docker_log(path)
        names.add(tags["container.name"])
        assert tags["container.image.name"] == CONTAINERS[tags["container.name"]][0]
        assert tags["container.labels.com_example_team"] in ("shop", "payments")
        records = [orjson.loads(raw) for _, raw, _ in _lines(path)]
        entries = _decode(DockerJsonDecoder(256 * 1024), path)
        assert len(entries) == sum(r["log"].endswith("\n") for r in records)
        assert all(not e.flags for e in entries)
        if tags["container.name"] == "shop-checkout":
            # Docker's json-file driver: records of 16 KiB without a newline, then the rest with one.
            assert any(len(r["log"]) == 16 * 1024 and not r["log"].endswith("\n") for r in records)
            long = [e for e in entries if len(e.message) > 16 * 1024]
            assert long and all(orjson.loads(e.message)["msg"].startswith("request body") for e in long)
    assert names == set(CONTAINERS)


def test_pods_tree_has_two_namespaces_and_partial_cri_lines(demo: DemoSource) -> None:
    logs = sorted(glob.glob(demo.cri_glob))
    assert len(logs) == len(PODS)
    assert {cri_path_tags(p)["kubernetes.namespace"] for p in logs} == {"shop", "platform"}
    assert {cri_path_tags(p)["kubernetes.pod.name"] for p in logs} == {pod for _, pod in PODS}
    inventory = next(p for p in logs if "inventory" in p)
    assert any(raw.split(b" ")[2] == b"P" for _, raw, _ in _lines(inventory))
    entries = _decode(CriDecoder(256 * 1024), inventory)
    joined = [e for e in entries if len(e.message) > 16 * 1024]
    assert joined and all(orjson.loads(e.message)["msg"].startswith("query plan") for e in joined)
    assert all(not e.flags for e in entries)


def test_stack_traces_are_one_entry_each_with_multiline(demo: DemoSource) -> None:
    (path,) = glob.glob(demo.app_glob)
    entries = _decode(MultilineDecoder(MultilineSettings(start_pattern=MULTILINE_START)), path)
    traces = [e.message for e in entries if "Exception" in e.message]
    assert traces and all("\n\tat " in t and " ERROR " in t.split("\n")[0] for t in traces)
    assert any("java.lang.NullPointerException" in t for t in traces)
    assert all(e.message[:4].isdigit() for e in entries)


def _parsed(demo: DemoSource) -> list[tuple[str, str | None]]:
    out: list[Entry] = []
    for path in glob.glob(str(demo.docker_root / "*" / "*-json.log")):
        out += _decode(DockerJsonDecoder(256 * 1024), path)
    for path in glob.glob(demo.cri_glob):
        out += _decode(CriDecoder(256 * 1024), path)
    return [(p.message, p.level) for p in (python_parse_line(e.message, time.time_ns()) for e in out)]


def test_levels_fit_the_messages(demo: DemoSource) -> None:
    parsed = _parsed(demo)
    for message, level in parsed:
        if "order placed" in message or "charge authorized" in message:
            assert level == "info", message
        if "gateway error" in message or "checkout failed" in message or "query timeout" in message:
            assert level == "error", message
        if "slow database query" in message:
            assert level == "warn", message
    assert {level for _, level in parsed} >= {"debug", "info", "warn", "error"}


def test_the_error_burst_is_in_the_history(demo: DemoSource) -> None:
    # Seconds since the history began, of each payments error: all inside the burst window.
    path = next(p for p in glob.glob(str(demo.docker_root / "*" / "*-json.log"))
                if ContainerMetadata(None).for_docker_log(p)["container.name"] == "shop-payments")
    start = demo.started - demo.history_s
    errors = [orjson.loads(e.message) for e in _decode(DockerJsonDecoder(256 * 1024), path)
              if '"level":"error"' in e.message]
    assert len(errors) > 50
    for doc in errors:
        t = time.mktime(time.strptime(doc["time"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        assert BURST_FROM - 1 <= t - start < BURST_TO + 1, doc

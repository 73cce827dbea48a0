"""The fault suite's cluster: three Kafka brokers and three Elasticsearch nodes of the local stack, started once for
the suite on their own ports and in a throw-away state directory, and stopped whatever happens.

Every test here is marked ``faults``. Those marked ``faults_extended`` as well (the long rehearsals) run only when
the run selects the suite by marker: ``python -m pytest tests/faults -m faults``; the default run (CI) deselects them.
``FAULTS_OUTAGE_S`` sets how long a killed node stays down (20 s by default; the full rehearsal uses 60).
``FAULTS_STATE_DIR`` keeps the cluster there, running, between runs (``logjet stack down`` with the same settings
stops it). ``FAULTS_RESULTS`` names a directory: the run's figures (per fault: lines, lost, doubled, delay p50/p99,
the metric that moved, duration; the soak's) go to ``faults-<UTC stamp>.json`` there once the suite is done.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from logjet.config import StackSettings

CLUSTER_PORTS = {"kafka_port": 19092, "kafka_controller_port": 19192, "elasticsearch_port": 19200,
                 "elasticsearch_transport_port": 19300}
OUTAGE_S = float(os.environ.get("FAULTS_OUTAGE_S", "20"))
RESULTS_DIR = os.environ.get("FAULTS_RESULTS")
_FAILED: list[str] = []  # the tests of this run that failed, named in the results file


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:  # noqa: ARG001
    outcome = yield
    if outcome.get_result().failed and item.get_closest_marker("faults") is not None:
        _FAILED.append(item.name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    mine = [item for item in items if here in Path(str(item.fspath)).parents]
    for item in mine:
        item.add_marker(pytest.mark.faults)
    if "faults" in (config.option.markexpr or ""):
        return
    extended = [item for item in mine if item.get_closest_marker("faults_extended") is not None]
    if extended:
        config.hook.pytest_deselected(items=extended)
        items[:] = [item for item in items if item not in extended]


def _warm_up(bootstrap: str, timeout: float = 300) -> None:
    """Have the brokers create their consumer offsets topic (50 partitions, 3 replicas each) before the first test
    needs it: on two busy cores that alone can take minutes, which no test's own time should include."""
    import time

    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic("faults-warm-up", 1)])["faults-warm-up"].exception(60)  # exists already: fine
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "faults-warm-up", "log_level": 0})
    consumer.subscribe(["faults-warm-up"])
    deadline = time.monotonic() + timeout
    try:
        while not consumer.assignment():
            assert time.monotonic() < deadline, "the cluster's group coordinator did not answer"
            consumer.poll(0.5)
    finally:
        consumer.close()


# Package scope: the cluster stops once the suite is done, not at the end of the whole run (it would take memory
# and CPU from the integration tests that follow it).
@pytest.fixture(scope="package")
def cluster() -> Iterator:
    from logjet.stack import Stack

    kept = os.environ.get("FAULTS_STATE_DIR")  # a cluster kept between runs while working on the suite
    state = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="logjet-faults-", dir="/tmp"))
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o755)  # the servers' unprivileged user (when run as root) must enter it
    settings = StackSettings(state_dir=state, kafka_brokers=3, elasticsearch_nodes=3, kafka_heap="384m",
                             elasticsearch_heap="512m", **CLUSTER_PORTS)
    stack = Stack(settings)
    try:
        stack.up()
        _warm_up(stack.kafka_bootstrap)
        yield stack
    finally:
        if not kept:
            stack.down()
            shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def conservation(cluster, tmp_path: Path) -> Iterator:  # noqa: ANN001
    from tests.faults.pipeline import Conservation

    check = Conservation(cluster.kafka_bootstrap, cluster.elasticsearch_url, tmp_path)
    try:
        yield check
    finally:
        check.close()
        # A node a failed test left down comes back for the next test.
        for node in (*cluster.kafka_nodes, *cluster.elasticsearch_nodes):
            if node.process.pid() is None:
                cluster.start_node(node.name)


def _commit() -> tuple[str | None, bool]:
    here = Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=here.parent.parent,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None, False
    return head.stdout.strip(), bool(dirty.stdout.strip())


@pytest.fixture(scope="package")
def results(cluster) -> Iterator[dict[str, Any]]:  # noqa: ANN001
    """What each test of the run recorded; written to ``FAULTS_RESULTS`` once the suite is done."""
    started = time.monotonic()
    run: dict[str, Any] = {"kind": "faults", "date": datetime.now(UTC).isoformat(timespec="seconds"),
                           "cluster": {"kafka_brokers": len(cluster.kafka_nodes),
                                       "elasticsearch_nodes": len(cluster.elasticsearch_nodes)},
                           "outage_s": OUTAGE_S,
                           "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
                           "faults": {}}
    yield run
    if not RESULTS_DIR:
        return
    run["commit"], run["uncommitted_changes"] = _commit()
    run["failed"] = sorted(set(_FAILED))
    run["seconds"] = round(time.monotonic() - started, 1)
    directory = Path(RESULTS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"faults-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_bytes(orjson.dumps(run, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"\nfault suite results: {path}")


@pytest.fixture
def record(results: dict[str, Any], conservation, request: pytest.FixtureRequest) -> Callable[..., None]:  # noqa: ANN001
    """Note a fault's figures for the results file: the conservation check's, and the metric an operator would watch
    (its peak before the fault and during it)."""

    def _record(fault: str, result: dict[str, Any], metric: str, before: float, during: float,
                **extra: Any) -> None:
        results["faults"][request.node.name] = {
            "fault": fault, "lines": result["written"], "lost": result["missing"], "doubled": result["doubled"],
            "altered": result["foreign"], "delay_p50_s": result["delay_p50_s"], "delay_p99_s": result["delay_p99_s"],
            "delay_max_s": result["delay_max_s"], "verified_by": result["verified_by"],
            "metric": {"name": metric, "before": before, "during": during, "moved": during > before},
            "duration_s": round(time.monotonic() - conservation.started, 1), **extra}

    return _record

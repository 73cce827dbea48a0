"""The fault suite's cluster: three Kafka brokers and three Elasticsearch nodes of the local stack, started once for
the suite on their own ports and in a throw-away state directory, and stopped whatever happens.

Every test here is marked ``faults``. Those marked ``faults_extended`` as well (the long rehearsals) run only when
the run selects the suite by marker: ``python -m pytest tests/faults -m faults``; the default run (CI) deselects them.
``FAULTS_OUTAGE_S`` sets how long a killed node stays down (20 s by default; the full rehearsal uses 60).
``FAULTS_STATE_DIR`` keeps the cluster there, running, between runs (``logjet stack down`` with the same settings
stops it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from logjet.config import StackSettings

CLUSTER_PORTS = {"kafka_port": 19092, "kafka_controller_port": 19192, "elasticsearch_port": 19200,
                 "elasticsearch_transport_port": 19300}
OUTAGE_S = float(os.environ.get("FAULTS_OUTAGE_S", "20"))


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

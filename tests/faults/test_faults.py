"""Nodes die while logs stream, and every line is indexed exactly once, intact: a broker leading the most partitions
killed, an Elasticsearch node holding the most primaries killed, processor instances scaled up, down and killed
(these three run in CI); rolling restarts of either cluster and a broker cut off (``-m faults`` only). Each also
checks that the metric an operator would look at moved."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest
from confluent_kafka.admin import AdminClient

from tests.faults.conftest import OUTAGE_S
from tests.faults.pipeline import PARTITIONS, Conservation

IN_FLIGHT = "logjet_collector_records_in_flight"
LAG = "logjet_processor_consumer_lag"
RETRIED = "logjet_processor_documents_retried_total"
DUPLICATES = "logjet_processor_duplicates_suppressed_total"


def _leaders(check: Conservation) -> Counter[int]:
    admin = AdminClient({"bootstrap.servers": check.settings.kafka.bootstrap})
    topic = admin.list_topics(check.settings.kafka.topic, timeout=10).topics[check.settings.kafka.topic]
    return Counter(p.leader for p in topic.partitions.values())


def _in_sync(check: Conservation) -> bool:
    admin = AdminClient({"bootstrap.servers": check.settings.kafka.bootstrap})
    topic = admin.list_topics(check.settings.kafka.topic, timeout=10).topics[check.settings.kafka.topic]
    return all(len(p.isrs) == len(p.replicas) == 3 for p in topic.partitions.values())


def _shards(check: Conservation) -> list[dict]:
    return check.es.cat.shards(index=check.settings.elasticsearch.index_pattern, format="json",
                               h="index,shard,prirep,state,node")


def _wait(predicate, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _started(check: Conservation, processors: int) -> None:
    topic = check.create_topics()
    # The brokers' defaults for a topic logjet creates: three copies, two of them to acknowledge a write.
    assert topic == {"replication.factor": "3", "min.insync.replicas": "2"}
    check.start(processors)
    check.wait_indexed(500, 240)


def test_the_broker_leading_most_partitions_killed_and_restarted_loses_and_doubles_nothing(
        cluster, conservation: Conservation) -> None:  # noqa: ANN001
    _started(conservation, processors=2)
    leader, led = _leaders(conservation).most_common(1)[0]
    node = cluster.kafka_nodes[leader - 1]
    time.sleep(3)
    fault_at = time.monotonic()
    cluster.stop_node(node.name, kill=True)
    time.sleep(OUTAGE_S)
    # Its partitions have other leaders, elected from the in-sync replicas: writes and reads went on.
    after = _leaders(conservation)
    assert leader not in after and -1 not in after, after
    written_in_outage = conservation.written
    cluster.start_node(node.name)
    _wait(lambda: _in_sync(conservation), 120, f"{node.name} back in sync")
    result = conservation.check()
    # The collector held the records the dead leader had not acknowledged and sent them again to the new leader.
    before = conservation.peak([conservation.collector], IN_FLIGHT, until=fault_at)
    during = conservation.peak([conservation.collector], IN_FLIGHT, since=fault_at)
    print(f"broker kill: {node.name} led {led}/{PARTITIONS}; {result}; in flight before {before}, during {during}; "
          f"lag peak {conservation.peak(conservation.all_processors(), LAG, since=fault_at)}")
    assert written_in_outage > 0
    assert during > before, (before, during)


def test_the_elasticsearch_node_holding_most_primaries_killed_and_restarted_loses_and_doubles_nothing(
        cluster, conservation: Conservation) -> None:  # noqa: ANN001
    _started(conservation, processors=2)
    # Every shard has its replica on another node (the template's replicas follow the cluster).
    _wait(lambda: all(s["state"] == "STARTED" for s in _shards(conservation))
          and Counter(s["prirep"] for s in _shards(conservation))["r"] >= 1, 60, "replicas assigned")
    shards = _shards(conservation)
    primaries = Counter(s["node"] for s in shards if s["prirep"] == "p")
    node_name, held = primaries.most_common(1)[0]
    node = cluster.elasticsearch_nodes[int(node_name.rsplit("-", 1)[1]) - 1]
    time.sleep(3)
    fault_at = time.monotonic()
    cluster.stop_node(node.name, kill=True)
    time.sleep(OUTAGE_S)
    survivors = [s for s in _shards(conservation) if s["prirep"] == "p"]
    assert survivors and all(s["node"] != node_name and s["state"] == "STARTED" for s in survivors), survivors
    # What the operator sees: the cluster yellow, two nodes, the lost copies unassigned (held for the node's return).
    during = conservation.es.cluster.health()
    cluster.start_node(node.name)
    result = conservation.check()
    _wait(lambda: conservation.es.cluster.health(timeout="5s")["status"] == "green", 120, "green again")
    processors = conservation.all_processors()
    lag_before = conservation.peak(processors, LAG, since=fault_at - 10, until=fault_at)
    lag_during = conservation.peak(processors, LAG, since=fault_at)
    retried = conservation.peak(processors, RETRIED, since=fault_at)
    print(f"es kill: {node.name} held {held} primaries; {result}; health during {during['status']}, "
          f"{during['number_of_nodes']} nodes, {during['unassigned_shards']} unassigned; lag peak before "
          f"{lag_before}, during {lag_during}; bulk items retried {retried}")
    assert during["status"] == "yellow" and during["number_of_nodes"] == 2 and during["unassigned_shards"] >= 1

def test_processors_scaled_from_three_to_five_and_to_two_one_killed_lose_and_double_nothing(
        cluster, conservation: Conservation) -> None:  # noqa: ANN001
    _started(conservation, processors=3)
    for name in ("processor-4", "processor-5"):
        conservation.start_processor(name)
    scaled_at = time.monotonic()
    time.sleep(12)
    five = list(conservation.processors.values())
    # Each of the five reported the lag of the partitions it owns; together they cover the topic.
    assert conservation.partitions_reported(five, since=scaled_at + 8) == {str(p) for p in range(PARTITIONS)}
    killed_at = time.monotonic()
    conservation.stop_processor("processor-1", signal.SIGKILL)
    conservation.stop_processor("processor-2")
    conservation.stop_processor("processor-3")
    time.sleep(15)
    result = conservation.check()
    two = list(conservation.processors.values())
    # The two left took every partition over, the killed one's after its session timed out.
    assert conservation.partitions_reported(two, since=time.monotonic() - 5) == {str(p) for p in range(PARTITIONS)}
    lag_before = conservation.peak(five, LAG, since=scaled_at + 8, until=killed_at)
    lag_after = conservation.peak(two, LAG, since=killed_at)
    print(f"scaling: {result}; lag peak before the kill {lag_before}, after {lag_after}; duplicates suppressed "
          f"{conservation.peak(two, DUPLICATES)}")
    assert lag_after > lag_before


# -- outside CI: `python -m pytest tests/faults -m faults` -----------------------------------------------------
@pytest.mark.faults_extended
def test_a_rolling_restart_of_every_broker_loses_and_doubles_nothing(cluster, conservation: Conservation) -> None:  # noqa: ANN001
    _started(conservation, processors=2)
    for node in cluster.kafka_nodes:
        cluster.stop_node(node.name)  # SIGTERM: a controlled shutdown moves its leaderships first
        cluster.start_node(node.name)
        _wait(lambda: _in_sync(conservation), 120, f"{node.name} back in sync")
    result = conservation.check()
    print(f"rolling brokers: {result}")


@pytest.mark.faults_extended
def test_a_rolling_restart_of_every_elasticsearch_node_loses_and_doubles_nothing(
        cluster, conservation: Conservation) -> None:  # noqa: ANN001
    _started(conservation, processors=2)
    for node in cluster.elasticsearch_nodes:
        cluster.stop_node(node.name)
        cluster.start_node(node.name)
        _wait(lambda: conservation.es.cluster.health(timeout="5s")["status"] == "green", 180,
              f"green after {node.name}")
    result = conservation.check()
    print(f"rolling elasticsearch: {result}")


@pytest.mark.faults_extended
def test_a_broker_cut_off_without_dying_loses_and_doubles_nothing(cluster, conservation: Conservation) -> None:  # noqa: ANN001
    # SIGSTOP stands in for a network cut: its sockets stay open and silent, as behind a dropped route.
    _started(conservation, processors=2)
    leader, _ = _leaders(conservation).most_common(1)[0]
    node = cluster.kafka_nodes[leader - 1]
    pid = node.process.pid()
    assert pid is not None
    fault_at = time.monotonic()
    os.killpg(pid, signal.SIGSTOP)
    try:
        time.sleep(OUTAGE_S)
        assert leader not in _leaders(conservation)
    finally:
        os.killpg(pid, signal.SIGCONT)
    _wait(lambda: _in_sync(conservation), 120, f"{node.name} back in sync")
    result = conservation.check()
    during = conservation.peak([conservation.collector], IN_FLIGHT, since=fault_at)
    print(f"broker cut off: {result}; in flight peak {during}")
    assert during > 0

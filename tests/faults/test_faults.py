"""Nodes die, or fill their disks, while logs stream, and every line is indexed exactly once, intact: a broker
leading the most partitions killed, an Elasticsearch node holding the most primaries killed, processor instances
scaled up, down and killed (these three run in CI); rolling restarts of either cluster, a broker cut off and
Elasticsearch at its flood-stage disk watermark (``-m faults`` only). Each also checks that the metric an operator
would look at moved, and reports every line's delay from its write to its indexing."""

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
NODE_FAILURES = "logjet_processor_es_node_failures_total"
DEAD_LETTERED = "logjet_processor_dead_lettered_total"
FLOOD_S = float(os.environ.get("FAULTS_FLOOD_S", "60"))
_DISK = "cluster.routing.allocation.disk."
_BLOCK = "index.blocks.read_only_allow_delete"


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
        cluster, conservation: Conservation, record) -> None:  # noqa: ANN001
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
    record("1 broker leading the most partitions SIGKILLed, restarted", result, IN_FLIGHT, before, during,
           node=node.name)
    assert written_in_outage > 0
    assert during > before, (before, during)


def test_the_elasticsearch_node_holding_most_primaries_killed_and_restarted_loses_and_doubles_nothing(
        cluster, conservation: Conservation, record) -> None:  # noqa: ANN001
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
    # The request that met the dead node succeeded on another one: only the client's node pool knows, and counts it.
    failures_before = conservation.peak(processors, NODE_FAILURES, until=fault_at, node=node.url)
    failures_during = conservation.peak(processors, NODE_FAILURES, since=fault_at, node=node.url)
    print(f"es kill: {node.name} held {held} primaries; {result}; health during {during['status']}, "
          f"{during['number_of_nodes']} nodes, {during['unassigned_shards']} unassigned; lag peak before "
          f"{lag_before}, during {lag_during}; bulk items retried {retried}; failures of {node.url} "
          f"{failures_before} -> {failures_during}")
    record("3 Elasticsearch node holding the most primaries SIGKILLed, restarted", result, NODE_FAILURES,
           failures_before, failures_during, node=node.name, bulk_items_retried=retried,
           lag_before=lag_before, lag_during=lag_during)
    assert during["status"] == "yellow" and during["number_of_nodes"] == 2 and during["unassigned_shards"] >= 1
    assert failures_during > failures_before, (failures_before, failures_during)


def test_processors_scaled_from_three_to_five_and_to_two_one_killed_lose_and_double_nothing(
        cluster, conservation: Conservation, record) -> None:  # noqa: ANN001
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
    record("5 processors scaled 3 -> 5 -> 2, one SIGKILLed", result, LAG, lag_before, lag_after)
    assert lag_after > lag_before


# -- outside CI: `python -m pytest tests/faults -m faults` -----------------------------------------------------
@pytest.mark.faults_extended
@pytest.mark.timeout(1500)  # a node restarted at a time, each waited for, on busy cores
def test_a_rolling_restart_of_every_broker_loses_and_doubles_nothing(
        cluster, conservation: Conservation, record) -> None:  # noqa: ANN001
    _started(conservation, processors=2)
    fault_at = time.monotonic()
    for node in cluster.kafka_nodes:
        cluster.stop_node(node.name)  # SIGTERM: a controlled shutdown moves its leaderships first
        cluster.start_node(node.name)
        _wait(lambda: _in_sync(conservation), 120, f"{node.name} back in sync")
    result = conservation.check()
    before = conservation.peak([conservation.collector], IN_FLIGHT, until=fault_at)
    during = conservation.peak([conservation.collector], IN_FLIGHT, since=fault_at)
    print(f"rolling brokers: {result}; in flight peak before {before}, during {during}")
    record("2 rolling restart of every broker", result, IN_FLIGHT, before, during)


@pytest.mark.faults_extended
@pytest.mark.timeout(1500)  # a node restarted at a time, each waited for, on busy cores
def test_a_rolling_restart_of_every_elasticsearch_node_loses_and_doubles_nothing(
        cluster, conservation: Conservation, record) -> None:  # noqa: ANN001
    _started(conservation, processors=2)
    fault_at = time.monotonic()
    for node in cluster.elasticsearch_nodes:
        cluster.stop_node(node.name)
        cluster.start_node(node.name)
        _wait(lambda: conservation.es.cluster.health(timeout="5s")["status"] == "green", 180,
              f"green after {node.name}")
    result = conservation.check()
    processors = conservation.all_processors()
    before = conservation.peak(processors, LAG, since=fault_at - 10, until=fault_at)
    during = conservation.peak(processors, LAG, since=fault_at)
    print(f"rolling elasticsearch: {result}; lag peak before {before}, during {during}")
    record("4 rolling restart of every Elasticsearch node", result, LAG, before, during,
           bulk_items_retried=conservation.peak(processors, RETRIED, since=fault_at))


@pytest.mark.faults_extended
@pytest.mark.timeout(1500)  # a node restarted at a time, each waited for, on busy cores
def test_a_broker_cut_off_without_dying_loses_and_doubles_nothing(cluster, conservation: Conservation, record) -> None:  # noqa: ANN001
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
    before = conservation.peak([conservation.collector], IN_FLIGHT, until=fault_at)
    during = conservation.peak([conservation.collector], IN_FLIGHT, since=fault_at)
    print(f"broker cut off: {result}; in flight peak before {before}, during {during}")
    record("6 broker leading the most partitions cut off (SIGSTOP), resumed", result, IN_FLIGHT, before, during,
           node=node.name)
    assert during > 0


def _blocked(check: Conservation) -> bool:
    """Whether a backing index of the test's data stream carries the flood-stage block."""
    found = check.es.indices.get_settings(index=check.settings.elasticsearch.index_pattern, name=_BLOCK,
                                          expand_wildcards="all")
    return any(s["settings"].get("index", {}).get("blocks", {}).get("read_only_allow_delete") == "true"
               for s in found.values())


def _disk_watermarks(check: Conservation, free_bytes: int | None) -> None:
    """The disk thresholds, all three as free bytes (Elasticsearch takes bytes for the three or for none), on the
    fault cluster alone; None: back to its own configuration (thresholds off, as the local stack has them)."""
    value = None if free_bytes is None else f"{free_bytes}b"
    check.es.cluster.put_settings(transient={
        f"{_DISK}threshold_enabled": None if free_bytes is None else True,
        f"{_DISK}watermark.low": value, f"{_DISK}watermark.high": value, f"{_DISK}watermark.flood_stage": value,
        # How often the nodes' disk use is read: the shortest Elasticsearch accepts (30 s by default).
        "cluster.info.update.interval": None if free_bytes is None else "10s"})


@pytest.mark.faults_extended
@pytest.mark.timeout(1500)  # a node restarted at a time, each waited for, on busy cores
def test_elasticsearch_at_its_flood_stage_watermark_for_a_minute_loses_and_doubles_nothing(
        cluster, conservation: Conservation, record) -> None:  # noqa: ANN001
    # The three nodes' data paths share one filesystem here, so a threshold in bytes crosses on all three at once:
    # every index gets the block, as on a cluster where the full node holds a copy of every index. (One node alone
    # would need its data path on a filesystem of its own, a mount that only root may make.)
    check = conservation
    _started(check, processors=2)
    nodes = check.es.nodes.stats(metric="fs")["nodes"].values()
    free = max(n["fs"]["total"]["available_in_bytes"] for n in nodes)
    fault_at = time.monotonic()
    try:
        # Flood stage: less free than asked for. Elasticsearch marks every index with a shard on the node
        # read-only-allow-delete, and bulk items get 429 cluster_block_exception.
        _disk_watermarks(check, free + (64 << 30))
        _wait(lambda: _blocked(check), 90, "the flood-stage block")
        blocked_at = time.monotonic()
        time.sleep(FLOOD_S)
        assert _blocked(check)
        # Disk freed: the thresholds drop under what is free, and Elasticsearch lifts the block on its own.
        _disk_watermarks(check, 1 << 30)
        _wait(lambda: not _blocked(check), 90, "the block lifted")
        lifted_at = time.monotonic()
    finally:
        _disk_watermarks(check, None)
        if _blocked(check):  # a failed test leaves no block for the next one
            check.es.indices.put_settings(index=check.settings.elasticsearch.index_pattern,
                                          settings={_BLOCK: None}, expand_wildcards="all")
    result = check.check()
    processors = check.all_processors()
    before = check.peak(processors, RETRIED, until=fault_at, cause="pushback")
    during = check.peak(processors, RETRIED, since=fault_at, cause="pushback")
    dead = check.peak(processors, DEAD_LETTERED, since=fault_at)
    lag = check.peak(processors, LAG, since=fault_at)
    print(f"flood stage: blocked {lifted_at - blocked_at:.0f}s; {result}; bulk items retried for pushback "
          f"before {before}, during {during}; dead-lettered {dead}; lag peak {lag}")
    record("7 Elasticsearch at its flood-stage disk watermark (every node)", result, f"{RETRIED}{{cause=pushback}}",
           before, during, blocked_s=round(lifted_at - blocked_at, 1), dead_lettered=dead, lag_peak=lag)
    # Retried until the block lifted: neither dead-lettered nor dropped.
    assert during > before
    assert dead == 0

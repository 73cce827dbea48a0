"""The local stack's shape from its settings: one node of each as it always was, or clusters on consecutive ports,
checked without starting anything (the real clusters run in tests/faults)."""

from __future__ import annotations

from pathlib import Path

import pytest

from logjet.config import ElasticsearchSettings, LogjetSettings, StackSettings, load_settings
from logjet.errors import ConfigError, StackError
from logjet.stack import Stack
from shippers.elasticsearch.template import template_body

CLUSTER = {"kafka_brokers": 3, "elasticsearch_nodes": 3, "kafka_port": 19092, "kafka_controller_port": 19192,
           "elasticsearch_port": 19200, "elasticsearch_transport_port": 19300}


def _props(lines: list[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines)


def test_the_default_stack_is_one_node_of_each_with_the_historical_names_ports_and_paths(tmp_path: Path) -> None:
    stack = Stack(StackSettings(state_dir=tmp_path))
    assert [k.name for k in stack.kafka_nodes] == ["kafka"]
    assert [e.name for e in stack.elasticsearch_nodes] == ["elasticsearch"]
    assert stack.kafka_bootstrap == "127.0.0.1:9092" and stack.elasticsearch_url == "http://127.0.0.1:9200"
    kafka, es = stack.kafka, stack.elasticsearch
    assert kafka.home == tmp_path.resolve() / "kafka" and kafka.libs.parent == kafka.home
    assert es.home == tmp_path.resolve() / "elasticsearch" and es.dist.parents[1] == es.home
    props = _props(kafka._properties())
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["offsets.topic.replication.factor"] == "1" and props["min.insync.replicas"] == "1"
    yml = es._yml(es.home / "logs")
    assert "discovery.type: single-node" in yml and "http.port: 9200" in yml and "transport.port: 9300" in yml
    assert stack.node("kafka-1") is kafka and stack.node("elasticsearch") is es


def test_three_brokers_form_a_quorum_of_three_and_replicate_everything_three_times(tmp_path: Path) -> None:
    stack = Stack(StackSettings(state_dir=tmp_path, **CLUSTER))
    assert [k.name for k in stack.kafka_nodes] == ["kafka-1", "kafka-2", "kafka-3"]
    assert stack.kafka_bootstrap == "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
    voters = "1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194"
    for i, broker in enumerate(stack.kafka_nodes, start=1):
        props = _props(broker._properties())
        assert props["node.id"] == str(i) and props["process.roles"] == "broker,controller"
        assert props["controller.quorum.voters"] == voters
        assert props["listeners"] == f"PLAINTEXT://127.0.0.1:{19091 + i},CONTROLLER://127.0.0.1:{19191 + i}"
        for key in ("default.replication.factor", "offsets.topic.replication.factor",
                    "transaction.state.log.replication.factor", "share.coordinator.state.topic.replication.factor"):
            assert props[key] == "3", key
        for key in ("min.insync.replicas", "transaction.state.log.min.isr", "share.coordinator.state.topic.min.isr"):
            assert props[key] == "2", key
        assert props["unclean.leader.election.enable"] == "false"
        assert broker.home == tmp_path.resolve() / f"kafka-{i}"
        assert broker.libs.parent == tmp_path.resolve() / "kafka"  # the jars once, for every broker


def test_brokers_beyond_three_are_brokers_only_and_two_brokers_keep_one_controller(tmp_path: Path) -> None:
    five = Stack(StackSettings(state_dir=tmp_path, **{**CLUSTER, "kafka_brokers": 5}))
    props = _props(five.kafka_nodes[4]._properties())
    assert props["process.roles"] == "broker" and props["listeners"] == "PLAINTEXT://127.0.0.1:19096"
    assert props["controller.quorum.voters"].count("@") == 3
    two = Stack(StackSettings(state_dir=tmp_path, **{**CLUSTER, "kafka_brokers": 2}))
    props = _props(two.kafka_nodes[1]._properties())
    assert props["default.replication.factor"] == "2" and props["min.insync.replicas"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19192" and props["process.roles"] == "broker"


def test_elasticsearch_nodes_find_each_other_and_name_every_initial_master(tmp_path: Path) -> None:
    stack = Stack(StackSettings(state_dir=tmp_path, **CLUSTER))
    assert stack.elasticsearch_url == "http://127.0.0.1:19200,http://127.0.0.1:19201,http://127.0.0.1:19202"
    for i, node in enumerate(stack.elasticsearch_nodes, start=1):
        yml = node._yml(node.home / "logs")
        assert f"node.name: logjet-local-{i}" in yml and f"http.port: {19199 + i}" in yml
        assert f"transport.port: {19299 + i}" in yml
        assert "discovery.seed_hosts: [127.0.0.1:19300, 127.0.0.1:19301, 127.0.0.1:19302]" in yml
        assert "cluster.initial_master_nodes: [logjet-local-1, logjet-local-2, logjet-local-3]" in yml
        assert not any(line.startswith("discovery.type") for line in yml)
        assert node.home == tmp_path.resolve() / f"elasticsearch-{i}"
        assert node.dist == stack.elasticsearch_nodes[0].dist  # one unpacked distribution


def test_nodes_are_found_by_name_and_an_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    stack = Stack(StackSettings(state_dir=tmp_path, **CLUSTER))
    assert stack.node("kafka-2") is stack.kafka_nodes[1]
    assert stack.node("elasticsearch-3") is stack.elasticsearch_nodes[2]
    with pytest.raises(StackError, match="kafka-4.*kafka-1, kafka-2, kafka-3"):
        stack.node("kafka-4")
    with pytest.raises(StackError):
        stack.node("kafka")  # a cluster has no node of the single node's name


def test_sizes_come_from_the_configuration_file_and_the_environment(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "logjet.yaml"
    path.write_text("stack:\n  kafka_brokers: 3\n  kafka_port: 19092\n  kafka_controller_port: 19192\n")
    monkeypatch.setenv("LOGJET_STACK_ELASTICSEARCH_NODES", "2")
    settings = load_settings(path).stack
    assert (settings.kafka_brokers, settings.elasticsearch_nodes) == (3, 2)
    assert (settings.elasticsearch_port, settings.elasticsearch_transport_port) == (9200, 9300)


@pytest.mark.parametrize("values, named", [
    # Three brokers from the default ports: 9092-9094 runs into the controllers' 9093.
    ({"kafka_brokers": 3}, "kafka_port 9092-9094 and kafka_controller_port 9093-9095 overlap"),
    ({"elasticsearch_nodes": 2, "elasticsearch_port": 9299}, "elasticsearch_port 9299-9300 and "
                                                             "elasticsearch_transport_port 9300-9301 overlap"),
    ({"kafka_brokers": 3, "kafka_port": 65534, "kafka_controller_port": 19192}, "kafka_port 65534 leaves no room"),
    ({"kafka_brokers": 0}, "kafka_brokers"),
    ({"elasticsearch_nodes": 17}, "elasticsearch_nodes"),
])
def test_sizes_and_ports_that_cannot_work_are_refused_before_anything_starts(
        tmp_path: Path, values: dict, named: str) -> None:
    import yaml

    path = tmp_path / "logjet.yaml"
    path.write_text(yaml.safe_dump({"stack": values}))
    with pytest.raises(ConfigError, match=named):
        load_settings(path)


def test_replicas_follow_the_cluster_unless_set() -> None:
    auto = template_body(ElasticsearchSettings())["template"]["settings"]["index"]
    assert auto["auto_expand_replicas"] == "0-1" and "number_of_replicas" not in auto
    fixed = template_body(ElasticsearchSettings(replicas=2))["template"]["settings"]["index"]
    assert fixed["number_of_replicas"] == 2 and "auto_expand_replicas" not in fixed


def test_every_node_url_reaches_the_client_with_retries_across_nodes() -> None:
    from shippers.elasticsearch.client import make_client

    settings = LogjetSettings(elasticsearch={"url": "http://127.0.0.1:19200, http://127.0.0.1:19201"}).elasticsearch
    client = make_client(settings)
    try:
        nodes = sorted(n.config.port for n in client.transport.node_pool.all())
        assert nodes == [19200, 19201]
        assert client.transport.max_retries == 3 and client.transport.retry_on_timeout is False
    finally:
        client.close()

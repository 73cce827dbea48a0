"""The rsyslog peer of the benchmarks: every configuration the harness generates is one rsyslogd accepts whole, and
its Kafka producer lives through the run.

rsyslogd starts even when an action is broken (it only disables it), so a configuration it does not accept would
make a peer that silently does nothing: `rsyslogd -N1` must pass on each.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from benchmarks import rsyslog
from benchmarks.corpus import write_file_corpus
from tests.integration.conftest import Endpoints


@pytest.mark.parametrize("kind", ["files", "tcp", "udp", "b5"])
def test_generated_rsyslog_configurations_validate(kind: str, tmp_path: Path) -> None:
    assert rsyslog.available() is None, rsyslog.available()
    (tmp_path / "work").mkdir()
    conf = tmp_path / "rsyslog.conf"
    text = rsyslog.config(kind, tmp_path, "127.0.0.1:9092", "bench-peer", port=15140,
                          es_url="http://127.0.0.1:9200", index="bench-peer", group="bench-peer")
    if kind != "b5":
        assert 'reopenOnHup="off"' in text  # the SIGHUPs that refresh the counters must not rebuild the producer
    conf.write_text(text)
    check = subprocess.run([rsyslog.RSYSLOGD, "-N1", "-f", str(conf)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


def test_sighup_serves_omkafka_deliveries_without_rebuilding_the_producer(endpoints: Endpoints,
                                                                          tmp_path: Path) -> None:
    """The harness's way of reading omkafka's ``acked``: every line acknowledged is counted once SIGHUP has served
    the delivery reports (nothing else does after the last line), and the producer is the same one throughout."""
    assert rsyslog.available() is None, rsyslog.available()
    lines = 5000
    corpus = tmp_path / "corpus.log"
    write_file_corpus(corpus, lines)
    topic = f"bench-peer-{time.time_ns()}"
    run = tmp_path / "run"
    daemon = rsyslog._Rsyslogd(rsyslog.config("files", run, endpoints.kafka, topic), run)
    try:
        (run / "in" / "corpus.log").write_bytes(corpus.read_bytes())
        _, stats = daemon.wait(lambda s: s.get("omkafka", {}).get("acked", 0) >= lines, 90)
        assert stats["omkafka"]["acked"] == lines
        assert stats["omkafka"].get("failures", 0) == 0
        daemon.stop()
        internal = (run / "internal.log").read_text()
        # reopenOnHup off: each SIGHUP polls the producer (omkafka logs it), none closes it.
        assert "doHUP kafka" in internal, internal[-2000:]
    finally:
        daemon.stop()
        admin = AdminClient({"bootstrap.servers": endpoints.kafka})
        for done in admin.delete_topics([topic], operation_timeout=30).values():
            done.result()


def test_preloaded_topics_are_removed_after_their_runs(endpoints: Endpoints) -> None:
    from benchmarks.processor import drop_topic, preload

    topic = preload(endpoints.kafka, 2000)
    admin = AdminClient({"bootstrap.servers": endpoints.kafka})
    assert topic in admin.list_topics(timeout=30).topics
    drop_topic(endpoints.kafka, topic)
    deadline = time.monotonic() + 30
    while topic in admin.list_topics(timeout=30).topics:
        assert time.monotonic() < deadline, f"{topic} is still there"
        time.sleep(0.5)

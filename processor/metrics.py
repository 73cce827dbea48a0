"""The processor's Prometheus metrics, shared by its worker processes through prometheus_client's multiprocess
mode: each worker writes its own files under ``PROMETHEUS_MULTIPROC_DIR``, which the supervisor sets before it
starts them and reads when ``/metrics`` is scraped. Every metric is documented in the README ("Processor metrics").

The consumer lag is not a multiprocess gauge: those cannot forget a label, and a partition a worker gave away must
disappear from its report. Each worker publishes the lag of the partitions it owns as a whole (a small JSON file
beside the metric files, replaced atomically), and ``ConsumerLagCollector`` serves the live workers' reports.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Mapping

import orjson
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

__all__ = ["BULK_SECONDS", "COLLISIONS", "DEAD_LETTERED", "DUPLICATES", "ENTRIES_IN", "INDEXED", "RECORDS_IN",
           "ES_NODE_FAILURES", "REJECTED", "RETRIED", "ConsumerLagCollector", "forget_lag", "report_lag"]

RECORDS_IN = Counter("logjet_processor_records_in", "Kafka records consumed.")
ENTRIES_IN = Counter("logjet_processor_entries_in", "Entries decoded from the records.")
INDEXED = Counter("logjet_processor_documents_indexed", "Documents Elasticsearch accepted (or the discard sink took).")
DUPLICATES = Counter("logjet_processor_duplicates_suppressed",
                     "Documents Elasticsearch refused as already indexed (409 on create): replays, not errors.")
COLLISIONS = Counter("logjet_processor_identity_collisions",
                     "Documents refused as already indexed whose stored namesake has other content: two entries "
                     "with one identity, a bug (then dead-lettered).")
RETRIED = Counter("logjet_processor_documents_retried", "Bulk items sent again, by cause: pushback (429), "
                  "server_error (5xx), unavailable (no answer), forbidden (403), not_found (404), unauthorized (401).",
                  ["cause"])
REJECTED = Counter("logjet_processor_documents_rejected",
                   "Documents Elasticsearch refused for their content (then dead-lettered).")
ES_NODE_FAILURES = Counter("logjet_processor_es_node_failures", "Requests an Elasticsearch node did not answer "
                           "(connection refused, reset, timed out connecting), by node URL: the client sent them to "
                           "another node and set this one aside for a while.", ["node"])
DEAD_LETTERED = Counter("logjet_processor_dead_lettered", "Entries or records sent to the dead-letter topic, by why.",
                        ["reason"])
BULK_SECONDS = Histogram("logjet_processor_bulk_seconds", "Time to settle one batch in Elasticsearch, retries "
                         "included.", buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))

_LAG_NAME = "logjet_processor_consumer_lag"
_LAG_HELP = ("Records between the committed offset and the end of each partition a worker owns (librdkafka's "
             "statistics); a partition given away is dropped.")
_LAG_FILE = "consumer_lag_{pid}.json"

Lag = Mapping[tuple[str, int], int]
_local: dict[tuple[str, int], int] = {}  # this process's report, when no supervisor collects the files


def report_lag(lag: Lag) -> None:
    """Publish the lag of exactly the partitions this process owns now (an empty mapping: none)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        _local.clear()
        _local.update(lag)
        return
    path = os.path.join(directory, _LAG_FILE.format(pid=os.getpid()))
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(orjson.dumps([[t, p, n] for (t, p), n in lag.items()]))
    os.replace(tmp, path)  # a scrape reads the old report or the new one, never half of one


def forget_lag(directory: str, pid: int) -> None:
    """Drop the report of a worker process that is gone."""
    try:
        os.unlink(os.path.join(directory, _LAG_FILE.format(pid=pid)))
    except FileNotFoundError:
        pass


class ConsumerLagCollector(Collector):
    """The lag reported by each live worker (``directory``), or by this process alone (None)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory

    def _reports(self) -> Iterator[Lag]:
        if self.directory is None:
            yield dict(_local)
            return
        for path in glob.glob(os.path.join(self.directory, _LAG_FILE.format(pid="*"))):
            try:
                with open(path, "rb") as fh:
                    yield {(t, p): n for t, p, n in orjson.loads(fh.read())}
            except (OSError, orjson.JSONDecodeError):
                continue  # removed or replaced while read: the next scrape has it

    def collect(self) -> Iterator[GaugeMetricFamily]:
        merged: dict[tuple[str, int], int] = {}
        for report in self._reports():
            for key, n in report.items():
                # During a rebalance two reports can name one partition for a moment: the larger is the safer.
                merged[key] = max(n, merged.get(key, n))
        family = GaugeMetricFamily(_LAG_NAME, _LAG_HELP, labels=["topic", "partition"])
        for (topic, partition), n in sorted(merged.items()):
            family.add_metric([topic, str(partition)], n)
        yield family


if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # A process without a supervisor (a worker run in-process) serves its own report from the default registry.
    REGISTRY.register(ConsumerLagCollector(None))

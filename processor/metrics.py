"""The processor's Prometheus metrics, shared by its worker processes through prometheus_client's multiprocess
mode: each worker writes its own files under ``PROMETHEUS_MULTIPROC_DIR``, which the supervisor sets before it
starts them and reads when ``/metrics`` is scraped. Every metric is documented in the README ("Processor metrics").
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["BULK_SECONDS", "CONSUMER_LAG", "DEAD_LETTERED", "DUPLICATES", "ENTRIES_IN", "INDEXED", "RECORDS_IN",
           "REJECTED", "RETRIED"]

RECORDS_IN = Counter("logjet_processor_records_in", "Kafka records consumed.")
ENTRIES_IN = Counter("logjet_processor_entries_in", "Entries decoded from the records.")
INDEXED = Counter("logjet_processor_documents_indexed", "Documents Elasticsearch accepted (or the discard sink took).")
DUPLICATES = Counter("logjet_processor_duplicates_suppressed",
                     "Documents Elasticsearch refused as already indexed (409 on create): replays, not errors.")
RETRIED = Counter("logjet_processor_documents_retried", "Bulk items sent again after a 429, a 5xx or no answer.")
REJECTED = Counter("logjet_processor_documents_rejected",
                   "Documents Elasticsearch refused for their content (then dead-lettered).")
DEAD_LETTERED = Counter("logjet_processor_dead_lettered", "Entries or records sent to the dead-letter topic, by why.",
                        ["reason"])
BULK_SECONDS = Histogram("logjet_processor_bulk_seconds", "Time to settle one batch in Elasticsearch, retries "
                         "included.", buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
CONSUMER_LAG = Gauge("logjet_processor_consumer_lag", "Records between the committed offset and the end of each "
                     "assigned partition.", ["topic", "partition"], multiprocess_mode="livemax")

"""logjet: a centralized log pipeline (collectors -> Kafka -> processor -> Elasticsearch <- API)."""

__version__ = "0.1.0"

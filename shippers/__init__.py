"""Shippers: the clients that move entries to the next hop (Kafka, Elasticsearch) and report acknowledgements."""

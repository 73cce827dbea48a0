"""Collectors: read log sources on a node, tag their entries and publish them to Kafka."""

"""Kafka shipping: producer and consumer construction, delivery tracking, error translation."""

from shippers.kafka.client import consumer_config, make_admin, make_consumer, make_producer, producer_config
from shippers.kafka.shipper import KafkaShipper

__all__ = ["KafkaShipper", "consumer_config", "make_admin", "make_consumer", "make_producer", "producer_config"]

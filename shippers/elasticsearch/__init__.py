"""Elasticsearch shipping: client construction, the index template, bulk encoding, and partial-retry bulk sends."""

from shippers.elasticsearch.client import make_client
from shippers.elasticsearch.encoder import EncodedDoc, encode_bulk
from shippers.elasticsearch.shipper import BulkResult, ElasticsearchShipper
from shippers.elasticsearch.template import install_template

__all__ = ["BulkResult", "ElasticsearchShipper", "EncodedDoc", "encode_bulk", "install_template", "make_client"]

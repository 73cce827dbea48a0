"""The HTTP API: health checks and log queries over Elasticsearch."""

from api.app import create_app

__all__ = ["create_app"]

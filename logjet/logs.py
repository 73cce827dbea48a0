"""Logging set-up shared by every process logjet starts (the command line and the processor's workers).

One format, one level (``LOGJET_LOG_LEVEL``), and credentials of URLs removed from every line, exceptions included:
an Elasticsearch URL may carry ``user:password@`` and client errors quote it.
"""

from __future__ import annotations

import logging
import os
import sys

from logjet.config import redact_url

__all__ = ["RedactingFormatter", "setup_logging"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    """A formatter whose output never holds a URL's credentials."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_url(super().format(record))


def setup_logging(fmt: str = FORMAT) -> None:
    logging.basicConfig(level=os.environ.get("LOGJET_LOG_LEVEL", "INFO").upper(), format=fmt, stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter(fmt))
    # One line per HTTP request or bulk call drowns what logjet itself says.
    for noisy in ("httpx", "elastic_transport.transport"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

"""Logging set-up shared by every process logjet starts (the command line and the processor's workers).

One level (``LOGJET_LOG_LEVEL``), one format (``LOGJET_LOG_FORMAT``: ``text``, the default, or ``json``, one object
per line for shipping logjet's own logs with logjet), the component's name on every line (``LOGJET_LOG_COMPONENT``,
set by the command line so that the processes it starts inherit it), and credentials of URLs removed from every
line, exceptions included: an Elasticsearch URL may carry ``user:password@`` and client errors quote it.

librdkafka's own log lines come here too (``kafka_logger``, confluent-kafka's ``logger`` setting) instead of raw
``%3|...`` lines on stderr, and ``KafkaLogLimiter`` keeps a broker that stays down from filling the log; when Kafka
is reachable again (``shippers/kafka/reachability.py`` says so) the limit starts afresh, so that the next outage's
first failure is logged at once.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable

import orjson

from logjet.config import redact_url

__all__ = ["FORMAT", "JsonFormatter", "KafkaLogLimiter", "RedactingFormatter", "component", "kafka_logger",
           "kafka_reachable_again", "setup_logging"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")

# librdkafka facilities that repeat for as long as a broker is unreachable (every reconnect attempt, per broker).
_REPEATING = frozenset({"FAIL", "ERROR"})
_DIGITS = re.compile(r"\d+")


def component() -> str:
    """The running component (collector, processor, api, ...), as the command line named it."""
    return os.environ.get("LOGJET_LOG_COMPONENT", "logjet")


class RedactingFormatter(logging.Formatter):
    """A formatter whose output never holds a URL's credentials."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_url(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, RFC 3339 with milliseconds), level, logger, message, component, and
    the exception's traceback when there is one; credentials of URLs removed as in the text format."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_url(record.getMessage()),
            "component": component(),
        }
        if record.exc_info:
            doc["exception"] = redact_url("".join(traceback.format_exception(*record.exc_info)).rstrip())
        elif record.exc_text:
            doc["exception"] = redact_url(record.exc_text)
        if record.stack_info:
            doc["stack"] = redact_url(record.stack_info)
        return orjson.dumps(doc).decode()


class KafkaLogLimiter(logging.Filter):
    """Lets each client's repeated librdkafka FAIL and ERROR lines through once per ``interval_s``.

    A line is repeated when the same client logs the same facility with the same text but for its numbers (times,
    counts, ports). The first one is logged at once, so a change of state (a broker going away, a new kind of
    failure) is seen when it happens; repeats within the interval are counted, and the next line let through says
    how many were left out. Other lines pass untouched.
    """

    def __init__(self, interval_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.clock = clock
        self._lock = threading.Lock()
        # (client, facility, text without numbers) -> [time last let through, repeats suppressed since]
        self._seen: dict[tuple[str, str, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # confluent-kafka logs ("%s [%s] %s", facility, client name, text).
        if not isinstance(args, tuple) or len(args) != 3 or args[0] not in _REPEATING:
            return True
        facility, client, text = (str(a) for a in args)
        key = (client, facility, _DIGITS.sub("#", text))
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.interval_s:
                seen[1] += 1
                return False
            suppressed = int(seen[1]) if seen is not None else 0
            self._seen[key] = [now, 0]
            if len(self._seen) > 1000:  # bounded: forget the oldest keys
                for old in sorted(self._seen, key=lambda k: self._seen[k][0])[:500]:
                    del self._seen[old]
        if suppressed:
            record.msg = f"{record.msg} (and {suppressed} more like it in the last {self.interval_s:.0f} s)"
        return True

    def reset(self) -> None:
        """Forget every line seen: what fails next is a change of state, logged at once. (librdkafka's lines name
        the client, its error callback does not: a reset covers every client of the process, which costs at most
        one more line of a client still failing.)"""
        with self._lock:
            self._seen.clear()


_kafka_limiter = KafkaLogLimiter()


def kafka_logger() -> logging.Logger:
    """The logger librdkafka's lines go to (confluent-kafka's ``logger`` setting): ``logjet.<component>.kafka``,
    rate-limited by ``KafkaLogLimiter``."""
    logger = logging.getLogger(f"logjet.{component()}.kafka" if component() != "logjet" else "logjet.kafka")
    if _kafka_limiter not in logger.filters:
        logger.addFilter(_kafka_limiter)
    return logger


def kafka_reachable_again() -> None:
    """Kafka answered again after an outage: the next failure of any client is logged at once."""
    _kafka_limiter.reset()


def setup_logging(fmt: str = FORMAT, log_format: str | None = None) -> None:
    """Configure the root logger once per process; ``log_format`` (or ``LOGJET_LOG_FORMAT``) is text or json."""
    chosen = (log_format or os.environ.get("LOGJET_LOG_FORMAT") or "text").lower()
    if chosen not in LOG_FORMATS:
        chosen = "text"
    logging.basicConfig(level=os.environ.get("LOGJET_LOG_LEVEL", "INFO").upper(), format=fmt, stream=sys.stderr)
    formatter: logging.Formatter = JsonFormatter() if chosen == "json" else RedactingFormatter(fmt)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    # One line per HTTP request or bulk call drowns what logjet itself says.
    for noisy in ("httpx", "elastic_transport.transport"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

"""logjet's own logs: the JSON format and the rate limit of librdkafka's repeated lines."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from logjet.logs import JsonFormatter, KafkaLogLimiter, RedactingFormatter, kafka_logger


def _kafka_record(facility: str, client: str, text: str, level: int = logging.ERROR) -> logging.LogRecord:
    # The shape confluent-kafka gives its `logger`: ("%s [%s] %s", facility, client name, text).
    return logging.LogRecord("logjet.collector.kafka", level, "", 0, "%s [%s] %s", (facility, client, text), None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeated_failures_of_one_client_pass_once_per_interval_with_the_count() -> None:
    clock = Clock()
    limiter = KafkaLogLimiter(interval_s=30, clock=clock)
    text = "127.0.0.1:{port}/bootstrap: Connect to ipv4#127.0.0.1:{port} failed: Connection refused (after {ms}ms " \
           "in state CONNECT)"
    passed = []
    # 20 a second for 65 s, as librdkafka logs a broker that stays down.
    for i in range(65 * 20):
        clock.now = 1000.0 + i / 20
        record = _kafka_record("FAIL", "rdkafka#producer-1", text.format(port=9092, ms=i % 7))
        if limiter.filter(record):
            passed.append((clock.now, record.getMessage()))
    assert [t for t, _ in passed] == [1000.0, 1030.0, 1060.0]
    assert "more like it" not in passed[0][1]
    assert passed[1][1].endswith("(and 599 more like it in the last 30 s)")
    assert passed[2][1].endswith("(and 599 more like it in the last 30 s)")


def test_another_client_another_facility_or_another_failure_is_logged_at_once() -> None:
    clock = Clock()
    limiter = KafkaLogLimiter(interval_s=30, clock=clock)
    assert limiter.filter(_kafka_record("FAIL", "rdkafka#producer-1", "broker: Connection refused"))
    assert not limiter.filter(_kafka_record("FAIL", "rdkafka#producer-1", "broker: Connection refused"))
    assert limiter.filter(_kafka_record("FAIL", "rdkafka#consumer-2", "broker: Connection refused"))
    assert limiter.filter(_kafka_record("ERROR", "rdkafka#producer-1", "broker: Connection refused"))
    # A change of state (another kind of failure) is news.
    assert limiter.filter(_kafka_record("FAIL", "rdkafka#producer-1", "broker: SSL handshake failed"))
    # Lines that do not repeat while a broker is down are never held back.
    for _ in range(5):
        assert limiter.filter(_kafka_record("REQTMOUT", "rdkafka#producer-1", "timed out"))
    plain = logging.LogRecord("logjet.collector", logging.ERROR, "", 0, "disk full %s", ("/var",), None)
    assert all(limiter.filter(plain) for _ in range(5))


def test_the_kafka_logger_is_named_after_the_component_and_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGJET_LOG_COMPONENT", "processor")
    logger = kafka_logger()
    assert logger.name == "logjet.processor.kafka"
    assert any(isinstance(f, KafkaLogLimiter) for f in logger.filters)
    assert kafka_logger().filters == logger.filters  # once, however many clients


def _json_line(record: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter().format(record)
    assert "\n" not in line
    return orjson.loads(line)


def test_json_format_has_the_fields_and_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGJET_LOG_COMPONENT", "api")
    record = logging.LogRecord("logjet.api", logging.WARNING, "", 0, "cannot reach %s", ("http://elastic:s3cret@es:9200",),
                               None)
    record.created = 1_764_432_000.25
    record.msecs = 250.0
    doc = _json_line(record)
    assert doc == {"time": "2025-11-29T16:00:00.250Z", "level": "warning", "logger": "logjet.api",
                   "message": doc["message"], "component": "api"}
    assert "s3cret" not in doc["message"] and "es:9200" in doc["message"]


def test_json_format_carries_the_exception_on_the_same_line() -> None:
    try:
        raise ValueError("bad value\nsecond line")
    except ValueError:
        import sys

        record = logging.LogRecord("logjet.processor", logging.ERROR, "", 0, "batch failed", None, sys.exc_info())
    doc = _json_line(record)
    assert doc["message"] == "batch failed"
    assert doc["exception"].startswith("Traceback") and "ValueError: bad value\nsecond line" in doc["exception"]


def test_text_and_json_through_a_handler() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("logjet.test-logs")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        handler.setFormatter(JsonFormatter())
        logger.warning("one %d", 1)
        handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
        logger.warning("two")
    finally:
        logger.removeHandler(handler)
    first, second = out.getvalue().splitlines()
    assert orjson.loads(first)["message"] == "one 1"
    assert second == "WARNING logjet.test-logs: two"

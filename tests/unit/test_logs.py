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


def test_after_a_reset_the_next_failure_is_logged_at_once() -> None:
    clock = Clock()
    limiter = KafkaLogLimiter(interval_s=30, clock=clock)
    fail = _kafka_record("FAIL", "rdkafka#producer-1", "127.0.0.1:9092/1: Connect failed: Connection refused")
    assert limiter.filter(fail)
    clock.now += 5
    assert not limiter.filter(_kafka_record("FAIL", "rdkafka#producer-1", fail.args[2]))  # type: ignore[index]
    limiter.reset()  # Kafka was reachable again: a new outage is a change of state
    clock.now += 5
    assert limiter.filter(_kafka_record("FAIL", "rdkafka#producer-1", fail.args[2]))  # type: ignore[index]


def _reachability(clock: Clock) -> tuple[object, list[str], list[int]]:
    from shippers.kafka.reachability import KafkaReachability

    lines: list[str] = []
    resets: list[int] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(f"{record.levelname} {record.getMessage()}")

    logger = logging.getLogger("test.kafka.reachability")
    logger.handlers[:] = [Collect()]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return KafkaReachability(logger, clock, on_back=lambda: resets.append(1)), lines, resets


def test_kafka_back_after_repeated_failures_is_logged_once_with_the_outage_and_the_records_held() -> None:
    from confluent_kafka import KafkaError

    clock = Clock()
    reach, lines, resets = _reachability(clock)
    reach.failed(KafkaError(KafkaError._TRANSPORT))  # type: ignore[attr-defined]
    for _ in range(20):  # a reconnect attempt fails every ~100 ms, then less often
        clock.now += 0.4
        reach.failed(KafkaError(KafkaError._TRANSPORT))  # type: ignore[attr-defined]
        reach.failed(KafkaError(KafkaError._ALL_BROKERS_DOWN))  # type: ignore[attr-defined]
    clock.now += 0.5
    reach.acknowledged(12)
    reach.acknowledged(11)  # the other records held back: no more lines
    assert lines == ["INFO Kafka reachable again after 8.5 s (12 records held back meanwhile)"]
    assert resets == [1] and reach.outages == 1  # type: ignore[attr-defined]
    # A second outage is a second line.
    clock.now += 60
    reach.failed(KafkaError(KafkaError._ALL_BROKERS_DOWN))  # type: ignore[attr-defined]
    clock.now += 2
    reach.failed(KafkaError(KafkaError._TRANSPORT))  # type: ignore[attr-defined]
    clock.now += 1
    reach.acknowledged(1)
    assert lines[1:] == ["INFO Kafka reachable again after 3.0 s (1 record held back meanwhile)"]


def test_one_closed_idle_connection_or_another_error_is_no_outage() -> None:
    from confluent_kafka import KafkaError

    clock = Clock()
    reach, lines, resets = _reachability(clock)
    reach.failed(KafkaError(KafkaError._TRANSPORT))  # type: ignore[attr-defined]  # a broker closed an idle link
    clock.now += 600
    reach.acknowledged(1)  # the reconnect at the next record succeeded at once
    reach.failed(KafkaError(KafkaError._MSG_TIMED_OUT))  # type: ignore[attr-defined]
    reach.failed(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    reach.acknowledged(1)
    assert lines == [] and resets == []

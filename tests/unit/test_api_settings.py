"""The API without servers: open demo mode stays on this machine (settings, and when `logjet up` turns it on), and
the /v1/stats histogram bound."""

from __future__ import annotations

import pytest

from api.stats import StatsRangeError, bucket_count, check_buckets
from cli.up import demo_mode
from logjet.config import LogjetSettings, is_loopback_host, load_settings
from logjet.errors import ConfigError

KEY = {"name": "ops", "sha256": "0" * 64, "all_logs": True}


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LOCALHOST.", True), ("0.0.0.0", False), ("::", False), ("192.0.2.7", False),
    ("localhost.attacker.example", False), ("127.0.0.1.nip.io", False), ("", False),
])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_open_demo_is_refused_beside_keys_or_on_an_outside_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGJET_API_OPEN_DEMO", "true")
    assert load_settings().api.open_demo
    monkeypatch.setenv("LOGJET_API_HOST", "0.0.0.0")
    with pytest.raises(ConfigError, match="open_demo binds only a loopback address"):
        load_settings()
    monkeypatch.setenv("LOGJET_API_HOST", "::1")
    monkeypatch.setenv("LOGJET_API_KEYS", '[{"name": "ops", "sha256": "' + "0" * 64 + '", "all_logs": true}]')
    with pytest.raises(ConfigError, match="cannot be on while api.keys are configured"):
        load_settings()
    monkeypatch.delenv("LOGJET_API_KEYS")
    monkeypatch.setenv("LOGJET_API_CORS_ORIGINS", '["http://localhost:3000", "http://127.0.0.1:5173"]')
    assert load_settings().api.cors_origins
    for origins in ('["*"]', '["https://attacker.example"]', '["http://localhost.attacker.example"]'):
        monkeypatch.setenv("LOGJET_API_CORS_ORIGINS", origins)
        with pytest.raises(ConfigError, match="allows CORS only for pages of this machine"):
            load_settings()


def test_up_turns_open_demo_on_only_for_the_local_stack_on_loopback_without_keys() -> None:
    plain = LogjetSettings()
    assert demo_mode(plain, local_stack=True)[0] is True
    on, message = demo_mode(plain, local_stack=False)
    assert on is False and "only for the local stack" in message
    on, message = demo_mode(LogjetSettings(api={"host": "0.0.0.0"}), local_stack=True)
    assert on is False and "not 0.0.0.0" in message
    assert demo_mode(LogjetSettings(api={"keys": [KEY]}), local_stack=True) == (False, "")


def test_stats_bucket_counts_and_bounds() -> None:
    now = 1_795_600_000.0
    assert bucket_count("now-1h", "now", "1m", now) == 61
    assert bucket_count("2026-11-25T00:00:00Z", "2026-11-25T10:00:00+00:00", "1h", now) == 11
    assert bucket_count("now-1d/d", "now/d", "1h", now) == 25
    assert bucket_count(str(int(now * 1000) - 3_600_000), "now", "30m", now) == 3
    check_buckets("now-30d", "now", "30m", 10, None, 2000, now)
    with pytest.raises(StatsRangeError, match="2592001 buckets.*at least 30m"):
        check_buckets("now-30d", "now", "1s", 10, None, 2000, now)
    with pytest.raises(StatsRangeError, match="of 101 counts"):
        check_buckets("now-1h", "now", "1m", 100, "service", 2000, now)
    for bad in (("yesterday", "now", "1m"), ("now-1h", "now", "0s"), ("now", "now-1h", "1m"), ("now-1q", "now", "1m")):
        with pytest.raises(StatsRangeError):
            bucket_count(*bad, now=now)

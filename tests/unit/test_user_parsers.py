from __future__ import annotations

import pytest

from logjet.config import ParserRule
from logjet.errors import ConfigError
from logjet.timeparse import format_ns
from logjet.wire import Entry, Source
from processor.parsers.user import UserParseError, UserParsers

NGINX = Source("container:h:1:2:a", "container", tags={"container.name": "web-nginx-1",
                                                     "container.labels.app_kubernetes_io/name": "nginx"})
OTHER = Source("file:h:1:3:b", "file", path="/var/log/app/app.log")


def shout(message: str) -> dict | None:
    if message.startswith("!"):
        return {"message": message[1:].upper(), "level": "WARNING", "labels.loud": "yes"}
    if message == "boom":
        raise RuntimeError("user code failed")
    return None


def test_regex_rule_applies_only_to_its_containers_and_falls_through_when_it_does_not_match() -> None:
    rules = UserParsers([ParserRule(
        name="nginx-timing", when={"container_name": "*nginx*", "container_labels": {"app.kubernetes.io/name": "ng*"}},
        regex=r"^(?P<timestamp>\S+) (?P<http__request__method>[A-Z]+) (?P<url__path>\S+) took=(?P<took>\d+)ms$")])
    line = "2026-11-25T10:00:00Z GET /cart took=12ms"
    message, time_ns, level, fields = rules.parse(NGINX, Entry(0, 1, line))
    assert (message, format_ns(time_ns), level) == (line, "2026-11-25T10:00:00.000000000Z", None)
    assert fields == {"http.request.method": "GET", "url.path": "/cart", "took": "12"}
    assert rules.parse(OTHER, Entry(0, 1, line)) is None  # another source
    assert rules.parse(NGINX, Entry(0, 1, "not the layout")) is None


def test_function_rule_by_path_and_its_failures_are_reported() -> None:
    rules = UserParsers([ParserRule(name="loud", when={"path": "/var/log/app/*.log"},
                                    function="tests.unit.test_user_parsers:shout")])
    assert rules.parse(OTHER, Entry(0, 1, "!hey")) == ("HEY", None, "warn", {"labels.loud": "yes"})
    assert rules.parse(OTHER, Entry(0, 1, "quiet")) is None
    with pytest.raises(UserParseError, match="loud raised RuntimeError"):
        rules.parse(OTHER, Entry(0, 1, "boom"))


def test_syslog_app_name_selects_per_entry() -> None:
    rules = UserParsers([ParserRule(name="cron", when={"appname": "CRON"}, regex=r"\((?P<user__name>\w+)\) CMD")])
    src = Source("syslog:h:udp:514:10.0.0.1:1", "syslog")
    cron = Entry(0, 1, "(root) CMD (run-parts)", (), {"log.syslog.appname": "CRON"})
    assert rules.parse(src, cron)[3] == {"user.name": "root"}
    assert rules.parse(src, Entry(1, 1, "(root) CMD (x)", (), {"log.syslog.appname": "sshd"})) is None


def test_bad_rules_fail_at_start_up() -> None:
    with pytest.raises(ValueError, match="no named group"):
        ParserRule(name="x", regex=r"\d+")
    with pytest.raises(ValueError, match="exactly one"):
        ParserRule(name="x")
    with pytest.raises(ConfigError, match="cannot load"):
        UserParsers([ParserRule(name="x", function="no.such.module:fn")])


def test_a_regex_group_cannot_name_a_scope_field() -> None:
    for group in ("kubernetes__namespace", "labels__team", "container__labels__team", "container__name"):
        with pytest.raises(ConfigError, match="scope field"):
            UserParsers([ParserRule(name="forge", regex=rf"^(?P<{group}>\w+) ")])
    UserParsers([ParserRule(name="fine", regex=r"^(?P<service__name>\w+) (?P<kube>\w+)")])


def test_the_core_hands_back_exactly_the_records_whose_source_a_rule_applies_to() -> None:
    from tests.unit.test_transform_differential import NOW, _wire, check, handed_back

    rule = ParserRule(name="nginx", when={"container_labels": {"app.kubernetes.io/name": "ng*"}},
                      function="tests.unit.test_user_parsers:shout")
    assert UserParsers([rule]).source_conditions() == [
        (None, None, None, None, [("container.labels.app_kubernetes_io/name", r"^(?s:ng.*)\z")], None)]
    # The label as the collector writes it (dots as underscores), and under its raw name, which no rule reads.
    raw = Source("container:h:1:2:b", "container", tags={"container.labels.app.kubernetes.io/name": "nginx"})
    records = [_wire(src, [Entry(0, NOW, "!hey"), Entry(1, NOW, "boom")]) for src in (NGINX, raw, OTHER)]
    assert handed_back(records, [rule]) == [0]
    assert check(records, parsers=[rule]) == 1 + 2 + 2  # "boom" of the first record is a dead letter

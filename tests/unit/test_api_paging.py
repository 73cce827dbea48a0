"""The API's paging pieces without a server: signed cursors, page cuts, the point-in-time count, the tail's rule for
passing a sequence number."""

from __future__ import annotations

import time

import orjson
import pytest

from api.auth import Caller
from api.cursors import CursorSigner
from api.query import PitRegistry, check_cursor, cut_page
from api.tail import Follower, IndexState, ShardState, TailSlots, check_position, parse_stats
from logjet.config import LogjetSettings, load_settings
from logjet.errors import ConfigError

SHOP = Caller("shop", False, ("shop",))
BANK = Caller("bank", False, ("bank",))


def test_a_signed_cursor_verifies_only_for_its_key_kind_and_secret() -> None:
    signer = CursorSigner(b"s" * 32)
    token = signer.sign("cursor", SHOP, {"p": None, "a": [1, "x"], "o": "asc"})
    assert signer.verify("cursor", SHOP, token) == {"p": None, "a": [1, "x"], "o": "asc"}
    assert signer.signing("cursor", SHOP)({"a": 1}) == signer.sign("cursor", SHOP, {"a": 1})
    payload, mac = token.split(".")
    for kind, who, bad, sig in (("cursor", BANK, token, signer),  # another key
                                ("cursor", Caller("shop", False, ("shop", "bank")), token, signer),  # wider scope
                                ("Last-Event-ID", SHOP, token, signer),  # another kind
                                ("cursor", SHOP, token, CursorSigner(b"t" * 32)),  # another secret
                                ("cursor", SHOP, payload, signer), ("cursor", SHOP, f"{payload}.{mac[:-1]}", signer),
                                ("cursor", SHOP, f"{payload[:-2]}.{mac}", signer), ("cursor", SHOP, "!!.??", signer)):
        with pytest.raises(ValueError):
            sig.verify(kind, who, bad)
    with pytest.raises(ValueError):
        CursorSigner(b"short")


def test_cursor_and_position_shapes_are_checked() -> None:
    assert check_cursor({"p": "id", "a": ["t", "e"], "o": "desc"}) == ("id", ["t", "e"], "desc")
    for bad in ([], {"p": 1, "a": ["t", "e"], "o": "asc"}, {"p": None, "a": ["t"], "o": "asc"},
                {"p": None, "a": ["t", {}], "o": "asc"}, {"p": None, "a": ["t", "e"], "o": "up"}):
        with pytest.raises(ValueError):
            check_cursor(bad)
    assert check_position({"logs-a-default": {"3": [17, 4]}}) == {"logs-a-default": {"3": [17, 4]}}
    for bad in ([], {"s": {"x": [1]}}, {"s": {"1": []}}, {"s": {"1": ["2"]}}, {"s": {"1": [1], "2": [1], "3": [1]}}):
        with pytest.raises(ValueError):
            check_position(bad)


def test_a_page_is_cut_by_count_and_by_bytes_but_never_empty() -> None:
    hits = [{"_source": {"message": "x" * 100, "n": i}} for i in range(11)]
    page, more = cut_page(hits, 10, 10_000)
    assert len(page) == 10 and more
    page, more = cut_page(hits[:10], 10, 10_000)
    assert len(page) == 10 and not more
    one = len(orjson.dumps(hits[0]["_source"]))
    page, more = cut_page(hits, 10, 3 * one + 1)
    assert len(page) == 3 and more
    page, more = cut_page(hits[:1], 10, 1)
    assert len(page) == 1 and not more


def test_points_in_time_are_counted_per_key_and_in_all_until_closed_or_expired() -> None:
    pits = PitRegistry(per_key=2, total=3, keep_alive_s=0.3)
    assert pits.reserve("a") and pits.reserve("a") and not pits.reserve("a")
    pits.opened("p1", "a")
    pits.opened(None, "a")  # could not be opened: the reservation is released
    assert len(pits) == 1 and pits.reserve("b") and pits.reserve("a")
    pits.opened("p2", "b")
    pits.opened("p3", "a")
    assert not pits.reserve("c")  # the total
    pits.used("p1", "p1b", "a")
    pits.closed("p1b")
    assert len(pits) == 2 and pits.reserve("c")
    time.sleep(0.35)
    assert len(pits) == 0


def test_tail_slots_per_key_and_in_all() -> None:
    slots = TailSlots(per_key=2, total=3)
    assert slots.acquire("a") and slots.acquire("a") and not slots.acquire("a")
    assert slots.acquire("b") and not slots.acquire("c")
    slots.release("a")
    assert slots.acquire("c") and slots.open() == 3


def test_shard_stats_name_the_backing_indices_by_stream_and_generation() -> None:
    def copy(checkpoint: int, refreshes: int, state: str = "STARTED", primary: bool = True) -> dict:
        return {"routing": {"state": state, "primary": primary, "node": "n1"},
                "seq_no": {"global_checkpoint": checkpoint}, "refresh": {"external_total": refreshes}}

    view = parse_stats({"indices": {
        ".ds-logs-a-default-2026.11.29-000002": {"shards": {"0": [copy(5, 7)], "1": [copy(9, 3)]}},
        ".ds-logs-a-default-2026.11.28-000001": {"shards": {"0": [copy(40, 2)]}},
        ".ds-logs-b-default-2026.11.29-000001": {"shards": {"0": [copy(1, 1, state="INITIALIZING")]}},
        "logs-a-plain": {"shards": {"0": [copy(1, 1)]}},
    }})
    assert list(view) == ["logs-a-default"]
    indices = view["logs-a-default"]
    assert [(i.generation, [s.checkpoint for s in i.shards]) for i in indices] == [(1, [40]), (2, [5, 9])]
    assert view["logs-a-default"][1].shards[0].refreshes == (("n1:True", 7),)


class _Counted(Follower):
    """The rule alone: how many documents the shard shows in a range is given, not asked of Elasticsearch."""

    def __init__(self) -> None:
        super().__init__(None, [], 100, {}, "p")  # type: ignore[arg-type]
        self.visible = 0  # documents searchable: sequence numbers 0 .. visible-1

    def _count(self, index: str, shard: int, after: int, upto: int) -> int:
        return max(0, min(upto, self.visible - 1) - after)


def _index(checkpoint: int, refreshes: int) -> IndexState:
    return IndexState(".ds-logs-a-default-2026.11.29-000001", "logs-a-default", 1,
                      (ShardState(checkpoint, (("n1:True", refreshes),)),))


def test_a_sequence_number_is_passed_only_when_everything_up_to_it_is_searchable() -> None:
    f = _Counted()
    f.visible = 10
    assert f._safe(_index(20, 5), 0, 4) == 4  # 20 observed at refresh 5; 10..20 not searchable yet
    f.visible = 12
    assert f._safe(_index(20, 6), 0, 4) == 4  # one refresh since: it may have begun before 20 was processed
    assert f._safe(_index(20, 7), 0, 4) == 20  # two: 12..20 are numbers without a document, passed
    f.visible = 31
    assert f._safe(_index(30, 7), 0, 20) == 30  # counted: all of 21..30 searchable, no refresh needed
    f.visible = 41
    assert f._safe(_index(40, 7), 0, 30) == 40
    f.visible = 45
    assert f._safe(_index(50, 7), 0, 40) == 40  # 41..44 searchable, 45..50 not: nothing passed yet
    assert f._safe(_index(60, 8), 0, 40) == 40  # one refresh since 50 was observed, and 45.. still missing
    f.visible = 51
    assert f._safe(_index(70, 8), 0, 40) == 50  # counted at the observation a refresh has ended since
    assert f._safe(_index(70, 9), 0, 50) == 50  # 60 and 70 were observed at refresh 8: one since
    assert f._safe(_index(70, 10), 0, 50) == 70  # two


def test_cursor_secret_is_a_secret_of_16_bytes_at_least(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGJET_API_CURSOR_SECRET", "a secret of enough bytes")
    settings = load_settings()
    assert settings.api.cursor_secret is not None
    assert settings.api.cursor_secret.get_secret_value() == "a secret of enough bytes"
    assert "enough" not in repr(settings.api)
    monkeypatch.setenv("LOGJET_API_CURSOR_SECRET", "short")
    with pytest.raises(ConfigError, match="cursor_secret"):
        load_settings()
    monkeypatch.delenv("LOGJET_API_CURSOR_SECRET")
    assert LogjetSettings().api.cursor_secret is None

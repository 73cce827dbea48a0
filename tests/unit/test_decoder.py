from __future__ import annotations

from collectors.files.decoder import MultilineDecoder, PlainDecoder, decode_text
from logjet.config import MultilineSettings

JAVA = [
    b"2024-05-01 10:11:12 ERROR request failed",
    b"java.lang.IllegalStateException: boom",
    b"\tat com.shop.Cart.add(Cart.java:42)",
    b"\tat com.shop.Api.handle(Api.java:7)",
    b"2024-05-01 10:11:13 INFO next request",
]


def _lines(raws: list[bytes], start: int = 0) -> list[tuple[int, bytes, bool]]:
    out, off = [], start
    for raw in raws:
        out.append((off, raw, False))
        off += len(raw) + 1
    return out


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_start_pattern_groups_a_java_stack_trace_and_holds_the_open_record() -> None:
    clock = Clock()
    d = MultilineDecoder(MultilineSettings(start_pattern=r"^\d{4}-\d\d-\d\d "), clock)
    got = d.decode(_lines(JAVA), 0)
    assert [e.message for e in got] == [b"\n".join(JAVA[:4]).decode()]
    assert got[0].seq == 0
    assert d.pending_offset == sum(len(r) + 1 for r in JAVA[:4])  # the INFO line waits for what follows
    assert d.flush(0.5) == []
    clock.t = 5.0
    (last,) = d.flush(5.0)
    assert last.message == JAVA[4].decode() and d.pending_offset is None


def test_continuation_pattern_groups_a_python_traceback() -> None:
    tb = [b"Traceback (most recent call last):", b'  File "app.py", line 3, in <module>', b"    main()",
          b"ValueError: bad", b"next line"]
    d = MultilineDecoder(MultilineSettings(continuation_pattern=r"^(\s|Traceback|\w+Error:)"))
    got = d.decode(_lines(tb), 0) + d.flush(0, force=True)
    assert [e.message for e in got] == [b"\n".join(tb[:4]).decode(), "next line"]


def test_lines_past_max_lines_are_dropped_and_the_entry_flagged() -> None:
    d = MultilineDecoder(MultilineSettings(start_pattern="^START", max_lines=3))
    raws = [b"START 1", b"a", b"b", b"c", b"d", b"START 2", b"e"]
    lines = _lines(raws)
    got = d.decode(lines, 0)
    # The record's rest is dropped, not made an entry of its own; the record still holds the checkpoint back.
    assert [(e.seq, e.message, e.flags) for e in got] == [(0, "START 1\na\nb", ("truncated",))]
    assert d.pending_offset == lines[5][0]
    (nxt,) = d.flush(0, force=True)
    assert (nxt.seq, nxt.message, nxt.flags) == (lines[5][0], "START 2\ne", ())


def test_a_continuation_record_past_max_lines_is_cut_and_flagged_too() -> None:
    d = MultilineDecoder(MultilineSettings(continuation_pattern=r"^\s", max_lines=2))
    got = d.decode(_lines([b"Traceback", b"  one", b"  two", b"  three", b"next"]), 0) + d.flush(0, force=True)
    assert [(e.message, e.flags) for e in got] == [("Traceback\n  one", ("truncated",)), ("next", ())]


def test_a_record_past_max_bytes_is_cut_and_flagged() -> None:
    d = MultilineDecoder(MultilineSettings(start_pattern="^START", max_bytes=1024))
    got = d.decode(_lines([b"START", b"y" * 2000, b"z", b"START", b"ok"]), 0) + d.flush(0, force=True)
    assert [(len(e.message), e.flags) for e in got] == [(1024, ("truncated",)), (8, ())]
    assert got[0].message == "START\n" + "y" * 1018


def test_invalid_utf8_is_replaced_and_flagged_but_a_cut_character_is_not() -> None:
    assert decode_text(b"ok\xff") == ("ok\ufffd", ("invalid_utf8",))
    assert decode_text("é".encode()[:1] + b"", True) == ("", ("truncated",))
    assert decode_text(b"abc" + "é".encode()[:1], True) == ("abc", ("truncated",))
    (e,) = PlainDecoder().decode([(0, b"x\xfe", False)], 1)
    assert e.flags == ("invalid_utf8",)

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.files.decoder import PlainDecoder
from collectors.files.tailer import ANCHOR_BYTES, Tailer, anchor_hash, fingerprint, window
from logjet.wire import Entry


def _tailer(path: Path, offset: int = 0, max_line: int = 1024) -> Tailer:
    fd = os.open(path, os.O_RDONLY)
    fp = fingerprint(fd)
    assert fp is not None
    return Tailer.open(str(path), fd, fp, offset, max_line)


def _read(t: Tailer) -> list[Entry]:
    return PlainDecoder().decode(t.read(1000), 0)


def test_lines_carry_their_start_offsets_and_partial_lines_wait(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"one\r\ntwo\nthr")
    t = _tailer(f)
    got = _read(t)
    assert [(e.seq, e.message) for e in got] == [(0, "one"), (5, "two")]
    assert t.resume_offset == 9
    with f.open("ab") as fh:
        fh.write(b"ee\n")
    assert [(e.seq, e.message) for e in _read(t)] == [(9, "three")]
    assert t.resume_offset == 15


def test_resume_from_offset_gives_same_identities(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"a\nbb\nccc\n")
    first = _read(_tailer(f))
    again = _read(_tailer(f, offset=first[1].seq))
    assert [(e.seq, e.message) for e in again] == [(e.seq, e.message) for e in first[1:]]


def test_long_line_is_truncated_flagged_and_not_buffered(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"short\n" + b"x" * 5000)
    t = _tailer(f, max_line=1024)
    got = _read(t)
    assert got[1].message == "x" * 1024 and got[1].flags == ("truncated",)
    assert len(t.buffer) == 0
    assert t.resume_offset == 6  # a restart re-sends the truncated entry with the same seq
    with f.open("ab") as fh:
        fh.write(b"y" * 3000 + b"\nnext\n")
    after = _read(t)
    assert [(e.seq, e.message) for e in after] == [(6 + 5000 + 3001, "next")]
    assert t.resume_offset == 6 + 5000 + 3001 + 5


def test_invalid_utf8_is_replaced_and_flagged(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"ok\nbad\xfe\n")
    got = _read(_tailer(f))
    assert got[1].message == "bad\ufffd" and got[1].flags == ("invalid_utf8",)


def test_fingerprint_waits_for_a_complete_first_line(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"no newline yet")
    fd = os.open(f, os.O_RDONLY)
    try:
        assert fingerprint(fd) is None
        with f.open("ab") as fh:
            fh.write(b"\nmore\n")
        first = fingerprint(fd)
        with f.open("ab") as fh:
            fh.write(b"even more\n")
        assert first is not None and fingerprint(fd) == first
    finally:
        os.close(fd)


@settings(max_examples=60, deadline=None)
# A trailing CR is stripped on purpose (CRLF files), so generated lines do not end in one.
@given(st.lists(st.binary(max_size=50).filter(lambda b: b"\n" not in b and not b.endswith(b"\r")),
                min_size=1, max_size=30),
       st.integers(1, 7))
def test_any_split_of_writes_yields_every_line_once(tmp_path_factory, lines: list[bytes], pieces: int) -> None:
    f = tmp_path_factory.mktemp("t") / "a.log"
    data = b"".join(line + b"\n" for line in lines)
    f.write_bytes(data[: len(lines[0]) + 1])  # the first line makes the fingerprint
    t = _tailer(f)
    got = _read(t)
    rest = data[len(lines[0]) + 1 :]
    step = max(1, len(rest) // pieces)
    for i in range(0, len(rest), step):
        with f.open("ab") as fh:
            fh.write(rest[i : i + step])
        got += _read(t)
        # The bytes kept to check the file against are exactly the ones before the consumed offset.
        assert t.tail == data[max(0, t.buffer_start - ANCHOR_BYTES) : t.buffer_start]
    assert [e.message for e in got] == [line.decode("utf-8", "replace") for line in lines]
    assert t.resume_offset == len(data)
    assert not t.rewritten


def test_a_long_line_inside_one_read_chunk_is_truncated_too(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"short\n" + b"y" * 5000 + b"\nnext\n")
    got = _read(_tailer(f, max_line=1024))
    assert [(e.seq, len(e.message), e.flags) for e in got] == [(0, 5, ()), (6, 1024, ("truncated",)),
                                                              (5007, 4, ())]


def test_partial_last_line_is_taken_when_the_file_will_not_grow(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"one\nlast without newline")
    t = _tailer(f)
    assert [e.message for e in _read(t)] == ["one"]
    assert t.take_partial() == [(4, b"last without newline", False)]
    assert t.resume_offset == f.stat().st_size


def test_a_rewrite_past_the_offset_with_the_same_first_line_is_noticed(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"=== banner ===\n" + b"".join(b"old %04d\n" % i for i in range(1000)))
    t = _tailer(f)
    assert len(_read(t)) == 1001
    # Truncated and rewritten longer between two reads: the size alone shows nothing.
    f.write_bytes(b"=== banner ===\n" + b"".join(b"new line %04d\n" % i for i in range(1000)))
    assert _read(t) == [] and t.rewritten
    assert _read(t) == []  # and nothing is read from it any more


def test_the_anchor_is_the_hash_of_the_bytes_before_the_checkpoint(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    body = b"".join(b"line %05d\n" % i for i in range(2000))
    f.write_bytes(body + b"partial")
    t = _tailer(f)
    _read(t)
    fd = os.open(f, os.O_RDONLY)
    try:
        # From memory (the consumed offset) and from the file (an earlier offset) alike.
        assert t.anchor(len(body)) == anchor_hash(window(fd, len(body))) == anchor_hash(body[-ANCHOR_BYTES:])
        assert t.anchor(11) == anchor_hash(body[:11])
        assert t.anchor(0) == ""
    finally:
        os.close(fd)

"""The syslog listeners' limits, with real sockets: idle connections are closed, a TLS handshake cannot be
stretched, one sender's connections are capped, idle connections give way to new ones, and the table of senders
stays bounded without two entries ever sharing an identity. (No Kafka here: what the listener hands over is
recorded; tests/integration/test_syslog.py runs the same limits through the real collector and Kafka.)"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.metrics import CollectorMetrics
from collectors.syslog.server import SyslogListener
from logjet.config import CollectorSettings, SyslogInputSettings
from logjet.wire import Entry, Source, decode_record


class Recorder:
    """Stands in for the Kafka output: keeps what the listener ships."""

    full = False

    def __init__(self) -> None:
        self.shipped: list[tuple[Source, Entry]] = []

    def ship(self, input_name: str, source: Source, entries: list[Entry]) -> None:
        self.shipped += [(source, e) for e in entries]

    def ship_records(self, input_name: str, records: list[tuple[bytes, bytes, int]], flagged: list) -> None:
        """What the compiled core encoded, decoded back (the core's records are held to ``ship``'s elsewhere)."""
        for _, value, _ in records:
            batch = decode_record(value, [("logjet-wire", b"1")], topic="t", partition=0, offset=0, timestamp_ms=0)
            self.shipped += [(batch.source, e) for e in batch.entries]


def _listener(**fields: Any) -> SyslogListener:
    settings = SyslogInputSettings(port=0, **fields)
    listener = SyslogListener(settings, CollectorSettings(host_name="node-1"), CollectorMetrics(), run_id=7)
    listener.start()
    return listener


@pytest.fixture
def listeners() -> Iterator[list[SyslogListener]]:
    made: list[SyslogListener] = []
    yield made
    for listener in made:
        listener.stop()


def _closed_by_server(conn: socket.socket, within: float) -> float | None:
    """Seconds until the server closed ``conn`` (end of stream or reset), or None if it stayed open."""
    t0 = time.monotonic()
    conn.settimeout(within)
    try:
        data = conn.recv(1)
    except TimeoutError:
        return None
    except ConnectionResetError:
        data = b""
    return time.monotonic() - t0 if data == b"" else None


def _closed(listener: SyslogListener, reason: str) -> float:
    return listener.metrics.connections_closed.labels(listener.name, reason)._value.get()


def test_listeners_bind_to_loopback_unless_told() -> None:
    assert SyslogInputSettings(protocol="udp").host == "127.0.0.1"
    assert SyslogInputSettings(protocol="tcp").host == "127.0.0.1"


def test_an_idle_connection_is_closed_and_a_talking_one_is_not(listeners: list[SyslogListener]) -> None:
    listener = _listener(protocol="tcp", idle_timeout_s=1.0)
    listeners.append(listener)
    with socket.create_connection(("127.0.0.1", listener.port)) as idle, \
            socket.create_connection(("127.0.0.1", listener.port)) as talker:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.5:  # a message every 0.3 s keeps a connection alive past the timeout
            talker.sendall(b"<13>still here\n")
            time.sleep(0.3)
        assert _closed_by_server(idle, within=0.1) is not None or _closed_by_server(idle, within=1.0) is not None
        assert _closed_by_server(talker, within=0.2) is None
    assert _closed(listener, "idle_timeout") >= 1


def test_a_trickled_tls_handshake_is_cut_at_its_deadline(listeners: list[SyslogListener], tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    listener = _listener(protocol="tcp", tls={"cert_file": str(cert), "key_file": str(key)},
                         tls_handshake_timeout_s=1.5, idle_timeout_s=60)
    listeners.append(listener)
    # A real ClientHello, sent one byte every 0.2 s: every read makes progress, none completes the handshake.
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    hello = outgoing.read()
    with socket.create_connection(("127.0.0.1", listener.port)) as conn:
        t0 = time.monotonic()
        closed_at = None
        for byte in hello[:-1]:
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                closed_at = time.monotonic() - t0
                break
            if _closed_by_server(conn, within=0.2) is not None:
                closed_at = time.monotonic() - t0
                break
    assert closed_at is not None and 1.0 < closed_at < 3.5, closed_at
    assert _closed(listener, "handshake_timeout") == 1
    # A real client still gets through.
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", listener.port)) as raw, ctx.wrap_socket(raw) as tls:
        tls.sendall(b"<13>Nov 25 14:02:07 host app: over tls\n")
    deadline = time.monotonic() + 5
    rec = Recorder()
    while not rec.shipped and time.monotonic() < deadline:
        listener.drain(rec)  # type: ignore[arg-type]
        time.sleep(0.05)
    assert [e.message for _, e in rec.shipped] == ["over tls"]


def _connect_from(address: str, port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind((address, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def test_one_sender_cannot_hold_more_than_its_share(listeners: list[SyslogListener]) -> None:
    listener = _listener(protocol="tcp", max_connections_per_source=5, max_connections=100)
    listeners.append(listener)
    socks = [_connect_from("127.0.0.1", listener.port) for _ in range(12)]
    try:
        time.sleep(0.5)
        open_ = [s for s in socks if _closed_by_server(s, within=0.05) is None]
        assert len(open_) == 5
        assert _closed(listener, "per_source_limit") == 7
        other = _connect_from("127.0.0.2", listener.port)  # another sender is not held back
        assert _closed_by_server(other, within=0.3) is None
        other.close()
    finally:
        for s in socks:
            s.close()


def test_idle_connections_give_way_to_a_new_sender(listeners: list[SyslogListener]) -> None:
    listener = _listener(protocol="tcp", max_connections=20, max_connections_per_source=64)
    listeners.append(listener)
    socks = [_connect_from(f"127.0.3.{i % 5 + 1}", listener.port) for i in range(30)]
    try:
        time.sleep(0.3)
        assert sum(_closed_by_server(s, within=0.02) is None for s in socks) == 20  # full: fresh ones refused
        assert _closed(listener, "max_connections") == 10
        time.sleep(1.0)  # now they are idle
        sender = _connect_from("127.0.0.9", listener.port)
        sender.sendall(b"<13>Nov 25 14:02:07 host app: a real sender\n")
        assert _closed_by_server(sender, within=0.3) is None
        rec = Recorder()
        deadline = time.monotonic() + 5
        while not rec.shipped and time.monotonic() < deadline:
            listener.drain(rec)  # type: ignore[arg-type]
            time.sleep(0.05)
        assert [e.message for _, e in rec.shipped] == ["a real sender"]
        assert _closed(listener, "replaced_idle") == 1
        sender.close()
    finally:
        for s in socks:
            s.close()


def test_the_udp_sender_table_is_bounded_and_identities_stay_unique(listeners: list[SyslogListener]) -> None:
    listener = _listener(protocol="udp", max_senders=50)
    listeners.append(listener)
    rec = Recorder()
    for rounds in range(2):  # every sender twice: the second time, most were forgotten in between
        for i in range(300):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind((f"127.0.4.{i % 250 + 1}" if i < 250 else f"127.0.5.{i - 249}", 0))
                s.sendto(b"<13>from %d round %d" % (i, rounds), ("127.0.0.1", listener.port))
            if i % 50 == 49:
                time.sleep(0.05)
                listener.drain(rec)  # type: ignore[arg-type]
                assert len(listener._sources) <= 50
    deadline = time.monotonic() + 5
    while len(rec.shipped) < 600 and time.monotonic() < deadline:
        listener.drain(rec)  # type: ignore[arg-type]
        time.sleep(0.05)
    assert len(rec.shipped) == 600
    assert len(listener._sources) <= 50
    ids = {(source.id, entry.seq) for source, entry in rec.shipped}
    assert len(ids) == 600
    assert len({source.id for source, _ in rec.shipped}) == 300


def test_a_command_line_address_without_host_is_loopback() -> None:
    from cli.app import _address

    assert _address(":5514") == ("127.0.0.1", 5514)
    assert _address("0.0.0.0:514") == ("0.0.0.0", 514)

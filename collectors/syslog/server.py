"""Syslog listeners: UDP, and TCP (optionally TLS), feeding the collector's main loop through bounded queues.

Back-pressure differs by transport, as it must. TCP connection threads block on a full queue, so they stop reading
their sockets and the senders' TCP windows close: nothing is lost. UDP has no way to slow a sender: its queue is
bounded and what does not fit is dropped and counted (``logjet_collector_entries_dropped{reason="queue_full"}``).

Syslog cannot be replayed, so entries get identities unique to this run of the collector: the source id carries
the listener, the sender's address and the time the collector started.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections import deque

from collectors.metrics import CollectorMetrics
from collectors.output import Output
from collectors.syslog.framing import Framer
from logjet.config import CollectorSettings, SyslogInputSettings
from logjet.errors import ConfigError
from logjet.formats.syslog import parse
from logjet.wire import FLAG_TRUNCATED, Entry, Source

__all__ = ["SyslogListener"]

log = logging.getLogger("logjet.collector.syslog")

# (raw message, sender ip, receive time, truncated)
Received = tuple[bytes, str, int, bool]
DRAIN_MAX = 20000


class _HeldMessages:
    """Messages held between TCP connection threads and the main loop, bounded by a count of messages.

    Connections hand over everything one read completed at once (one lock round-trip per read, not per message);
    a read is refused while the bound is reached, so the overshoot is at most one read's messages per connection.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._items: deque[Received] = deque()
        self._cond = threading.Condition()

    def put(self, items: list[Received], timeout: float) -> bool:
        with self._cond:
            if self.count >= self.limit and not self._cond.wait_for(lambda: self.count < self.limit, timeout):
                return False
            self._items.extend(items)
            self.count += len(items)
            return True

    def force(self, items: list[Received]) -> None:
        with self._cond:
            self._items.extend(items)
            self.count += len(items)

    def take(self, limit: int) -> list[Received]:
        with self._cond:
            items = self._items
            n = min(limit, len(items))
            out = [items.popleft() for _ in range(n)]
            self.count -= n
            if n:
                self._cond.notify_all()
            return out


class SyslogListener:
    def __init__(self, settings: SyslogInputSettings, collector: CollectorSettings, metrics: CollectorMetrics,
                 run_id: int) -> None:
        self.settings = settings
        self.cs = collector
        self.metrics = metrics
        self.run_id = run_id
        self.name = f"syslog_{settings.protocol}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._sources: dict[str, Source] = {}
        self._seq: dict[str, int] = {}
        self._ssl = self._tls_context() if settings.tls else None
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        kind = socket.SOCK_DGRAM if settings.protocol == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(family, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((settings.host, settings.port))
        except OSError as exc:
            self.sock.close()
            raise ConfigError(f"syslog {settings.protocol} listener cannot bind {settings.host}:{settings.port}: "
                              f"{exc.strerror}") from exc
        self.port = self.sock.getsockname()[1]
        if settings.protocol == "udp":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            self._udp: deque[Received] = deque()
        else:
            self.sock.listen(128)
            self._tcp = _HeldMessages(settings.queue_max)
        self.sock.settimeout(0.5)

    def _tls_context(self) -> ssl.SSLContext:
        tls = self.settings.tls
        assert tls is not None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
            if tls.ca_file is not None:
                ctx.load_verify_locations(str(tls.ca_file))
                ctx.verify_mode = ssl.CERT_REQUIRED
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"syslog TLS certificate or key unusable: {exc}") from exc
        return ctx

    # -- receiving (listener threads) ---------------------------------------------------------------------
    def start(self) -> None:
        target = self._serve_udp if self.settings.protocol == "udp" else self._serve_tcp
        t = threading.Thread(target=target, name=f"{self.name}:{self.port}", daemon=True)
        t.start()
        self._threads.append(t)
        log.info("syslog %s listening on %s:%d%s", self.settings.protocol, self.settings.host, self.port,
                 " (TLS)" if self._ssl else "")

    def _serve_udp(self) -> None:
        limit = self.settings.max_message_bytes
        dropped = self.metrics.entries_dropped.labels(self.name, "queue_full")
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                raise
            if len(self._udp) >= self.settings.queue_max:
                dropped.inc()
                continue
            cut = len(data) > limit
            self._udp.append((data[:limit] if cut else data, addr[0], time.time_ns(), cut))

    def _serve_tcp(self) -> None:
        refused = self.metrics.entries_dropped.labels(self.name, "connection_refused")
        while not self._stop.is_set():
            try:
                conn, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                raise
            with self._conns_lock:
                if len(self._conns) >= self.settings.max_connections:
                    refused.inc()
                    conn.close()
                    continue
                self._conns.add(conn)
            t = threading.Thread(target=self._connection, args=(conn, addr[0]), daemon=True,
                                 name=f"{self.name}:{addr[0]}:{addr[1]}")
            t.start()

    def _connection(self, conn: socket.socket, peer: str) -> None:
        gauge = self.metrics.connections.labels(self.name)
        gauge.inc()
        framer = Framer(self.settings.max_message_bytes)
        try:
            if self._ssl is not None:
                conn.settimeout(10)
                conn = self._ssl.wrap_socket(conn, server_side=True)
            conn.settimeout(0.5)
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    self._put(framer.finish(), peer)
                    return
                self._put(framer.feed(data), peer)
        except (OSError, ssl.SSLError) as exc:
            log.warning("syslog connection from %s ended: %s", peer, exc)
        finally:
            gauge.dec()
            with self._conns_lock:
                self._conns.discard(conn)
            conn.close()

    def _put(self, msgs: list[tuple[bytes, bool]], peer: str) -> None:
        if not msgs:
            return
        now = time.time_ns()  # what one read completed arrived together
        items = [(msg, peer, now, cut) for msg, cut in msgs]
        # A full queue blocks this connection's reads: the sender waits instead of losing messages.
        while not self._stop.is_set():
            if self._tcp.put(items, timeout=0.5):
                return
        self._tcp.force(items)  # stopping: the main loop drains everything before it exits

    # -- shipping (main thread) ---------------------------------------------------------------------------
    def _take(self, limit: int) -> list[Received]:
        out: list[Received] = []
        if self.settings.protocol == "udp":
            q = self._udp
            while q and len(out) < limit:
                out.append(q.popleft())
        else:
            out = self._tcp.take(limit)
        return out

    @property
    def queued(self) -> int:
        return len(self._udp) if self.settings.protocol == "udp" else self._tcp.count

    def _source(self, peer: str) -> Source:
        source = self._sources.get(peer)
        if source is None:
            sid = f"syslog:{self.cs.host_name}:{self.settings.protocol}:{self.port}:{peer}:{self.run_id}"
            tags = {"source.ip": peer, "network.transport": self.settings.protocol, **self.settings.tags}
            source = self._sources[peer] = Source(sid, "syslog", self.cs.host_name,
                                                  self.cs.collector_id or self.cs.host_name, None, tags)
            self._seq[peer] = 0
        return source

    def drain(self, output: Output) -> int:
        """Parse and ship what the listener received, as long as Kafka keeps up; returns how many."""
        if output.full:
            return 0
        items = self._take(DRAIN_MAX)
        self.metrics.queue_depth.labels(self.name).set(self.queued)
        if not items:
            return 0
        by_peer: dict[str, list[Entry]] = {}
        nbytes = 0
        for raw, peer, recv_ns, cut in items:
            nbytes += len(raw)
            p = parse(raw, recv_ns)
            seq = self._seq.get(peer, 0)
            self._source(peer)
            self._seq[peer] = seq + 1
            flags = (FLAG_TRUNCATED, *p.flags) if cut else p.flags
            by_peer.setdefault(peer, []).append(Entry(seq, p.time_ns or recv_ns, p.message, flags, p.attrs))
        self.metrics.lines_read.labels(self.name).inc(len(items))
        self.metrics.bytes_read.labels(self.name).inc(nbytes)
        for peer, entries in by_peer.items():
            output.ship(self.name, self._source(peer), entries)
        return len(items)

    def stop(self) -> None:
        """Stop receiving; what is queued stays for the last drains."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self.sock.close()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

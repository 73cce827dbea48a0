"""Syslog listeners: UDP, and TCP (optionally TLS), feeding the collector's main loop through bounded queues.

Back-pressure differs by transport, as it must. TCP connection threads block on a full queue, so they stop reading
their sockets and the senders' TCP windows close: nothing is lost. UDP has no way to slow a sender: its queue is
bounded and what does not fit is dropped and counted (``logjet_collector_entries_dropped{reason="queue_full"}``).

Syslog cannot be replayed, so entries get identities unique to this run of the collector: the source id carries
the listener, the sender's address and the time the collector started, and the sequence is one counter per listener,
so forgetting a sender (the table of senders is bounded) never gives two entries the same identity.

The work per message runs on the compiled core unless ``LOGJET_CORE=python`` (``core.py``): UDP datagrams are
received by its ``UdpReceiver`` (many per call, the GIL released while it waits), TCP streams are framed by its
``Framer``, and each drain is one call that parses the batch, makes its entries and encodes their wire records, which
``Output.ship_records`` sends; the Python path (``recvfrom``, ``framing.Framer``, ``logjet.formats.syslog.parse``,
``Output.ship``) gives the same records.

Load cannot take a TCP listener from its real senders: each sender address has at most
``max_connections_per_source`` connections; a connection silent for ``idle_timeout_s`` is closed (a TLS handshake
counts as silence, and must also end within ``tls_handshake_timeout_s`` in all); and when ``max_connections`` are
open, a new connection replaces the one idle longest instead of being refused.
"""

from __future__ import annotations

import errno
import logging
import math
import resource
import select
import socket
import ssl
import threading
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from collectors.metrics import CollectorMetrics
from collectors.output import Output
from collectors.syslog import framing
from collectors.syslog.core import native
from logjet.config import CollectorSettings, SyslogInputSettings
from logjet.errors import ConfigError
from logjet.formats.syslog import parse
from logjet.wire import FLAG_TRUNCATED, Entry, Source

__all__ = ["SyslogListener"]

log = logging.getLogger("logjet.collector.syslog")

# (raw message, sender ip, receive time, truncated)
Received = tuple[bytes, str, int, bool]
Framer = native.Framer if native is not None else framing.Framer
DRAIN_MAX = 20000
# Datagrams the compiled core receives per call at most.
UDP_BATCH = 1024
# A connection must have been silent this long to be replaced by a new one: busy senders are never churned.
EVICT_MIN_IDLE_S = 1.0
POLL_S = 0.5
# Descriptors beyond the connections: files, Kafka's sockets, the metrics port.
FD_MARGIN = 256
_fd_lock = threading.Lock()
_fds_reserved = FD_MARGIN


def _reserve_fds(count: int, what: str) -> None:
    """Raise this process's soft descriptor limit to fit ``count`` more, or refuse to start saying what to change.

    A listener that runs out of descriptors cannot accept even its real senders, so the limit is checked up front.
    """
    global _fds_reserved
    with _fd_lock:
        needed = _fds_reserved + count
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < needed:
            target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            if target < needed:
                raise ConfigError(f"{what} needs about {needed} file descriptors and the hard limit is {hard}: "
                                  "raise it (ulimit -n, LimitNOFILE, the container's nofile ulimit) or lower "
                                  "max_connections")
        _fds_reserved = needed


def _release_fds(count: int) -> None:
    global _fds_reserved
    with _fd_lock:
        _fds_reserved -= count


@dataclass(eq=False)
class _Connection:
    sock: socket.socket
    peer: str
    last_activity: float = field(default_factory=time.monotonic)
    closing: str | None = None  # why the listener closes it, once decided

    def close_because(self, reason: str) -> None:
        """Wake the connection's thread (its read returns end of stream) so it ends itself."""
        self.closing = reason
        try:
            # The plain socket's shutdown, also under TLS: SSLSocket.shutdown would drop the TLS state under the
            # reading thread's feet.
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass


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
        self._conns: set[_Connection] = set()
        self._per_source: Counter[str] = Counter()
        self._conns_lock = threading.Lock()
        self._sources: OrderedDict[str, Source] = OrderedDict()
        self._seq = 0
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
            try:
                _reserve_fds(settings.max_connections, f"syslog tcp listener {settings.host}:{self.port}")
            except ConfigError:
                self.sock.close()
                raise
            self.sock.listen(1024)  # a burst of connections waits for accept() instead of being dropped
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
        if native is not None:
            self._serve_udp_native(dropped)
            return
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

    def _serve_udp_native(self, dropped: Any) -> None:
        """``_serve_udp`` with the receiving in the core: many datagrams per call, the GIL released while it waits."""
        receiver = native.UdpReceiver(self.sock.fileno(), self.settings.max_message_bytes, POLL_S)
        queue, queue_max = self._udp, self.settings.queue_max
        try:
            while not self._stop.is_set():
                items = receiver.recv(UDP_BATCH)
                room = queue_max - len(queue)
                if len(items) > room:
                    dropped.inc(len(items) - max(room, 0))
                    items = items[:max(room, 0)]
                queue.extend(items)
        except OSError:
            if not self._stop.is_set():
                raise
        finally:
            del receiver  # its duplicate of the socket: the port is free once the listener closes its own

    def _serve_tcp(self) -> None:
        refused = self.metrics.entries_dropped.labels(self.name, "connection_refused")
        while not self._stop.is_set():
            try:
                sock, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    return
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ECONNABORTED):
                    # Out of descriptors or memory for a moment: the listener stays up for when they return.
                    refused.inc()
                    log.warning("syslog tcp listener on port %d cannot accept: %s", self.port, exc.strerror)
                    time.sleep(0.1)
                    continue
                raise
            conn = self._admit(sock, addr[0])
            if conn is None:
                refused.inc()
                sock.close()
                continue
            t = threading.Thread(target=self._connection, args=(conn,), daemon=True,
                                 name=f"{self.name}:{addr[0]}:{addr[1]}")
            t.start()

    def _admit(self, sock: socket.socket, peer: str) -> _Connection | None:
        closed = self.metrics.connections_closed
        with self._conns_lock:
            if self._per_source[peer] >= self.settings.max_connections_per_source:
                closed.labels(self.name, "per_source_limit").inc()
                return None
            open_ = [c for c in self._conns if c.closing is None]
            if len(open_) >= self.settings.max_connections:
                victim = min(open_, key=lambda c: c.last_activity)
                if time.monotonic() - victim.last_activity < EVICT_MIN_IDLE_S:
                    closed.labels(self.name, "max_connections").inc()
                    return None
                victim.close_because("replaced_idle")
            conn = _Connection(sock, peer)
            self._conns.add(conn)
            self._per_source[peer] += 1
            return conn

    def _release(self, conn: _Connection, reason: str) -> None:
        with self._conns_lock:
            self._conns.discard(conn)
            self._per_source[conn.peer] -= 1
            if self._per_source[conn.peer] <= 0:
                del self._per_source[conn.peer]
        self.metrics.connections_closed.labels(self.name, conn.closing or reason).inc()

    def _handshake(self, conn: _Connection) -> None:
        """TLS handshake within its deadline, counted from the accept: a peer trickling bytes cannot stretch it."""
        assert self._ssl is not None
        budget = min(self.settings.tls_handshake_timeout_s, self.settings.idle_timeout_s)
        deadline = conn.last_activity + budget
        conn.sock.setblocking(False)
        tls = self._ssl.wrap_socket(conn.sock, server_side=True, do_handshake_on_connect=False)
        conn.sock = tls
        poller = select.poll()  # not select(): descriptors above 1024 are expected under load
        while True:
            try:
                tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                poller.register(tls, select.POLLIN)
            except ssl.SSLWantWriteError:
                poller.register(tls, select.POLLOUT)
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.is_set() or conn.closing:
                raise TimeoutError("TLS handshake not finished in time")
            poller.poll(min(left, POLL_S) * 1000)
            poller.unregister(tls)

    def _connection(self, conn: _Connection) -> None:
        gauge = self.metrics.connections.labels(self.name)
        gauge.inc()
        framer = Framer(self.settings.max_message_bytes)
        reason = "closed_by_peer"
        peer = conn.peer
        try:
            if self._ssl is not None:
                try:
                    self._handshake(conn)
                except TimeoutError:
                    reason = "handshake_timeout"
                    return
            conn.sock.settimeout(POLL_S)
            idle_timeout = self.settings.idle_timeout_s
            while not self._stop.is_set():
                try:
                    data = conn.sock.recv(65536)
                except TimeoutError:
                    if time.monotonic() - conn.last_activity >= idle_timeout:
                        reason = "idle_timeout"
                        return
                    continue
                if not data:
                    self._put(framer.finish(), peer)
                    return
                # While its messages wait for room (Kafka slow), the connection is busy, not idle: it is neither
                # timed out nor replaced; its sender's silence is counted from when it reads again.
                conn.last_activity = math.inf
                self._put(framer.feed(data), peer)
                conn.last_activity = time.monotonic()
        except (OSError, ssl.SSLError) as exc:
            reason = "error"
            if conn.closing is None:
                log.warning("syslog connection from %s ended: %s", peer, exc)
        finally:
            gauge.dec()
            self._release(conn, reason)
            conn.sock.close()

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
            if len(self._sources) > self.settings.max_senders:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(peer)
        return source

    def drain(self, output: Output) -> int:
        """Parse and ship what the listener received, as long as Kafka keeps up; returns how many."""
        if output.full:
            return 0
        items = self._take(DRAIN_MAX)
        self.metrics.queue_depth.labels(self.name).set(self.queued)
        if not items:
            return 0
        if native is None:
            self._ship_python(items, output)
        else:
            cs = self.cs
            records, flagged, nbytes = native.syslog_drain(items, self._seq, self._source, cs.batch_max_entries,
                                                           cs.batch_max_bytes, cs.record_max_bytes)
            self._seq += len(items)
            self.metrics.lines_read.labels(self.name).inc(len(items))
            self.metrics.bytes_read.labels(self.name).inc(nbytes)
            output.ship_records(self.name, records, flagged)
        return len(items)

    def _ship_python(self, items: list[Received], output: Output) -> None:
        """The reference of ``native.syslog_drain``: parse each message, make its entry, ship each sender's."""
        by_peer: dict[str, list[Entry]] = {}
        nbytes = 0
        seq = self._seq
        for raw, peer, recv_ns, cut in items:
            nbytes += len(raw)
            p = parse(raw, recv_ns)
            flags = (FLAG_TRUNCATED, *p.flags) if cut else p.flags
            by_peer.setdefault(peer, []).append(Entry(seq, p.time_ns or recv_ns, p.message, flags, p.attrs))
            seq += 1
        self._seq = seq
        self.metrics.lines_read.labels(self.name).inc(len(items))
        self.metrics.bytes_read.labels(self.name).inc(nbytes)
        for peer, entries in by_peer.items():
            output.ship(self.name, self._source(peer), entries)

    def stop(self) -> None:
        """Stop receiving; what is queued stays for the last drains."""
        if self._stop.is_set():
            return
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self.sock.close()
        if self.settings.protocol == "tcp":
            _release_fds(self.settings.max_connections)
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            conn.close_because("stopping")

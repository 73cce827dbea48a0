"""The demo of `logjet up`: a small shop whose logs reach the collector through every input, as in production.

- a Docker data root: ``containers/<id>/<id>-json.log`` (the json-file driver's records, a line over 16 KiB cut into
  16 KiB records as Docker cuts it) beside ``config.v2.json`` (name, image, labels);
- a Kubernetes ``/var/log/pods`` tree: ``<namespace>_<pod>_<uid>/<container>/0.log`` in the CRI format, long lines
  written as ``P`` parts up to the ``F`` one, for pods in the namespaces ``shop`` and ``platform``;
- syslog sent to the collector's listeners: RFC 3164 over UDP from a router, RFC 5424 over TCP (octet counting) from
  the database host;
- an application file with multi-line Java stack traces, for the file input's multi-line joining.

The messages tell a story that repeats every ``CYCLE_S`` seconds: a slow database (the inventory service's queries
grow slower, the database host logs slow statements) and then an error burst in the payments service (its gateway
fails; checkout, the ingress and the backend report it). Levels fit the messages. At start the last
``HISTORY_S`` seconds are written at once, incidents included, so the histogram has a story from the first look.
Deterministic for a given seed and start time.
"""

from __future__ import annotations

import hashlib
import random
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

__all__ = ["CYCLE_S", "DemoSource", "DemoSyslog"]

CYCLE_S = 300
HISTORY_S = 300
# Where in the cycle the incidents are: the database slows down over [SLOW_FROM, SLOW_TO), payments fail over
# [BURST_FROM, BURST_TO). History starts at phase 0, so both are in it.
SLOW_FROM, SLOW_TO = 120, 280
BURST_FROM, BURST_TO = 200, 240
DOCKER_SPLIT = 16 * 1024  # Docker's json-file driver cuts lines into records of at most 16 KiB
CRI_SPLIT = 16 * 1024  # containerd and CRI-O cut at 16 KiB as well

# What the demo writes, named for the example queries `logjet up` prints.
CONTAINERS = {  # Docker containers: name -> (image, service, labels)
    "shop-checkout": ("registry.example.com/shop/checkout:1.14.2", "checkout",
                      {"com.example.team": "shop", "com.docker.compose.project": "shop"}),
    "shop-payments": ("registry.example.com/shop/payments:3.2.0", "payments",
                      {"com.example.team": "payments", "com.docker.compose.project": "shop"}),
    "shop-frontend": ("nginx:1.27-alpine", "frontend",
                      {"com.example.team": "shop", "com.docker.compose.project": "shop"}),
}
PODS = {  # Kubernetes pods: (namespace, pod) -> container
    ("shop", "cart-7d9f8b6c4-x2k9p"): "cart",
    ("shop", "inventory-5c6d7f8b9-qw8rt"): "inventory",
    ("platform", "ingress-nginx-controller-6b8c9d-h4m2z"): "controller",
}
SYSLOG_UDP_HOST = "edge-router-1"
SYSLOG_TCP_HOST = "db-1"
APP_FILE = "shop-backend.log"
MULTILINE_START = r"^\d{4}-\d\d-\d\d "


def _cid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


@dataclass(frozen=True)
class DemoSyslog:
    """The collector's syslog listeners the demo sends to (loopback)."""

    udp_port: int
    tcp_port: int
    host: str = "127.0.0.1"


class _Writer:
    """The demo's outputs: files held open and appended to, and the syslog sockets."""

    def __init__(self, root: Path, syslog: DemoSyslog | None) -> None:
        self.root = root
        self.syslog = syslog
        self.files: dict[str, TextIO] = {}
        self.udp: socket.socket | None = None
        self.tcp: socket.socket | None = None
        self.pending_syslog: list[tuple[str, bytes]] = []

    def docker_dir(self, name: str) -> Path:
        return self.root / "docker" / "containers" / _cid(name)

    def pod_file(self, namespace: str, pod: str, container: str) -> Path:
        uid = hashlib.md5(pod.encode()).hexdigest()  # noqa: S324 - a stable made-up pod uid, not security
        uid = f"{uid[:8]}-{uid[8:12]}-{uid[12:16]}-{uid[16:20]}-{uid[20:32]}"
        return self.root / "pods" / f"{namespace}_{pod}_{uid}" / container / "0.log"

    def layout(self, started: float) -> None:
        for name, (image, _service, labels) in CONTAINERS.items():
            directory = self.docker_dir(name)
            directory.mkdir(parents=True, exist_ok=True)
            cid = _cid(name)
            config = {"ID": cid, "Name": f"/{name}", "Created": _rfc3339(started - HISTORY_S - 60),
                      "Config": {"Image": image, "Labels": labels, "Hostname": cid[:12]},
                      "State": {"Running": True}, "LogPath": str(directory / f"{cid}-json.log")}
            (directory / "config.v2.json").write_bytes(orjson.dumps(config))
        for (namespace, pod), container in PODS.items():
            self.pod_file(namespace, pod, container).parent.mkdir(parents=True, exist_ok=True)
        (self.root / "app").mkdir(parents=True, exist_ok=True)

    def _file(self, path: Path) -> TextIO:
        fh = self.files.get(str(path))
        if fh is None:
            fh = self.files[str(path)] = path.open("a", encoding="utf-8")
        return fh

    def docker(self, name: str, t: float, line: str, stream: str = "stdout") -> None:
        fh = self._file(self.docker_dir(name) / f"{_cid(name)}-json.log")
        data = line.encode()
        pieces = [data[i:i + DOCKER_SPLIT] for i in range(0, len(data), DOCKER_SPLIT)] or [b""]
        for i, piece in enumerate(pieces):
            text = piece.decode("utf-8", "ignore") + ("\n" if i == len(pieces) - 1 else "")
            fh.write(orjson.dumps({"log": text, "stream": stream, "time": _rfc3339(t)}).decode() + "\n")

    def cri(self, namespace: str, pod: str, line: str, t: float, stream: str = "stdout") -> None:
        fh = self._file(self.pod_file(namespace, pod, PODS[(namespace, pod)]))
        pieces = [line[i:i + CRI_SPLIT] for i in range(0, len(line), CRI_SPLIT)] or [""]
        for i, piece in enumerate(pieces):
            fh.write(f"{_rfc3339(t)} {stream} {'F' if i == len(pieces) - 1 else 'P'} {piece}\n")

    def app(self, text: str) -> None:
        self._file(self.root / "app" / APP_FILE).write(text + "\n")

    def flush(self) -> None:
        for fh in self.files.values():
            fh.flush()

    def send_syslog(self, protocol: str, message: str) -> None:
        self.pending_syslog.append((protocol, message.encode()))

    def deliver_syslog(self) -> bool:
        """Send what is pending; False while the listeners are not up yet (kept for the next try)."""
        if self.syslog is None:
            self.pending_syslog.clear()
            return True
        if self.tcp is None:
            # The collector opens both listeners together: the TCP one accepting means UDP is read as well.
            try:
                self.tcp = socket.create_connection((self.syslog.host, self.syslog.tcp_port), timeout=2)
            except OSError:
                return False
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = 0
        try:
            for protocol, data in self.pending_syslog:
                if protocol == "udp":
                    self.udp.sendto(data, (self.syslog.host, self.syslog.udp_port))  # type: ignore[union-attr]
                else:  # RFC 6587 octet counting
                    self.tcp.sendall(f"{len(data)} ".encode() + data)
                sent += 1
                if sent % 200 == 0:
                    time.sleep(0.01)  # a burst of history stays within what a UDP socket buffer holds
        except OSError:
            self.tcp.close()
            self.tcp = None
            del self.pending_syslog[:sent]
            return False
        self.pending_syslog.clear()
        return True

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()
        for sock in (self.udp, self.tcp):
            if sock is not None:
                sock.close()


class _Shop:
    """What happens in the shop during one second of its cycle: the log lines of every component."""

    def __init__(self, rng: random.Random, out: _Writer) -> None:
        self.rng = rng
        self.out = out

    def second(self, t: float, phase: int, scale: float) -> None:
        rng = self.rng
        burst = BURST_FROM <= phase < BURST_TO
        slow = SLOW_FROM <= phase < SLOW_TO
        # Latency of the inventory database: flat, then rising through the slow window, then back.
        db_ms = 12 + (int(3200 * ((phase - SLOW_FROM) / (SLOW_TO - SLOW_FROM)) ** 2) if slow else 0)
        for _ in range(self._n(2.0 * scale)):
            self._checkout(t + rng.random(), burst)
        for _ in range(self._n((6.0 if burst else 1.0) * scale)):
            self._payments(t + rng.random(), burst)
        for _ in range(self._n(2.0 * scale)):
            self._frontend(t + rng.random(), burst)
        for _ in range(self._n(1.5 * scale)):
            self._cart(t + rng.random())
        for _ in range(self._n(1.0 * scale)):
            self._inventory(t + rng.random(), db_ms)
        for _ in range(self._n(1.5 * scale)):
            self._ingress(t + rng.random(), burst)
        for _ in range(self._n(1.0 * scale)):
            self._backend(t + rng.random(), burst)
        for _ in range(self._n(0.5 * scale)):
            self._router(t + rng.random())
        for _ in range(self._n((1.5 if slow else 0.3) * scale)):
            self._database(t + rng.random(), db_ms)
        if phase % 90 == 45:  # a request body dumped whole: one line over 16 KiB, split by the runtime
            self._large_lines(t)

    def _n(self, mean: float) -> int:
        whole = int(mean)
        return whole + (1 if self.rng.random() < mean - whole else 0)

    @staticmethod
    def _json(t: float, level: str, service: str, msg: str, **fields: Any) -> str:
        return orjson.dumps({"time": _rfc3339(t), "level": level, "service": service, "msg": msg, **fields}).decode()

    def _order(self) -> int:
        return self.rng.randint(100_000, 999_999)

    def _checkout(self, t: float, burst: bool) -> None:
        rng, order = self.rng, self._order()
        if burst and rng.random() < 0.6:
            line = self._json(t, "error", "checkout", f"checkout failed for order {order}: payments returned 502",
                              order_id=order, upstream="payments", http_status=502)
        else:
            line = self._json(t, "info", "checkout", f"order placed order_id={order} "
                              f"amount={rng.uniform(5, 400):.2f} items={rng.randint(1, 6)}", order_id=order)
        self.out.docker("shop-checkout", t, line)

    def _payments(self, t: float, burst: bool) -> None:
        rng, order = self.rng, self._order()
        if burst and rng.random() < 0.8:
            line = self._json(t, "error", "payments", "payment gateway error: upstream returned 503 after "
                              f"{rng.randint(2900, 3100)}ms, charge failed for order {order}", order_id=order,
                              gateway="acquirer-eu", attempt=rng.randint(1, 3))
            self.out.docker("shop-payments", t, line, stream="stderr")
        elif rng.random() < 0.1:
            line = self._json(t, "warn", "payments", f"card declined for order {order} (insufficient funds)",
                              order_id=order)
            self.out.docker("shop-payments", t, line)
        else:
            line = self._json(t, "info", "payments", f"charge authorized for order {order} in "
                              f"{rng.randint(80, 240)}ms", order_id=order, gateway="acquirer-eu")
            self.out.docker("shop-payments", t, line)

    def _frontend(self, t: float, burst: bool) -> None:
        rng = self.rng
        path, status = rng.choice((("/", 200), ("/products/42", 200), ("/cart", 200), ("/static/app.js", 304)))
        if burst and rng.random() < 0.4:
            path, status = "/checkout", 502
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
        line = (f'10.0.{rng.randint(0, 3)}.{rng.randint(2, 250)} - - [{stamp}] "GET {path} HTTP/1.1" {status} '
                f'{rng.randint(200, 9000)} "-" "Mozilla/5.0 (X11; Linux x86_64)"')
        self.out.docker("shop-frontend", t, line)

    def _cart(self, t: float) -> None:
        rng = self.rng
        user = rng.randint(1, 5000)
        msg = rng.choice((f"item added to cart user={user} sku=SKU-{rng.randint(100, 999)}",
                          f"cart loaded user={user} items={rng.randint(0, 8)}",
                          f"cache miss for key cart:{user}"))
        level = "debug" if msg.startswith("cache") else "info"
        self.out.cri("shop", "cart-7d9f8b6c4-x2k9p", self._json(t, level, "cart", msg), t)

    def _inventory(self, t: float, db_ms: int) -> None:
        rng = self.rng
        sku = f"SKU-{rng.randint(100, 999)}"
        took = max(1, int(db_ms * rng.uniform(0.7, 1.3)))
        if took >= 3000:
            line = self._json(t, "error", "inventory", f"stock lookup for {sku} failed: database query timeout after "
                              "3000ms", sku=sku, db="postgres://db-1/inventory", duration_ms=3000)
        elif took >= 500:
            line = self._json(t, "warn", "inventory", f"slow database query: stock lookup for {sku} took {took}ms",
                              sku=sku, db="postgres://db-1/inventory", duration_ms=took)
        else:
            line = self._json(t, "info", "inventory", f"stock lookup for {sku} took {took}ms", sku=sku,
                              duration_ms=took)
        self.out.cri("shop", "inventory-5c6d7f8b9-qw8rt", line, t)

    def _ingress(self, t: float, burst: bool) -> None:
        rng = self.rng
        path, status = rng.choice((("/api/cart", 200), ("/api/products", 200), ("/api/checkout", 201)))
        if burst and rng.random() < 0.5:
            path, status = "/api/checkout", 502
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
        line = (f'203.0.113.{rng.randint(1, 254)} - - [{stamp}] "POST {path} HTTP/1.1" {status} '
                f'{rng.randint(100, 4000)} "-" "shop-app/2.3 (Android 14)" {rng.uniform(0.01, 0.4):.3f}')
        self.out.cri("platform", "ingress-nginx-controller-6b8c9d-h4m2z", line, t)

    def _backend(self, t: float, burst: bool) -> None:
        rng = self.rng
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f",{int(t % 1 * 1000):03d}"
        thread = f"http-nio-8080-exec-{rng.randint(1, 12)}"
        if burst and rng.random() < 0.5:
            order = self._order()
            self.out.app(
                f"{stamp} ERROR [{thread}] com.example.shop.PaymentClient - charge failed for order {order}\n"
                "java.net.SocketTimeoutException: Read timed out\n"
                "\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)\n"
                "\tat java.base/java.net.Socket$SocketInputStream.read(Socket.java:976)\n"
                "\tat com.example.shop.PaymentClient.charge(PaymentClient.java:88)\n"
                "\tat com.example.shop.CheckoutService.placeOrder(CheckoutService.java:142)\n"
                "\t... 42 common frames omitted")
        elif rng.random() < 0.04:
            self.out.app(
                f"{stamp} ERROR [{thread}] com.example.shop.RecommendationService - recommendations unavailable\n"
                "java.lang.NullPointerException: Cannot invoke \"com.example.shop.Product.getCategory()\" because "
                "\"product\" is null\n"
                "\tat com.example.shop.RecommendationService.similar(RecommendationService.java:57)\n"
                "\tat com.example.shop.ProductController.show(ProductController.java:33)\n"
                "\tat java.base/java.lang.Thread.run(Thread.java:1583)")
        else:
            self.out.app(f"{stamp} INFO [{thread}] com.example.shop.OrderService - order "
                         f"{self._order()} confirmed, confirmation mail queued")

    def _router(self, t: float) -> None:
        rng = self.rng
        stamp = time.strftime("%b %e %H:%M:%S", time.gmtime(t))
        pri, text = rng.choice((
            (38, f"sshd[{rng.randint(1000, 9999)}]: Accepted publickey for netops from 192.0.2.{rng.randint(2, 99)} "
                 "port 52114 ssh2"),
            (30, "ntpd[812]: adjusting local clock by 0.004127s"),
            (28, f"kernel: eth1: link flap detected, {rng.randint(1, 3)} transitions in 10s"),
            (36, f"dnsmasq[455]: DHCPACK(br0) 192.168.1.{rng.randint(2, 200)} 3c:22:fb:0a:91:{rng.randint(10, 99)}"),
        ))
        self.out.send_syslog("udp", f"<{pri}>{stamp} {SYSLOG_UDP_HOST} {text}")

    def _database(self, t: float, db_ms: int) -> None:
        rng = self.rng
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"
        if db_ms >= 500:
            pri, msgid = 132, "slow-query"  # local0.warning
            text = (f"duration: {int(db_ms * rng.uniform(0.8, 1.2))} ms  statement: SELECT qty FROM stock WHERE "
                    f"sku = 'SKU-{rng.randint(100, 999)}' FOR UPDATE")
        else:
            pri, msgid = 134, "checkpoint"  # local0.info
            text = f"checkpoint complete: wrote {rng.randint(10, 900)} buffers; sync files={rng.randint(1, 40)}"
        sd = f'[meta@32473 db="inventory" pid="{rng.randint(100, 999)}"]'
        self.out.send_syslog("tcp", f"<{pri}>1 {stamp} {SYSLOG_TCP_HOST} postgres {rng.randint(100, 999)} {msgid} "
                                    f"{sd} {text}")

    def _large_lines(self, t: float) -> None:
        rng = self.rng
        items = [{"sku": f"SKU-{rng.randint(100, 999)}", "qty": rng.randint(1, 3), "note": "gift wrap " * 4}
                 for _ in range(260)]
        order = self._order()
        line = self._json(t, "debug", "checkout", f"request body of order {order} ({len(items)} items)",
                          order_id=order, items=items)
        self.out.docker("shop-checkout", t, line)  # > 16 KiB: partial records
        query = "SELECT sku, qty FROM stock WHERE sku IN (" + ", ".join(
            f"'SKU-{rng.randint(100, 999)}'" for _ in range(1500)) + ")"
        self.out.cri("shop", "inventory-5c6d7f8b9-qw8rt",
                     self._json(t, "debug", "inventory", f"query plan for bulk stock check: {query}"), t)


class DemoSource:
    """Writes the shop's logs under ``directory`` (and to the syslog listeners) until stopped."""

    def __init__(self, directory: Path, syslog: DemoSyslog | None = None, seed: int = 7,
                 history_s: int = HISTORY_S) -> None:
        self.directory = directory
        self.syslog = syslog
        self.rng = random.Random(seed)
        self.history_s = history_s
        self._out = _Writer(directory, syslog)
        self._shop = _Shop(self.rng, self._out)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.started = 0.0

    @property
    def docker_root(self) -> Path:
        return self.directory / "docker" / "containers"

    @property
    def cri_glob(self) -> str:
        return str(self.directory / "pods" / "*" / "*" / "*.log")

    @property
    def app_glob(self) -> str:
        return str(self.directory / "app" / "*.log")

    def collector_inputs(self) -> dict[str, Any]:
        """The collector settings (``collector.*``) that read what the demo writes."""
        inputs: dict[str, Any] = {
            "files": [{"paths": [self.app_glob], "multiline": {"start_pattern": MULTILINE_START},
                       "tags": {"team": "shop"}}],
            "containers": {"docker_root": str(self.docker_root), "cri_paths": [self.cri_glob]},
        }
        if self.syslog is not None:
            inputs["syslog"] = [{"protocol": "udp", "host": self.syslog.host, "port": self.syslog.udp_port},
                                {"protocol": "tcp", "host": self.syslog.host, "port": self.syslog.tcp_port}]
        return inputs

    def _seconds(self, start: float, end: float) -> Iterator[tuple[float, int]]:
        t = start
        while t < end:
            yield t, int(t - self.started + self.history_s) % CYCLE_S
            t += 1.0

    def start(self) -> None:
        """Lay out the directories, write the history, and go on writing on a thread."""
        self.started = time.time()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._out.layout(self.started)
        for t, phase in self._seconds(self.started - self.history_s, self.started):
            self._shop.second(t, phase, scale=1.0)
        self._out.flush()
        self._thread = threading.Thread(target=self._run, name="demo-source", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_t = self.started
        while not self._stop.is_set():
            for t, phase in self._seconds(next_t, time.time()):
                self._shop.second(t, phase, scale=1.0)
                next_t = t + 1.0
            self._out.flush()
            if self._out.pending_syslog and not self._out.deliver_syslog():
                # Listeners not up yet: hold at most the history and a minute of messages meanwhile.
                del self._out.pending_syslog[:-2000]
            self._stop.wait(0.5)

    def stop(self, remove: bool = False) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2)
        self._out.close()
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)

"""A demo source for `logjet up`: writes realistic container, syslog-style and application logs to a directory."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import orjson

__all__ = ["DemoSource"]

_SERVICES = ("checkout", "payments", "search", "inventory")
_PATHS = ("/api/cart", "/api/pay", "/search?q=shoes", "/api/items/42", "/healthz")
_LEVELS = ("INFO", "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
_PROGRAMS = ("sshd", "cron", "kernel", "systemd")


class DemoSource:
    """Appends a few lines a second to three files until stopped; deterministic for a given seed."""

    def __init__(self, directory: Path, rate_per_s: float = 20.0, seed: int = 7) -> None:
        self.directory = directory
        self.rate = rate_per_s
        self.rng = random.Random(seed)
        self.files = {
            "container": directory / "container-checkout.log",
            "syslog": directory / "syslog.log",
            "app": directory / "app.log",
        }
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _line(self, kind: str, now: float) -> str:
        rng = self.rng
        level = rng.choice(_LEVELS)
        if kind == "container":
            return orjson.dumps({
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z",
                "level": level.lower(), "service": rng.choice(_SERVICES),
                "msg": f"{rng.choice(('GET', 'POST'))} {rng.choice(_PATHS)} took {rng.randint(1, 900)}ms",
                "trace_id": f"{rng.getrandbits(64):016x}",
            }).decode()
        if kind == "syslog":
            prog = rng.choice(_PROGRAMS)
            stamp = time.strftime("%b %e %H:%M:%S", time.gmtime(now))
            text = {"sshd": f"Accepted publickey for deploy from 10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)}",
                    "cron": "(root) CMD (run-parts /etc/cron.hourly)",
                    "kernel": f"eth0: link up, {rng.choice((1000, 10000))}Mbps, full-duplex",
                    "systemd": "Started Daily apt upgrade and clean activities."}[prog]
            return f"{stamp} demo-host {prog}[{rng.randint(100, 9999)}]: {text}"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f",{int(now % 1 * 1000):03d}"
        text = rng.choice((
            f"order placed order_id={rng.randint(1000, 9999)} amount={rng.uniform(5, 500):.2f}",
            f"cache miss for key user:{rng.randint(1, 10_000)}",
            "payment gateway timeout after 3000ms, retrying",
        ))
        return f"{stamp} {level} [main] com.example.shop.Service - {text}"

    def write_some(self, n: int) -> None:
        now = time.time()
        for _ in range(n):
            kind = self.rng.choice(tuple(self.files))
            with self.files[kind].open("a", encoding="utf-8") as fh:
                fh.write(self._line(kind, now) + "\n")

    def _run(self) -> None:
        while not self._stop.wait(1.0 / self.rate):
            self.write_some(1)

    def start(self) -> list[str]:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.write_some(30)
        self._thread = threading.Thread(target=self._run, name="demo-source", daemon=True)
        self._thread.start()
        return [str(p) for p in self.files.values()]

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(2)

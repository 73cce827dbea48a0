"""`logjet stack up | down | status`: the local Kafka and Elasticsearch, as processes on this machine."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from confluent_kafka.admin import AdminClient

from logjet.config import StackSettings
from logjet.errors import StackError
from logjet.stack.elasticsearch import ElasticsearchServer
from logjet.stack.kafka import KafkaServer
from logjet.stack.process import port_open, tail

__all__ = ["ServiceStatus", "Stack"]


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    state: str  # "running", "stopped", or "external" (answering, but not started by logjet)
    pid: int | None
    version: str | None

    def line(self) -> str:
        pid = f" pid {self.pid}" if self.pid else ""
        return f"{self.name:<14} {self.state:<9} {self.address:<22} version {self.version or '-'}{pid}"


def _java_home(configured: Path | None) -> Path:
    if configured is not None:
        return configured
    java = shutil.which("java")
    if java is None:
        raise StackError("no `java` on PATH: install a JDK 17+ or set stack.java_home")
    return Path(java).resolve().parents[1]


class Stack:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        java_home = _java_home(settings.java_home)
        self.kafka = KafkaServer(settings, str(java_home / "bin" / "java"))
        self.elasticsearch = ElasticsearchServer(settings, java_home)

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    @property
    def elasticsearch_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.elasticsearch_port}"

    # -- probes -------------------------------------------------------------------------------------------
    def kafka_ready(self, timeout: float = 2.0) -> bool:
        if not port_open(self.settings.kafka_port):
            return False
        admin = AdminClient({"bootstrap.servers": self.kafka_bootstrap, "log_level": 0})
        try:
            return bool(admin.list_topics(timeout=timeout).brokers)
        except Exception:  # noqa: BLE001 - any failure of the probe means "not ready yet"
            return False

    def elasticsearch_health(self, timeout: float = 2.0) -> dict | None:
        if not port_open(self.settings.elasticsearch_port):
            return None
        try:
            res = httpx.get(
                f"{self.elasticsearch_url}/_cluster/health", params={"timeout": "1s"}, timeout=timeout
            )
        except httpx.HTTPError:
            return None
        return res.json() if res.status_code == 200 else None

    def elasticsearch_version(self) -> str | None:
        try:
            res = httpx.get(f"{self.elasticsearch_url}/_nodes/_local", params={"filter_path": "nodes.*.version"})
            nodes = res.json().get("nodes", {})
        except (httpx.HTTPError, ValueError):
            return None
        return next(iter(nodes.values()), {}).get("version")

    # -- commands -----------------------------------------------------------------------------------------
    def up(self, log=print) -> None:  # noqa: ANN001 - any callable taking a string
        started: list[str] = []
        for server, ready in ((self.kafka, self.kafka_ready), (self.elasticsearch, self._es_ready)):
            pid = server.process.pid()
            if pid is not None:
                log(f"{server.name}: already running (pid {pid})")
                continue
            port = self.settings.kafka_port if server is self.kafka else self.settings.elasticsearch_port
            if port_open(port):
                if ready():
                    log(f"{server.name}: already answering on port {port} (not started by logjet); using it")
                    continue
                raise StackError(f"{server.name}: port {port} is taken by a process that is not {server.name}")
            t0 = time.monotonic()
            log(f"{server.name}: resolving {server.version} from Maven Central (cached after the first time)")
            server.prepare()
            pid = server.start()
            started.append(server.name)
            log(f"{server.name}: started pid {pid} ({time.monotonic() - t0:.1f}s to prepare)")
        self._wait(self.kafka, self.kafka_ready)
        self._wait(self.elasticsearch, self._es_ready)
        log(f"kafka ready at {self.kafka_bootstrap}; elasticsearch ready at {self.elasticsearch_url}")

    def _es_ready(self) -> bool:
        health = self.elasticsearch_health()
        return health is not None and health.get("status") in ("yellow", "green")

    def _wait(self, server: KafkaServer | ElasticsearchServer, ready) -> None:  # noqa: ANN001
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            managed = server.process.pid_file.is_file()
            if managed and server.process.pid() is None:
                raise StackError(
                    f"{server.name} exited while starting; the end of its log ({server.server_log}):\n"
                    f"{tail(server.server_log)}\n--- {server.process.log_file}:\n{tail(server.process.log_file)}"
                )
            time.sleep(0.5)
        raise StackError(
            f"{server.name} did not become ready within {self.settings.start_timeout_s:.0f}s; the end of its log "
            f"({server.server_log}):\n{tail(server.server_log)}"
        )

    def down(self, log=print) -> None:  # noqa: ANN001
        # Elasticsearch first: it holds no state Kafka needs, and stopping it frees most memory soonest.
        for server in (self.elasticsearch, self.kafka):
            if server.process.stop(timeout=60):
                log(f"{server.name}: stopped")
            else:
                log(f"{server.name}: not running (nothing started by logjet)")

    def status(self) -> list[ServiceStatus]:
        out = []
        kpid = self.kafka.process.pid()
        kstate = "running" if kpid else ("external" if self.kafka_ready() else "stopped")
        out.append(ServiceStatus("kafka", self.kafka_bootstrap, kstate, kpid, self.kafka.installed_version()))
        epid = self.elasticsearch.process.pid()
        up = self.elasticsearch_health() is not None
        estate = "running" if epid and up else ("starting" if epid else ("external" if up else "stopped"))
        version = self.elasticsearch_version() if up else None
        out.append(ServiceStatus("elasticsearch", self.elasticsearch_url, estate, epid, version))
        return out

"""`logjet stack up | down | status | stop | start`: the local Kafka and Elasticsearch, as processes on this machine.

``stack.kafka_brokers`` brokers and ``stack.elasticsearch_nodes`` nodes (one each by default). A single node of
each keeps its historical name (``kafka``, ``elasticsearch``); the nodes of a cluster are ``kafka-1`` ...
``kafka-N`` and ``elasticsearch-1`` ... ``elasticsearch-M``, names that ``stop`` and ``start`` take to stop one node
(SIGTERM, or SIGKILL) and bring it back, to rehearse failures.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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

Server = KafkaServer | ElasticsearchServer


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    state: str  # "running", "starting", "stopped", or "external" (answering, but not started by logjet)
    pid: int | None
    version: str | None

    def line(self) -> str:
        pid = f" pid {self.pid}" if self.pid else ""
        return f"{self.name:<16} {self.state:<9} {self.address:<22} version {self.version or '-'}{pid}"


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
        java = str(java_home / "bin" / "java")
        self.kafka_nodes = [KafkaServer(settings, java, i) for i in range(1, settings.kafka_brokers + 1)]
        self.elasticsearch_nodes = [ElasticsearchServer(settings, java_home, i)
                                    for i in range(1, settings.elasticsearch_nodes + 1)]
        # The first node of each: the whole service when it has one node.
        self.kafka = self.kafka_nodes[0]
        self.elasticsearch = self.elasticsearch_nodes[0]

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(k.address for k in self.kafka_nodes)

    @property
    def elasticsearch_url(self) -> str:
        """Every node's URL, separated by commas (what ``elasticsearch.url`` takes)."""
        return ",".join(e.url for e in self.elasticsearch_nodes)

    def node(self, name: str) -> Server:
        """The node called ``name`` (``kafka-2``, ``elasticsearch-1``; ``kafka-1`` is also the single ``kafka``)."""
        for server in (*self.kafka_nodes, *self.elasticsearch_nodes):
            if name == server.name or (not server.cluster and name == f"{server.name}-1"):
                return server
        known = ", ".join(s.name for s in (*self.kafka_nodes, *self.elasticsearch_nodes))
        raise StackError(f"no node {name!r} in this stack (it has {known}; stack.kafka_brokers and "
                         "stack.elasticsearch_nodes size it)")

    # -- probes -------------------------------------------------------------------------------------------
    def kafka_brokers_up(self, timeout: float = 2.0, only: KafkaServer | None = None) -> set[int]:
        """The ids of the brokers the cluster's metadata lists as alive (as ``only`` sees it, when given).

        The cluster lists a broker that was killed until its session times out; the broker itself lists itself only
        once the controller has let it in (unfenced).
        """
        reachable = [k.address for k in ([only] if only else self.kafka_nodes) if port_open(k.port)]
        if not reachable:
            return set()
        admin = AdminClient({"bootstrap.servers": ",".join(reachable), "log_level": 0})
        try:
            return set(admin.list_topics(timeout=timeout).brokers)
        except Exception:  # noqa: BLE001 - any failure of the probe means "not ready yet"
            return set()

    def kafka_ready(self, timeout: float = 2.0) -> bool:
        return len(self.kafka_brokers_up(timeout)) >= len(self.kafka_nodes)

    def elasticsearch_health(self, timeout: float = 2.0) -> dict | None:
        """The cluster's health from the first node that answers."""
        for node in self.elasticsearch_nodes:
            health = self._get(node, "/_cluster/health", timeout, {"timeout": "1s"})
            if health is not None:
                return health
        return None

    def _get(self, node: ElasticsearchServer, path: str, timeout: float, params: dict | None = None) -> dict | None:
        if not port_open(node.port):
            return None
        try:
            res = httpx.get(f"{node.url}{path}", params=params, timeout=timeout)
            return res.json() if res.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def elasticsearch_version(self, node: ElasticsearchServer | None = None) -> str | None:
        answer = self._get(node or self.elasticsearch, "/_nodes/_local", 2.0, {"filter_path": "nodes.*.version"})
        return next(iter((answer or {}).get("nodes", {}).values()), {}).get("version")

    @staticmethod
    def _listed(server: KafkaServer, brokers: set[int]) -> bool:
        # A single broker found running without logjet may have any id.
        return server.node in brokers if server.cluster else bool(brokers)

    def _es_ready(self) -> bool:
        health = self.elasticsearch_health()
        return (health is not None and health.get("status") in ("yellow", "green")
                and health.get("number_of_nodes", 0) >= len(self.elasticsearch_nodes))

    def _node_ready(self, server: Server) -> bool:
        if isinstance(server, KafkaServer):
            return self._listed(server, self.kafka_brokers_up(only=server))
        # Answered only once the node has found an elected master: it has joined the cluster.
        return self._get(server, "/_cluster/health", 2.0, {"timeout": "1s"}) is not None

    # -- commands -----------------------------------------------------------------------------------------
    def up(self, log: Callable[[str], object] = print) -> None:
        todo = [s for s in (*self.kafka_nodes, *self.elasticsearch_nodes) if self._needs_start(s, log)]
        t0 = time.monotonic()
        # What the nodes share (Kafka's jars, the unpacked distribution) is resolved by the first node of each
        # service; then every node prepares (formats its storage, creates its keystore: a JVM each) side by side,
        # and all start together: a broker that waits too long for the rest of its controller quorum gives up.
        for first in (self.kafka, self.elasticsearch):
            if first in todo:
                log(f"{first.name}: resolving {first.version} from Maven Central (cached after the first time)")
                first.prepare()
        rest = [s for s in todo if s not in (self.kafka, self.elasticsearch)]
        if rest:
            with ThreadPoolExecutor(len(rest)) as pool:
                for future in [pool.submit(server.prepare) for server in rest]:
                    future.result()
        for server in todo:
            log(f"{server.name}: started pid {server.start()} ({time.monotonic() - t0:.1f}s to prepare)")
        self._wait(self.kafka_nodes, self.kafka_ready, "kafka")
        self._wait(self.elasticsearch_nodes, self._es_ready, "elasticsearch")
        log(f"kafka ready at {self.kafka_bootstrap}; elasticsearch ready at {self.elasticsearch_url}")

    def _needs_start(self, server: Server, log: Callable[[str], object]) -> bool:
        pid = server.process.pid()
        if pid is not None:
            log(f"{server.name}: already running (pid {pid})")
            return False
        if port_open(server.port):
            if self._node_ready(server):
                log(f"{server.name}: already answering on port {server.port} (not started by logjet); using it")
                return False
            raise StackError(f"{server.name}: port {server.port} is taken by a process that is not {server.name}")
        return True

    def _wait(self, servers: list[Server], ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            for server in servers:
                managed = server.process.pid_file.is_file()
                if managed and server.process.pid() is None:
                    raise StackError(
                        f"{server.name} exited while starting; the end of its log ({server.server_log}):\n"
                        f"{tail(server.server_log)}\n--- {server.process.log_file}:\n{tail(server.process.log_file)}"
                    )
            time.sleep(0.5)
        logs = "\n".join(f"--- {s.name} ({s.server_log}):\n{tail(s.server_log, 20)}" for s in servers)
        raise StackError(f"{what} did not become ready within {self.settings.start_timeout_s:.0f}s; the end of the "
                         f"logs:\n{logs}")

    def down(self, log: Callable[[str], object] = print) -> None:
        # Elasticsearch first: it holds no state Kafka needs, and stopping it frees most memory soonest. The nodes
        # of a service are signalled together: one by one, each would move its work to the next one stopped.
        for servers in (self.elasticsearch_nodes, self.kafka_nodes):
            running = [s for s in servers if s.process.signal(signal.SIGTERM)]
            for server in servers:
                if server in running:
                    server.process.stop(timeout=60)
                    log(f"{server.name}: stopped")
                else:
                    server.process.stop(timeout=0)
                    log(f"{server.name}: not running (nothing started by logjet)")

    def stop_node(self, name: str, *, kill: bool = False, log: Callable[[str], object] = print) -> None:
        """Stop one node: SIGTERM (a clean shutdown, SIGKILL after a minute) or, with ``kill``, SIGKILL at once."""
        server = self.node(name)
        if kill:
            done = server.process.kill()
        else:
            done = server.process.stop(timeout=60)
        log(f"{server.name}: {'killed' if kill and done else 'stopped' if done else 'not running'}")

    def start_node(self, name: str, log: Callable[[str], object] = print) -> None:
        """Start one node and wait until it answers (a Kafka broker: until the cluster lists it)."""
        server = self.node(name)
        if self._needs_start(server, log):
            server.prepare()
            log(f"{server.name}: started pid {server.start()}")
        self._wait([server], lambda: self._node_ready(server), server.name)
        log(f"{server.name}: ready at {server.address if isinstance(server, KafkaServer) else server.url}")

    def status(self) -> list[ServiceStatus]:
        out = []
        brokers = self.kafka_brokers_up()
        for k in self.kafka_nodes:
            pid = k.process.pid()
            listed = self._listed(k, brokers) and port_open(k.port)
            state = ("running" if listed else "starting") if pid else ("external" if listed else "stopped")
            out.append(ServiceStatus(k.name, k.address, state, pid, k.installed_version()))
        for e in self.elasticsearch_nodes:
            pid = e.process.pid()
            version = self.elasticsearch_version(e)
            up = version is not None
            state = ("running" if up else "starting") if pid else ("external" if up else "stopped")
            out.append(ServiceStatus(e.name, e.url, state, pid, version))
        return out

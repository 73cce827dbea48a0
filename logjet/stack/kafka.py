"""Apache Kafka 4.x in KRaft mode, run from its Maven artifacts: one combined broker and controller, or a cluster.

Layout under ``<state_dir>/kafka``: ``libs-<version>/`` (the runtime jars, copied out of Maven's cache, which another
user may not be able to read), shared by every broker. One broker lives in ``<state_dir>/kafka`` itself, broker ``i``
of a cluster in ``<state_dir>/kafka-<i>``: ``config/``, the pid file and stdout log, all written by the user who runs
``stack up``; ``data/``, ``logs/`` and ``run/`` (home and temporary files), written by the broker. When root runs
``stack up``, the brokers run as ``stack.run_as`` and own only the latter (see ``account.py``).

A cluster of N brokers has a static controller quorum of three voters (one below three brokers): the first brokers,
which are combined brokers and controllers. It replicates every topic min(N, 3) times and acknowledges a write
(acks=all) once ``min.insync.replicas`` (2 from three brokers on, else 1) copies hold it.
"""

from __future__ import annotations

import base64
import re
import subprocess
import uuid
from pathlib import Path

from logjet.config import StackSettings
from logjet.errors import StackError
from logjet.stack.account import ServerAccount, copy_private, give_to, private_dir, write_private
from logjet.stack.maven import compose_local_dir, pom_property, run_maven
from logjet.stack.process import ManagedProcess

__all__ = ["KafkaServer"]

_LOG4J2 = """\
Configuration:
  Appenders:
    RollingFile:
      name: server
      fileName: {logs}/server.log
      filePattern: {logs}/server.log.%i
      PatternLayout: {{pattern: "[%d] %p %m (%c)%n"}}
      Policies: {{SizeBasedTriggeringPolicy: {{size: 50MB}}}}
      DefaultRolloverStrategy: {{max: 3}}
  Loggers:
    Root: {{level: INFO, AppenderRef: [{{ref: server}}]}}
"""


def controllers(brokers: int) -> int:
    """Voters of the controller quorum: three tolerate one lost; two would tolerate none, like one."""
    return 3 if brokers >= 3 else 1


def replication(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) of a cluster of ``brokers``: one broker may fail from three on."""
    return min(brokers, 3), (2 if brokers >= 3 else 1)


class KafkaServer:
    def __init__(self, settings: StackSettings, java: str, node: int = 1) -> None:
        self.settings = settings
        self.java = java
        self.node = node
        self.cluster = settings.kafka_brokers > 1
        self.name = f"kafka-{node}" if self.cluster else "kafka"
        self.shared = settings.state_dir.resolve() / "kafka"
        self.home = settings.state_dir.resolve() / self.name
        self.port = settings.kafka_port + node - 1
        self.voters = controllers(settings.kafka_brokers)
        self.controller_port = settings.kafka_controller_port + node - 1 if node <= self.voters else None
        self.pom = compose_local_dir() / "kafka" / "pom.xml"
        self.version = pom_property(self.pom, "kafka.version")
        self.process = ManagedProcess(self.name, self.home / "kafka.pid", self.home / "stdout.log")
        self.classpath_file = self.shared / f"classpath-{self.version}.txt"
        self.libs = self.shared / f"libs-{self.version}"
        self.config = self.home / "config"
        self.account = ServerAccount.for_stack(settings.run_as, create=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _quorum(self) -> str:
        s = self.settings
        return ",".join(f"{i}@127.0.0.1:{s.kafka_controller_port + i - 1}" for i in range(1, self.voters + 1))

    @property
    def server_log(self) -> Path:
        return self.home / "logs" / "server.log"

    def prepare(self) -> None:
        self.account = ServerAccount.for_stack(self.settings.run_as, create=True)
        self.shared.mkdir(parents=True, exist_ok=True)
        private_dir(self.shared)
        self.home.mkdir(parents=True, exist_ok=True)
        private_dir(self.home)
        if not self.classpath_file.is_file() or self.classpath_file.stat().st_mtime < self.pom.stat().st_mtime:
            run_maven(
                self.settings.maven,
                self.pom,
                "dependency:build-classpath",
                {"mdep.outputFile": str(self.classpath_file)},
                self.shared / "maven.log",
            )
        self._copy_libs()
        self.write_files()
        if self.account.dropped:
            probe = subprocess.run(
                self.account.command(["test", "-r", str(self.config / "server.properties")]),
                env=self.account.environment(self.home / "run"), check=False,
            )
            if probe.returncode != 0:
                raise StackError(
                    f"the user {self.account.user!r} cannot reach {self.home}: every parent directory of the "
                    "stack's state directory must be searchable by others (chmod o+x), or set stack.state_dir"
                )
        marker = self.home / "quorum"
        quorum = self._quorum() if self.cluster else "standalone"
        if not (self.home / "data" / "meta.properties").is_file():
            self._format()
            write_private(marker, quorum + "\n")
        elif self.cluster and (not marker.is_file() or marker.read_text().strip() != quorum):
            # A broker formatted for another quorum would never join this one: say so rather than wipe its data.
            raise StackError(f"{self.name}'s storage ({self.home / 'data'}) was formatted for another cluster "
                             f"layout than {self.settings.kafka_brokers} brokers: remove {self.home} to start afresh")

    def _jars(self) -> list[Path]:
        return [Path(p) for p in self.classpath_file.read_text().strip().split(":") if p]

    def _copy_libs(self) -> None:
        jars = self._jars()
        names = [j.name for j in jars]
        if len(set(names)) != len(names):
            raise StackError(f"two jars of Kafka's classpath share a file name: {sorted(names)}")
        private_dir(self.libs)
        for jar in jars:
            target = self.libs / jar.name
            if not target.is_file() or target.stat().st_size != jar.stat().st_size:
                copy_private(jar, target)

    def write_files(self) -> None:
        """The broker's configuration (private) and the directories it writes (handed to the account)."""
        private_dir(self.config)
        write_private(self.config / "server.properties", "\n".join([*self._properties(), ""]))
        write_private(self.config / "log4j2.yaml", _LOG4J2.format(logs=self.home / "logs"))
        for sub in ("data", "logs", "run"):
            give_to(self.home / sub, self.account)

    def _properties(self) -> list[str]:
        s = self.settings
        rf, min_isr = replication(s.kafka_brokers)
        listeners = [f"PLAINTEXT://127.0.0.1:{self.port}"]
        if self.controller_port is not None:
            listeners.append(f"CONTROLLER://127.0.0.1:{self.controller_port}")
        if not self.cluster:
            quorum = [f"controller.quorum.bootstrap.servers=127.0.0.1:{s.kafka_controller_port}"]
        else:
            # A fixed set of voters: the cluster's shape never changes while it runs.
            quorum = [f"controller.quorum.voters={self._quorum()}",
                      # A broker gives up when the quorum does not let it in within this: not before `up` would.
                      f"initial.broker.registration.timeout.ms={int(s.start_timeout_s * 1000)}"]
        return [
            f"process.roles={'broker,controller' if self.controller_port is not None else 'broker'}",
            f"node.id={self.node}",
            *quorum,
            f"listeners={','.join(listeners)}",
            f"advertised.listeners={','.join(listeners)}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={self.home / 'data'}",
            f"num.partitions={s.kafka_partitions}",
            # Every topic, the internal ones included, as many copies as there are brokers up to three.
            f"default.replication.factor={rf}",
            f"min.insync.replicas={min_isr}",
            f"offsets.topic.replication.factor={rf}",
            f"transaction.state.log.replication.factor={rf}",
            f"transaction.state.log.min.isr={min_isr}",
            f"share.coordinator.state.topic.replication.factor={rf}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
            # A replica that is not in sync never becomes leader: an acknowledged write is never lost.
            "unclean.leader.election.enable=false",
            "group.initial.rebalance.delay.ms=0",
        ]

    def _java(self, main: list[str], heap: list[str] | None = None) -> list[str]:
        classpath = ":".join(str(self.libs / j.name) for j in self._jars())
        return self.account.command([
            self.java,
            *(heap or []),
            f"-Djava.io.tmpdir={self.home / 'run'}",
            f"-Dlog4j2.configurationFile={self.config / 'log4j2.yaml'}",
            "-cp",
            classpath,
            *main,
        ])

    def cluster_id(self) -> str:
        """The id every broker of this stack is formatted with (made once, kept beside the shared jars)."""
        path = self.shared / "cluster.id"
        if not path.is_file():
            write_private(path, base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=") + "\n")
        return path.read_text().strip()

    def _format(self) -> None:
        if self.cluster:
            args = ["-t", self.cluster_id()]
        else:
            args = ["--standalone", "-t", base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")]
        cmd = self._java(["kafka.tools.StorageTool", "format", *args, "-c", str(self.config / "server.properties")])
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=self.home / "run",
                             env=self.account.environment(self.home / "run"))
        if res.returncode != 0:
            raise StackError(f"formatting Kafka's KRaft storage failed:\n{res.stdout}\n{res.stderr}")

    def start_command(self) -> list[str]:
        heap = self.settings.kafka_heap
        return self._java(["kafka.Kafka", str(self.config / "server.properties")],
                          [f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true"])

    def start(self) -> int:
        return self.process.start(self.start_command(), env=self.account.environment(self.home / "run"),
                                  cwd=self.home / "run")

    def installed_version(self) -> str | None:
        if not self.classpath_file.is_file():
            return None
        match = re.search(r"kafka_2\.13-([\w.\-]+)\.jar", self.classpath_file.read_text())
        return match.group(1) if match else None

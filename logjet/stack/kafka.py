"""Apache Kafka 4.x in KRaft mode, one combined broker and controller, run from its Maven artifacts.

Layout under ``<state_dir>/kafka``: ``config/`` and ``libs-<version>/`` (the runtime jars, copied out of Maven's
cache, which another user may not be able to read), the pid file and stdout log, all written by the user who runs
``stack up``; ``data/``, ``logs/`` and ``run/`` (home and temporary files), written by the broker. When root runs
``stack up``, the broker runs as ``stack.run_as`` and owns only the latter (see ``account.py``).
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


class KafkaServer:
    name = "kafka"

    def __init__(self, settings: StackSettings, java: str) -> None:
        self.settings = settings
        self.java = java
        self.home = settings.state_dir.resolve() / "kafka"
        self.pom = compose_local_dir() / "kafka" / "pom.xml"
        self.version = pom_property(self.pom, "kafka.version")
        self.process = ManagedProcess("kafka", self.home / "kafka.pid", self.home / "stdout.log")
        self.classpath_file = self.home / f"classpath-{self.version}.txt"
        self.libs = self.home / f"libs-{self.version}"
        self.config = self.home / "config"
        self.account = ServerAccount.for_stack(settings.run_as, create=False)

    @property
    def server_log(self) -> Path:
        return self.home / "logs" / "server.log"

    def prepare(self) -> None:
        self.account = ServerAccount.for_stack(self.settings.run_as, create=True)
        self.home.mkdir(parents=True, exist_ok=True)
        private_dir(self.home)
        if not self.classpath_file.is_file() or self.classpath_file.stat().st_mtime < self.pom.stat().st_mtime:
            run_maven(
                self.settings.maven,
                self.pom,
                "dependency:build-classpath",
                {"mdep.outputFile": str(self.classpath_file)},
                self.home / "maven.log",
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
        if not (self.home / "data" / "meta.properties").is_file():
            self._format()

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
        s = self.settings
        private_dir(self.config)
        write_private(
            self.config / "server.properties",
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{s.kafka_controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},"
                    f"CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.home / 'data'}",
                    f"num.partitions={s.kafka_partitions}",
                    # One broker: internal topics cannot have more replicas than that.
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "",
                ]
            ),
        )
        write_private(self.config / "log4j2.yaml", _LOG4J2.format(logs=self.home / "logs"))
        for sub in ("data", "logs", "run"):
            give_to(self.home / sub, self.account)

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

    def _format(self) -> None:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        cmd = self._java(["kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id,
                          "-c", str(self.config / "server.properties")])
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

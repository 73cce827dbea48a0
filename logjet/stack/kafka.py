"""Apache Kafka 4.x in KRaft mode, one combined broker and controller, run from its Maven artifacts."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import uuid
from pathlib import Path

from logjet.config import StackSettings
from logjet.errors import StackError
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
        self.process = ManagedProcess("kafka", self.home / "kafka.pid", self.home / "logs" / "stdout.log")
        self.classpath_file = self.home / f"classpath-{self.version}.txt"

    @property
    def server_log(self) -> Path:
        return self.home / "logs" / "server.log"

    def prepare(self) -> None:
        if not self.classpath_file.is_file() or self.classpath_file.stat().st_mtime < self.pom.stat().st_mtime:
            run_maven(
                self.settings.maven,
                self.pom,
                "dependency:build-classpath",
                {"mdep.outputFile": str(self.classpath_file)},
                self.home / "logs" / "maven.log",
            )
        s = self.settings
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        (self.home / "config" / "server.properties").write_text(
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
            )
        )
        (self.home / "config" / "log4j2.yaml").write_text(_LOG4J2.format(logs=self.home / "logs"))
        if not (self.home / "data" / "meta.properties").is_file():
            self._format()

    def _classpath(self) -> str:
        return self.classpath_file.read_text().strip()

    def _format(self) -> None:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        cmd = [
            self.java,
            f"-Dlog4j2.configurationFile={self.home / 'config' / 'log4j2.yaml'}",
            "-cp",
            self._classpath(),
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(self.home / "config" / "server.properties"),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise StackError(f"formatting Kafka's KRaft storage failed:\n{res.stdout}\n{res.stderr}")

    def start(self) -> int:
        heap = self.settings.kafka_heap
        cmd = [
            self.java,
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'config' / 'log4j2.yaml'}",
            "-cp",
            self._classpath(),
            "kafka.Kafka",
            str(self.home / "config" / "server.properties"),
        ]
        return self.process.start(cmd, env=os.environ, cwd=self.home)

    def installed_version(self) -> str | None:
        if not self.classpath_file.is_file():
            return None
        match = re.search(r"kafka_2\.13-([\w.\-]+)\.jar", self.classpath_file.read_text())
        return match.group(1) if match else None

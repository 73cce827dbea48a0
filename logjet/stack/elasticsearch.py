"""Elasticsearch 8.x, one node with security off, run from the distribution Elastic publishes on Maven Central.

Elasticsearch refuses to run as root. When `stack up` runs as root (CI, containers), the node runs as an
unprivileged system user (``stack.run_as``), created on first use; it owns only the node's config, data, logs and
run directories.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from logjet.config import StackSettings
from logjet.errors import StackError
from logjet.stack.maven import compose_local_dir, pom_property, run_maven
from logjet.stack.process import ManagedProcess

__all__ = ["ElasticsearchServer"]


class ElasticsearchServer:
    name = "elasticsearch"

    def __init__(self, settings: StackSettings, java_home: Path) -> None:
        self.settings = settings
        self.java_home = java_home
        self.home = settings.state_dir.resolve() / "elasticsearch"
        self.pom = compose_local_dir() / "elasticsearch" / "pom.xml"
        self.version = pom_property(self.pom, "es.version")
        self.dist = self.home / "dist" / f"elasticsearch-{self.version}"
        self.conf = self.home / "config"
        self.process = ManagedProcess("elasticsearch", self.home / "run" / "launcher.pid", self.home / "stdout.log")

    @property
    def server_log(self) -> Path:
        return self.home / "logs" / "logjet-local.log"

    def _run_as_root(self) -> bool:
        return os.geteuid() == 0

    def _ensure_user(self) -> None:
        user = self.settings.run_as
        try:
            pwd.getpwnam(user)
        except KeyError:
            res = subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                capture_output=True,
                text=True,
                check=False,
            )
            if res.returncode != 0:
                raise StackError(f"cannot create the system user {user!r} to run Elasticsearch: {res.stderr}") from None

    def prepare(self) -> None:
        if not (self.dist / "bin" / "elasticsearch").is_file():
            run_maven(
                self.settings.maven,
                self.pom,
                "dependency:unpack",
                {"es.unpack.dir": str(self.home / "dist")},
                self.home / "maven.log",
            )
        for sub in ("data", "logs", "run"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        self._write_config()
        if self._run_as_root():
            self._ensure_user()
            for sub in ("config", "data", "logs", "run"):
                subprocess.run(["chown", "-R", f"{self.settings.run_as}:", str(self.home / sub)], check=True)
            probe = subprocess.run(
                [*self._user_prefix(), "test", "-x", str(self.dist / "bin" / "elasticsearch")], check=False
            )
            if probe.returncode != 0:
                raise StackError(
                    f"the user {self.settings.run_as!r} cannot reach {self.dist}: every parent directory of the "
                    "stack's state directory must be searchable by others (chmod o+x), or set stack.state_dir"
                )

    def _write_config(self) -> None:
        s = self.settings
        if not (self.conf / "jvm.options").is_file():
            shutil.copytree(self.dist / "config", self.conf, dirs_exist_ok=True)
        logs = self.home / "logs"
        # The distribution's jvm.options writes GC logs and heap dumps relative to the working directory.
        jvm = (self.dist / "config" / "jvm.options").read_text()
        jvm = jvm.replace("file=logs/gc.log", f"file={logs}/gc.log")
        jvm = jvm.replace("ErrorFile=logs/", f"ErrorFile={logs}/").replace("HeapDumpPath=data", f"HeapDumpPath={logs}")
        (self.conf / "jvm.options").write_text(jvm)
        (self.conf / "jvm.options.d").mkdir(exist_ok=True)
        (self.conf / "jvm.options.d" / "heap.options").write_text(
            f"-Xms{s.elasticsearch_heap}\n-Xmx{s.elasticsearch_heap}\n"
        )
        (self.conf / "elasticsearch.yml").write_text(
            "\n".join(
                [
                    "cluster.name: logjet-local",
                    "node.name: logjet-local-1",
                    f"path.data: {self.home / 'data'}",
                    f"path.logs: {logs}",
                    "network.host: 127.0.0.1",
                    f"http.port: {s.elasticsearch_port}",
                    f"transport.port: {s.elasticsearch_transport_port}",
                    "discovery.type: single-node",
                    "xpack.security.enabled: false",
                    # A developer machine's disk is often fuller than the watermarks allow; the tests set the
                    # read-only block themselves when they want Elasticsearch to push back.
                    "cluster.routing.allocation.disk.threshold_enabled: false",
                    "action.destructive_requires_name: false",
                    "",
                ]
            )
        )

    def _user_prefix(self) -> list[str]:
        if not self._run_as_root():
            return []
        user = self.settings.run_as
        return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"]

    def start(self) -> int:
        env = dict(os.environ)
        env.update(ES_PATH_CONF=str(self.conf), ES_JAVA_HOME=str(self.java_home), ES_TMPDIR=str(self.home / "run"))
        env.pop("ES_JAVA_OPTS", None)
        cmd = [*self._user_prefix(), str(self.dist / "bin" / "elasticsearch")]
        return self.process.start(cmd, env=env, cwd=self.home / "run")

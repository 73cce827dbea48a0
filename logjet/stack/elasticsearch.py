"""Elasticsearch 8.x with security off, one node or a cluster, run from the distribution Elastic publishes on Maven
Central.

Layout: ``<state_dir>/elasticsearch/dist/`` (the unpacked distribution, shared by every node). One node lives in
``<state_dir>/elasticsearch`` itself, node ``i`` of a cluster in ``<state_dir>/elasticsearch-<i>``: ``config/`` (with
its keystore), the pid file and stdout log, all written by the user who runs ``stack up``; ``data/``, ``logs/`` and
``run/`` (home and temporary files), written by the node. The nodes of a cluster are all master-eligible data nodes
that find each other on their transport ports. Elasticsearch refuses to run as root: when root runs ``stack up``, the
nodes run as the unprivileged system user ``stack.run_as`` (created on first use), which owns only the latter and
their keystores (see ``account.py``).
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from logjet.config import StackSettings
from logjet.errors import StackError
from logjet.stack.account import ServerAccount, copy_private, give_to, private_dir, write_private
from logjet.stack.maven import compose_local_dir, pom_property, run_maven
from logjet.stack.process import ManagedProcess

__all__ = ["ElasticsearchServer"]

KEYSTORE = "elasticsearch.keystore"


def node_name(node: int) -> str:
    return f"logjet-local-{node}"


class ElasticsearchServer:
    def __init__(self, settings: StackSettings, java_home: Path, node: int = 1) -> None:
        self.settings = settings
        self.java_home = java_home
        self.node = node
        self.cluster = settings.elasticsearch_nodes > 1
        self.name = f"elasticsearch-{node}" if self.cluster else "elasticsearch"
        self.shared = settings.state_dir.resolve() / "elasticsearch"
        self.home = settings.state_dir.resolve() / self.name
        self.port = settings.elasticsearch_port + node - 1
        self.transport_port = settings.elasticsearch_transport_port + node - 1
        self.pom = compose_local_dir() / "elasticsearch" / "pom.xml"
        self.version = pom_property(self.pom, "es.version")
        self.dist = self.shared / "dist" / f"elasticsearch-{self.version}"
        self.conf = self.home / "config"
        # The pid file moved out of run/, which the node's user may write; an older stack's is still honoured
        # while it is root's own file.
        self.process = ManagedProcess(self.name, self.home / "launcher.pid", self.home / "stdout.log",
                                      legacy_pid_file=self.home / "run" / "launcher.pid")
        self.account = ServerAccount.for_stack(settings.run_as, create=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def server_log(self) -> Path:
        return self.home / "logs" / "logjet-local.log"

    def prepare(self) -> None:
        self.account = ServerAccount.for_stack(self.settings.run_as, create=True)
        self.shared.mkdir(parents=True, exist_ok=True)
        private_dir(self.shared)
        self.home.mkdir(parents=True, exist_ok=True)
        private_dir(self.home)
        if not (self.dist / "bin" / "elasticsearch").is_file():
            run_maven(
                self.settings.maven,
                self.pom,
                "dependency:unpack",
                {"es.unpack.dir": str(self.shared / "dist")},
                self.shared / "maven.log",
            )
        self.write_files()
        if self.account.dropped:
            self._keystore()
            probe = subprocess.run(
                self.account.command(["test", "-x", str(self.dist / "bin" / "elasticsearch")]),
                env=self.account.environment(self.home / "run"), check=False,
            )
            if probe.returncode != 0:
                raise StackError(
                    f"the user {self.settings.run_as!r} cannot reach {self.dist}: every parent directory of the "
                    "stack's state directory must be searchable by others (chmod o+x), or set stack.state_dir"
                )

    def write_files(self) -> None:
        """The node's configuration (private) and the directories it writes (handed to the account)."""
        s = self.settings
        logs = self.home / "logs"
        private_dir(self.conf)
        for item in sorted((self.dist / "config").iterdir()):
            if item.is_dir():
                private_dir(self.conf / item.name)
            elif item.name not in ("jvm.options", "elasticsearch.yml"):
                copy_private(item, self.conf / item.name)
        # The distribution's jvm.options writes GC logs and heap dumps relative to the working directory.
        jvm = (self.dist / "config" / "jvm.options").read_text()
        jvm = jvm.replace("file=logs/gc.log", f"file={logs}/gc.log")
        jvm = jvm.replace("ErrorFile=logs/", f"ErrorFile={logs}/").replace("HeapDumpPath=data", f"HeapDumpPath={logs}")
        write_private(self.conf / "jvm.options", jvm)
        private_dir(self.conf / "jvm.options.d")
        write_private(self.conf / "jvm.options.d" / "heap.options",
                      f"-Xms{s.elasticsearch_heap}\n-Xmx{s.elasticsearch_heap}\n")
        write_private(self.conf / "elasticsearch.yml", "\n".join([*self._yml(logs), ""]))
        for sub in ("data", "logs", "run"):
            give_to(self.home / sub, self.account)

    def _yml(self, logs: Path) -> list[str]:
        s = self.settings
        if self.cluster:
            transports = [f"127.0.0.1:{s.elasticsearch_transport_port + i}" for i in range(s.elasticsearch_nodes)]
            masters = [node_name(i) for i in range(1, s.elasticsearch_nodes + 1)]
            discovery = [f"discovery.seed_hosts: [{', '.join(transports)}]",
                         # Read only when the cluster first forms; a node that has joined once ignores it.
                         f"cluster.initial_master_nodes: [{', '.join(masters)}]"]
        else:
            discovery = ["discovery.type: single-node"]
        return [
            "cluster.name: logjet-local",
            f"node.name: {node_name(self.node)}",
            f"path.data: {self.home / 'data'}",
            f"path.logs: {logs}",
            "network.host: 127.0.0.1",
            f"http.port: {self.port}",
            f"transport.port: {self.transport_port}",
            *discovery,
            "xpack.security.enabled: false",
            # A developer machine's disk is often fuller than the watermarks allow; the tests set the
            # read-only block themselves when they want Elasticsearch to push back.
            "cluster.routing.allocation.disk.threshold_enabled: false",
            "action.destructive_requires_name: false",
        ]

    def _keystore(self) -> None:
        """The node cannot create its keystore in a directory it may not write: root creates it and gives it over."""
        path = self.conf / KEYSTORE
        try:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and st.st_uid == self.account.uid:
                return  # the node's own, from an earlier start
            os.unlink(path)
        except FileNotFoundError:
            pass
        res = subprocess.run([str(self.dist / "bin" / "elasticsearch-keystore"), "create"], capture_output=True,
                             text=True, check=False, env=self.tool_environment(), cwd=self.home)
        if res.returncode != 0:
            raise StackError(f"creating Elasticsearch's keystore failed:\n{res.stdout}\n{res.stderr}")
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fchown(fd, self.account.uid, self.account.gid)
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)

    def tool_environment(self) -> dict[str, str]:
        """The environment of Elasticsearch's tools run by root: their temporary files (the launcher unpacks and
        loads a native library there) in a private directory, never in run/, which the node's user writes."""
        tmp = self.home / "tool-tmp"
        private_dir(tmp)
        return ServerAccount.current().environment(tmp, {
            "ES_PATH_CONF": str(self.conf),
            "ES_JAVA_HOME": str(self.java_home),
            "ES_TMPDIR": str(tmp),
        })

    def _environment(self) -> dict[str, str]:
        return self.account.environment(self.home / "run", {
            "ES_PATH_CONF": str(self.conf),
            "ES_JAVA_HOME": str(self.java_home),
            "ES_TMPDIR": str(self.home / "run"),
        })

    def start_command(self) -> list[str]:
        return self.account.command([str(self.dist / "bin" / "elasticsearch")])

    def start(self) -> int:
        return self.process.start(self.start_command(), env=self._environment(), cwd=self.home / "run")

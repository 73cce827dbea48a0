"""The local stack started by root: the servers run as an unprivileged user with only the environment they need,
and nothing that user can write redirects what root writes or gives away (real files, real ownership, a real
process run through setpriv). Root is needed to change owners: CI runs these as root."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from logjet.config import StackSettings
from logjet.stack.account import ServerAccount, give_to, private_dir, write_private
from logjet.stack.elasticsearch import ElasticsearchServer
from logjet.stack.kafka import KafkaServer
from logjet.stack.process import ManagedProcess

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing file owners needs root")

NOBODY = ServerAccount("nobody", 65534, 65534)
SECRET = "hunter2-from-the-callers-environment"


def _owner(path: Path) -> int:
    return os.lstat(path).st_uid


def _kafka(tmp_path: Path) -> KafkaServer:
    server = KafkaServer(StackSettings(state_dir=tmp_path / "state"), "/usr/bin/java")
    server.account = NOBODY
    server.home.mkdir(parents=True)
    jars = tmp_path / "m2"
    jars.mkdir()
    for name in ("kafka_2.13-4.1.1.jar", "log4j-core-2.24.3.jar"):
        (jars / name).write_bytes(b"PK" + name.encode())
    server.classpath_file.write_text(":".join(str(jars / n) for n in ("kafka_2.13-4.1.1.jar", "log4j-core-2.24.3.jar")))
    return server


def _elasticsearch(tmp_path: Path) -> ElasticsearchServer:
    server = ElasticsearchServer(StackSettings(state_dir=tmp_path / "state"), Path("/usr/lib/jvm/x"))
    server.account = NOBODY
    config = server.dist / "config"
    (config / "jvm.options.d").mkdir(parents=True)
    (config / "jvm.options").write_text("-XX:HeapDumpPath=data\n-Xlog:gc*:file=logs/gc.log\n")
    (config / "elasticsearch.yml").write_text("# placeholder\n")
    (config / "log4j2.properties").write_text("status = error\n")
    return server


def test_the_servers_get_only_the_environment_they_need(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGJET_ELASTICSEARCH_OPTIONS", f'{{"api_key": "{SECRET}"}}')
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("KAFKA_OPTS", "-javaagent:/tmp/evil.jar")
    monkeypatch.setenv("ES_JAVA_OPTS", "-Xmx64g")
    es = _elasticsearch(tmp_path)
    env = es._environment()
    assert set(env) == {"PATH", "HOME", "LANG", "USER", "LOGNAME", "ES_PATH_CONF", "ES_JAVA_HOME", "ES_TMPDIR"}
    assert env["USER"] == "nobody" and env["HOME"] == str(es.home / "run")
    kafka = _kafka(tmp_path)
    kenv = kafka.account.environment(kafka.home / "run")
    assert set(kenv) == {"PATH", "HOME", "LANG", "USER", "LOGNAME"}
    assert SECRET not in repr(env) + repr(kenv)


def test_tools_root_runs_keep_their_temporary_files_where_only_root_writes(tmp_path: Path) -> None:
    es = _elasticsearch(tmp_path)
    es.home.mkdir(parents=True, exist_ok=True)
    env = es.tool_environment()
    for key in ("ES_TMPDIR", "HOME"):
        st = os.lstat(env[key])
        assert st.st_uid == 0 and not stat.S_IMODE(st.st_mode) & 0o022, key
        assert Path(env[key]) != es.home / "run"
    assert "USER" not in env


def test_a_real_process_runs_as_the_account_without_privileges_or_the_callers_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    cmd = NOBODY.command(["sh", "-c", "id -u; id -g; grep -E '^(NoNewPrivs|CapEff):' /proc/self/status; env"])
    assert cmd[0].endswith("setpriv") and "--no-new-privs" in cmd
    res = subprocess.run(cmd, env=NOBODY.environment(tmp_path), capture_output=True, text=True, timeout=30,
                         check=True)
    lines = res.stdout.splitlines()
    assert lines[:2] == ["65534", "65534"]
    assert "NoNewPrivs:\t1" in lines and "CapEff:\t0000000000000000" in lines
    names = {line.split("=", 1)[0] for line in lines[4:] if "=" in line}
    assert names <= {"PATH", "HOME", "LANG", "USER", "LOGNAME", "PWD", "SHLVL", "_"}
    assert SECRET not in res.stdout
    assert ServerAccount.current().command(["true"]) == ["true"]  # not root: run as is


def test_kafka_runs_as_the_account_from_jars_it_can_read(tmp_path: Path) -> None:
    server = _kafka(tmp_path)
    server._copy_libs()
    cmd = server.start_command()
    assert cmd[0].endswith("setpriv") and "--reuid=nobody" in cmd
    classpath = cmd[cmd.index("-cp") + 1].split(":")
    assert classpath == [str(server.libs / "kafka_2.13-4.1.1.jar"), str(server.libs / "log4j-core-2.24.3.jar")]
    for jar in map(Path, classpath):  # outside Maven's cache (root's home is private), readable by everyone
        assert _owner(jar) == 0 and stat.S_IMODE(jar.stat().st_mode) == 0o644


def test_kafka_files_root_writes_cannot_be_redirected(tmp_path: Path) -> None:
    server = _kafka(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    outside = tmp_path / "outside-root-file"
    outside.write_text("root's other file\n")
    # An older layout: config and data owned by the server's user, who planted links there.
    for sub in ("config", "data", "logs"):
        (server.home / sub).mkdir()
    (server.home / "config" / "server.properties").symlink_to(victim)
    (server.home / "config" / "log4j2.yaml").hardlink_to(victim)
    (server.home / "data" / "segment.log").write_text("data written by root long ago\n")
    os.link(outside, server.home / "data" / "planted-hardlink")
    (server.home / "logs" / "planted-symlink").symlink_to(outside)
    for path in [server.home / "config", server.home / "data"]:
        os.chown(path, NOBODY.uid, NOBODY.gid)
    server.write_files()
    assert victim.read_text() == "root's file\n" and _owner(victim) == 0
    assert _owner(outside) == 0
    props = server.home / "config" / "server.properties"
    assert not props.is_symlink() and "process.roles=broker,controller" in props.read_text()
    assert os.stat(server.home / "config" / "log4j2.yaml").st_nlink == 1
    for private in (server.home / "config", props):
        assert _owner(private) == 0 and not stat.S_IMODE(os.lstat(private).st_mode) & 0o022
    for written in ("data", "logs", "run", "data/segment.log"):
        assert _owner(server.home / written) == NOBODY.uid, written


def test_elasticsearch_config_is_root_s_and_the_keystore_the_node_s(tmp_path: Path) -> None:
    server = _elasticsearch(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    conf = server.home / "config"
    (conf / "jvm.options.d").mkdir(parents=True)
    (conf / "jvm.options.d" / "heap.options").symlink_to(victim)
    (conf / "elasticsearch.yml").symlink_to(victim)
    (conf / "elasticsearch.keystore").write_bytes(b"the node's keystore")
    for path in (conf, conf / "jvm.options.d", conf / "elasticsearch.keystore"):
        os.chown(path, NOBODY.uid, NOBODY.gid)
    server.write_files()
    assert victim.read_text() == "root's file\n"
    assert "xpack.security.enabled: false" in (conf / "elasticsearch.yml").read_text()
    assert (conf / "jvm.options.d" / "heap.options").read_text().startswith("-Xms")
    assert f"HeapDumpPath={server.home / 'logs'}" in (conf / "jvm.options").read_text()
    for private in (conf, conf / "jvm.options.d", conf / "elasticsearch.yml", conf / "log4j2.properties"):
        assert _owner(private) == 0 and not stat.S_IMODE(os.lstat(private).st_mode) & 0o022, private
    assert _owner(conf / "elasticsearch.keystore") == NOBODY.uid  # the node's own, kept
    for written in ("data", "logs", "run"):
        assert _owner(server.home / written) == NOBODY.uid
    assert server.process.pid_file.parent == server.home  # not in run/, which the node writes


def test_a_pid_file_the_servers_user_could_write_names_nothing(tmp_path: Path) -> None:
    other = subprocess.Popen(["sleep", "60"])
    try:
        started = open(f"/proc/{other.pid}/stat").read().rsplit(")", 1)[1].split()[19]
        legacy = tmp_path / "run" / "launcher.pid"
        legacy.parent.mkdir()
        legacy.write_text(f"{other.pid} {started}\n")
        proc = ManagedProcess("es", tmp_path / "launcher.pid", tmp_path / "stdout.log", legacy_pid_file=legacy)
        assert proc.pid() == other.pid  # root's own file, from an older layout: honoured
        os.chown(legacy, NOBODY.uid, NOBODY.gid)
        assert proc.pid() is None  # the server's user wrote it: not trusted
        assert proc.stop(timeout=1) is False and other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_private_dir_and_give_to_primitives(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "conf"
    link.symlink_to(target)
    private_dir(link)
    assert link.is_dir() and not link.is_symlink() and _owner(target) == 0
    write_private(link / "a.conf", "x")
    write_private(link / "a.conf", "y")
    assert (link / "a.conf").read_text() == "y" and list(link.iterdir()) == [link / "a.conf"]
    given = tmp_path / "data"
    (given / "sub").mkdir(parents=True)
    (given / "sub" / "f").write_text("f")
    give_to(given, NOBODY)
    assert {_owner(p) for p in (given, given / "sub", given / "sub" / "f")} == {NOBODY.uid}

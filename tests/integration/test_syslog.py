"""Syslog through the real collector and Kafka, sent by util-linux `logger` (a real client) over UDP and TCP,
RFC 3164 and RFC 5424, newline framing and octet counting; and over TLS."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

from tests.integration.conftest import free_port, logjet_with_config, read_topic, wait_for


def _started(tmp_path: Path) -> None:
    wait_for(lambda: "collector running" in (tmp_path / "logjet.out").read_text(), 30, "the collector")


def test_logger_over_udp_and_tcp_in_both_formats(make_settings, tmp_path: Path) -> None:
    udp, tcp = free_port(), free_port()
    settings = make_settings(collector={"syslog": [
        {"protocol": "udp", "host": "127.0.0.1", "port": udp, "tags": {"site": "lab"}},
        {"protocol": "tcp", "host": "127.0.0.1", "port": tcp}]})
    proc = logjet_with_config("collect", settings=settings, directory=tmp_path)
    sent = []
    try:
        _started(tmp_path)
        for transport, port in (("--udp", udp), ("--tcp", tcp)):
            for fmt in ("--rfc3164", "--rfc5424"):
                framings = [[], ["--octet-count"]] if transport == "--tcp" else [[]]
                for framing in framings:
                    text = f"hello {transport[2:]} {fmt[2:]} {'octet' if framing else 'plain'}"
                    subprocess.run(["logger", transport, "--server", "127.0.0.1", "--port", str(port), fmt,
                                    *framing, "--tag", "shop-api", "--id=4242", "-p", "local3.err", text],
                                   check=True, timeout=10)
                    sent.append(text)
        # Several lines on one connection, one of them not syslog at all.
        with socket.create_connection(("127.0.0.1", tcp)) as conn:
            conn.sendall(b"<14>Nov 25 14:02:07 node-9 cron[77]: first\n"
                         b"38 <14>1 - node-9 app - - - octet-counted"
                         b"this is not syslog\n")
        got = read_topic(settings, len(sent) + 3, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    by_message = {e.message: (s, e) for s, e in got}
    for text in sent:
        source, entry = by_message[text]
        assert source.kind == "syslog" and source.tags["source.ip"] == "127.0.0.1"
        assert entry.attrs["log.syslog.appname"] == "shop-api"
        assert entry.attrs["log.syslog.procid"] == "4242"
        assert entry.attrs["log.syslog.facility.name"] == "local3"
        assert entry.attrs["log.syslog.severity.name"] == "error"
        assert "malformed" not in entry.flags
        assert abs(entry.time_ns - time.time_ns()) < 120 * 10**9
        assert source.tags["network.transport"] in ("udp", "tcp")
    assert by_message[sent[0]][0].tags["site"] == "lab"
    assert by_message["first"][1].attrs["log.syslog.hostname"] == "node-9"
    assert by_message["octet-counted"][1].attrs["log.syslog.appname"] == "app"
    _, raw = by_message["this is not syslog"]
    assert raw.flags == ("malformed",) and "no <PRI>" in raw.attrs["error.message"]


def test_tls_listener(make_settings, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    port = free_port()
    settings = make_settings(collector={"syslog": [
        {"protocol": "tcp", "host": "127.0.0.1", "port": port, "tls": {"cert_file": str(cert), "key_file": str(key)}}]})
    proc = logjet_with_config("collect", settings=settings, directory=tmp_path)
    try:
        _started(tmp_path)
        ctx = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as conn:
            msg = b"<165>1 2003-10-11T22:14:15.003Z host app 1 ID7 - over tls"
            conn.sendall(b"%d %s" % (len(msg), msg))
        got = read_topic(settings, 1, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert [e.message for _, e in got] == ["over tls"]


def _rsyslogd() -> str:
    """rsyslogd from Debian's packages, installed on first use when the tests run as root (as in CI)."""
    path = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None)
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        cmd = ["apt-get", "install", "-y", "--no-install-recommends", "rsyslog"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(cmd, env=env, capture_output=True, timeout=600).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600, check=True)
            subprocess.run(cmd, env=env, capture_output=True, timeout=600, check=True)
        path = "/usr/sbin/rsyslogd"
    assert path is not None, "rsyslogd is needed: apt-get install rsyslog"
    return path


def test_rsyslog_forwards_with_omfwd_over_tcp_and_udp(make_settings, tmp_path: Path) -> None:
    rsyslogd = _rsyslogd()
    udp, tcp = free_port(), free_port()
    settings = make_settings(collector={"syslog": [{"protocol": "udp", "host": "127.0.0.1", "port": udp},
                                                   {"protocol": "tcp", "host": "127.0.0.1", "port": tcp}]})
    proc = logjet_with_config("collect", settings=settings, directory=tmp_path)
    source = tmp_path / "app.log"
    source.write_text("")
    (tmp_path / "work").mkdir()
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(f'''
global(workDirectory="{tmp_path / 'work'}")
module(load="imfile")
input(type="imfile" File="{source}" Tag="shop-app" ruleset="forward")
ruleset(name="forward") {{
  action(type="omfwd" target="127.0.0.1" port="{tcp}" protocol="tcp" TCP_Framing="octet-counted"
         template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfwd" target="127.0.0.1" port="{udp}" protocol="udp" template="RSYSLOG_ForwardFormat")
}}
''')
    rsyslog = None
    try:
        _started(tmp_path)
        rsyslog = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
                                   stdout=subprocess.DEVNULL, stderr=open(tmp_path / "rsyslog.err", "wb"))
        lines = [f"order {i} placed by rsyslog" for i in range(200)]
        time.sleep(1)
        with source.open("a") as fh:
            fh.write("".join(line + "\n" for line in lines))
        got = read_topic(settings, 2 * len(lines), timeout=60)
    finally:
        if rsyslog is not None:
            rsyslog.terminate()
            rsyslog.wait(10)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    for transport in ("tcp", "udp"):
        entries = [e for s, e in got if s.tags["network.transport"] == transport]
        assert sorted(e.message for e in entries) == sorted(lines), transport
        assert {e.attrs["log.syslog.appname"] for e in entries} == {"shop-app"}
        assert all("malformed" not in e.flags for e in entries)
    assert {e.attrs.get("log.syslog.version") for s, e in got if s.tags["network.transport"] == "tcp"} == {1}


def test_two_thousand_idle_connections_do_not_lock_out_a_real_sender(make_settings, tmp_path: Path) -> None:
    import resource

    import httpx

    needed = 2000 + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard >= needed, f"this test needs {needed} descriptors (ulimit -Hn)"
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    port, metrics = free_port(), free_port()
    settings = make_settings(collector={"metrics_port": metrics, "syslog": [
        {"protocol": "tcp", "host": "127.0.0.1", "port": port}]})  # default limits: 1024 connections, 64 a sender
    proc = logjet_with_config("collect", settings=settings, directory=tmp_path)
    idle: list[socket.socket] = []
    try:
        _started(tmp_path)
        # 200 from one address (the per-sender cap), 1,800 spread over 60 addresses (the listener's cap): all idle.
        sources = ["127.0.0.1"] * 200 + [f"127.0.7.{i % 60 + 1}" for i in range(1800)]
        for address in sources:
            sock = socket.socket()
            sock.bind((address, 0))
            sock.connect(("127.0.0.1", port))
            idle.append(sock)
        time.sleep(1.5)  # they have been idle long enough to give way
        messages = [f"<14>Nov 25 14:02:07 web-1 shop[9]: real order {i}" for i in range(20)]
        sender = socket.socket()
        sender.bind(("127.0.0.2", 0))
        sender.connect(("127.0.0.1", port))
        with sender:
            sender.sendall("".join(m + "\n" for m in messages).encode())
            got = read_topic(settings, len(messages), timeout=60)
        assert sorted(e.message for _, e in got) == sorted(f"real order {i}" for i in range(20))
        assert {s.tags["source.ip"] for s, _ in got} == {"127.0.0.2"}
        text = httpx.get(f"http://127.0.0.1:{metrics}/metrics").text
        closed = {reason: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("logjet_collector_syslog_connections_closed_total")
                  for reason in [line.split('reason="')[1].split('"')[0]]}
        assert closed["per_source_limit"] == 200 - 64
        assert closed["replaced_idle"] >= 1
        connections = next(line for line in text.splitlines()
                            if line.startswith("logjet_collector_syslog_connections{"))
        assert float(connections.rsplit(" ", 1)[1]) <= 1024
    finally:
        for sock in idle:
            sock.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0

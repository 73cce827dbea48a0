"""The compiled core's syslog path against the Python path, end to end: the same lines sent over TCP (newline and
octet-counted framing) and UDP to two real collectors, one on the compiled core and one with ``LOGJET_CORE=python``,
arrive in the shared Kafka as the same entries of the same sources."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from logjet.config import LogjetSettings
from tests.integration.conftest import free_port, read_topic, wait_for

MESSAGES = [
    b"<165>1 2003-10-11T22:14:15.003Z host.example app 1234 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\"] "
    b"\xef\xbb\xbfstructured",
    b"<14>1 2026-11-25T14:02:07.123456789+02:00 node-9 shop - - - {\"msg\":\"json \\\"inside\\\"\",\"n\":1}",
    b"<13>Nov 25 14:02:07 node-7 cron[77]: classic with a host",
    b"<86>Nov  5 09:15:01 sshd[4123]: Accepted publickey for deploy",
    b"<13>Nov 25 14:02:07.250 2025 web-1 nginx: a fraction and a year",
    b"<13>2026-11-25T14:02:07Z web-1 app: an ISO time in a BSD header",
    b"<13>1 2026-11-25T14:02:07Z h app - - - invalid \xff\xfe utf-8 \xc3",
    b"<30>1 2026-11-25T14:02:07Z h app - - - " + "caf\u00e9 \u2603 \U0001f600".encode(),
    b"<13>1 2026-11-25T14:02:07Z h app - - - " + b"long " * 300,  # cut at max_message_bytes
]
# Not syslog: delivered all the same, flagged, with the time they were received.
MALFORMED = [b"this is not syslog", b"<999>priority out of range", b"<13>2 2026-11-25T14:02:07Z h a - - - v2"]
MAX_MESSAGE_BYTES = 1000


def _collector(settings: LogjetSettings, directory: Path, core: str) -> subprocess.Popen[bytes]:
    """``logjet collect --config FILE`` on the named core."""
    directory.mkdir()
    config = directory / "logjet.yaml"
    config.write_text(yaml.safe_dump({s: getattr(settings, s).model_dump(mode="json") for s in ("kafka", "collector")}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}
    env["LOGJET_CORE"] = core
    with open(directory / "logjet.out", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "collect", "--config", str(config)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: "collector running" in (directory / "logjet.out").read_text(), 30, f"the {core} collector")
    return proc


def _send(udp: int, tcp: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for m in MESSAGES + MALFORMED:
            sock.sendto(m, ("127.0.0.1", udp))
            time.sleep(0.01)  # in order, and no burst a loaded machine's socket buffer might drop
    with socket.create_connection(("127.0.0.1", tcp)) as conn:
        stream = b"".join(m + b"\n" if i % 2 else b"%d %s" % (len(m), m) for i, m in enumerate(MESSAGES + MALFORMED))
        for i in range(0, len(stream), 700):  # reads that cut messages anywhere
            conn.sendall(stream[i:i + 700])
            time.sleep(0.01)


def test_lines_over_tcp_and_udp_arrive_as_the_python_path_sends_them(make_settings, tmp_path: Path) -> None:
    got = {}
    expected = 2 * len(MESSAGES + MALFORMED)
    for core in ("native", "python"):
        udp, tcp = free_port(), free_port()
        base = make_settings()
        settings = make_settings(kafka={"topic": f"{base.kafka.topic}-{core}"}, collector={"syslog": [
            {"protocol": "udp", "host": "127.0.0.1", "port": udp, "tags": {"site": "lab"},
             "max_message_bytes": MAX_MESSAGE_BYTES},
            {"protocol": "tcp", "host": "127.0.0.1", "port": tcp, "max_message_bytes": MAX_MESSAGE_BYTES}]})
        proc = _collector(settings, tmp_path / core, core)
        try:
            t0 = time.time_ns()
            _send(udp, tcp)
            got[core] = read_topic(settings, expected, timeout=60)
            t1 = time.time_ns()
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        assert len(got[core]) == expected, core
        for _, entry in got[core]:  # the malformed ones carry their receive time, which differs between the runs
            if "malformed" in entry.flags:
                assert t0 <= entry.time_ns <= t1

    def comparable(pairs: list) -> list:
        out = []
        for source, e in pairs:
            time_ns = None if "malformed" in e.flags else e.time_ns
            out.append((source.kind, source.host, source.collector, source.path, dict(source.tags), e.seq, time_ns,
                        e.message, e.flags, e.attrs))
        return sorted(out, key=repr)

    native, python = comparable(got["native"]), comparable(got["python"])
    assert native == python
    # What the comparison covers: both transports, every kind of message, and the cut.
    assert {row[4]["network.transport"] for row in native} == {"udp", "tcp"}
    assert sum("truncated" in row[8] for row in native) == 2
    assert sum("invalid_utf8" in row[8] for row in native) == 2
    assert sum("malformed" in row[8] for row in native) == 2 * len(MALFORMED)
    assert sum("log.syslog.structured_data" in (row[9] or {}) for row in native) == 2

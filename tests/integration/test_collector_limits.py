"""The collector's bounds: memory under a 100 MB line, back-pressure and counted drops while Kafka is away,
SIGTERM within its deadline, and the metrics and health port."""

from __future__ import annotations

import re
import signal
import socket
import time
from pathlib import Path

import httpx

from tests.integration.conftest import free_port, logjet_with_config, proc_status, read_topic, wait_for


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if m and m.group(1) == name and ",".join(sorted((m.group(2) or "").split(","))) == want:
            return float(m.group(3))
    raise KeyError(f"{name}{{{want}}} not in metrics")


def test_a_100_mb_line_keeps_memory_bounded_and_is_truncated_flagged(make_settings, tmp_path: Path) -> None:
    max_line = 256 * 1024
    log_file = tmp_path / "big.log"
    log_file.write_text("before\n")
    settings = make_settings(collector={"registry_path": str(tmp_path / "registry.json"), "max_line_bytes": max_line,
                                        "files": [{"paths": [str(log_file)]}]})
    proc = logjet_with_config("collect", settings=settings, directory=tmp_path)
    try:
        read_topic(settings, 1, timeout=60)  # running and connected: its baseline is set
        baseline_kb = proc_status(proc.pid, "VmHWM")
        with log_file.open("ab") as fh:
            block = b"z" * (1 << 20)
            for _ in range(100):
                fh.write(block)
                fh.flush()
            fh.write(b"\nafter\n")
        got = read_topic(settings, 3, timeout=120)
        peak_kb = proc_status(proc.pid, "VmHWM")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    messages = [(e.message[:10], len(e.message), e.flags) for _, e in got]
    assert messages == [("before", 6, ()), ("z" * 10, max_line, ("truncated",)), ("after", 5, ())]
    growth_mb = (peak_kb - baseline_kb) / 1024
    print(f"\n100 MB line: peak RSS {peak_kb / 1024:.1f} MiB, grew by {growth_mb:.1f} MiB")
    # A read chunk (1 MiB), the line's kept part, its JSON encoding and the producer's copy: a few MiB, never 100.
    assert growth_mb < 16, f"peak memory grew by {growth_mb:.1f} MiB while a 100 MB line went by"


def test_kafka_away_tcp_blocks_udp_drops_counted_and_sigterm_meets_its_deadline(make_settings,
                                                                                tmp_path: Path) -> None:
    udp, tcp, metrics = free_port(), free_port(), free_port()
    settings = make_settings(
        kafka={"bootstrap": f"127.0.0.1:{free_port()}"},  # nothing listens there
        collector={"max_in_flight_records": 2, "batch_max_entries": 10, "shutdown_deadline_s": 3,
                   "metrics_port": metrics,
                   "syslog": [{"protocol": "udp", "host": "127.0.0.1", "port": udp, "queue_max": 100},
                              {"protocol": "tcp", "host": "127.0.0.1", "port": tcp, "queue_max": 100}]})
    proc = logjet_with_config("collect", settings=settings, directory=tmp_path)
    base = f"http://127.0.0.1:{metrics}"
    try:
        wait_for(lambda: "collector running" in (tmp_path / "logjet.out").read_text(), 30, "the collector")
        assert httpx.get(f"{base}/healthz").status_code == 200
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(2000):
                s.sendto(b"<13>Nov 25 14:02:07 h app: udp %d" % i, ("127.0.0.1", udp))
        # TCP: once the queue is full the collector stops reading, the socket buffers fill, the sender waits.
        blocked = False
        with socket.create_connection(("127.0.0.1", tcp)) as conn:
            conn.settimeout(5)
            line = b"<13>Nov 25 14:02:07 h app: " + b"t" * 200 + b"\n"
            try:
                for _ in range(200_000):
                    conn.sendall(line)
            except TimeoutError:
                blocked = True
        assert blocked, "a TCP sender was never slowed down while Kafka was away"
        wait_for(lambda: _metric(httpx.get(f"{base}/metrics").text, "logjet_collector_entries_dropped_total",
                                 input="syslog_udp", reason="queue_full") > 0, 10, "UDP drops to be counted")
        text = httpx.get(f"{base}/metrics").text
        dropped = _metric(text, "logjet_collector_entries_dropped_total", input="syslog_udp", reason="queue_full")
        queued = _metric(text, "logjet_collector_syslog_queue_depth", input="syslog_udp")
        published = _metric(text, "logjet_collector_entries_published_total", input="syslog_udp")
        assert queued <= 100 and dropped >= 2000 - 100 - published - 20  # loopback may itself lose a few
        assert _metric(text, "logjet_collector_entries_acked_total", input="syslog_udp") == 0
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"\nKafka away: {dropped:.0f} UDP datagrams dropped and counted; "
          f"SIGTERM to exit {elapsed:.2f}s (deadline 3s)")
    assert code == 0
    # The deadline, plus the time a busy 2-core machine may take to schedule the exit.
    assert elapsed < 3 + 0.5, f"SIGTERM took {elapsed:.1f}s with a 3s deadline"

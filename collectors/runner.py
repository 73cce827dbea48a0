"""One collector process running any set of inputs (files, containers, syslog, stdin) over one Kafka producer.

The main loop reads files and drains the listeners' queues while fewer than ``max_in_flight_records`` records
await Kafka's acknowledgement; beyond that every input stops reading (files stay where they are, TCP senders are
blocked, UDP's bounded queue drops and counts). SIGTERM stops the inputs, ships what they hold, waits for the
delivery reports until the shutdown deadline, writes the checkpoint and exits.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from collectors.containers.collector import container_file_sets
from collectors.files.collector import FileCollector, file_set
from collectors.metrics import CollectorMetrics, MetricsServer
from collectors.output import Output
from collectors.stdin import StdinInput
from collectors.syslog.server import SyslogListener
from logjet.config import LogjetSettings
from logjet.errors import ConfigError
from shippers.kafka import KafkaShipper

__all__ = ["Collector"]

log = logging.getLogger("logjet.collector")


class Collector:
    def __init__(self, settings: LogjetSettings, shipper: KafkaShipper | None = None) -> None:
        cs = self.cs = settings.collector
        filesets = [file_set(f) for f in cs.files]
        if cs.containers is not None:
            filesets += container_file_sets(cs.containers, cs.max_line_bytes)
        if not filesets and not cs.syslog and not cs.stdin:
            raise ConfigError("the collector has no input: set collector.files, collector.containers, "
                              "collector.syslog or collector.stdin")
        self.metrics = CollectorMetrics()
        self.shipper = shipper or KafkaShipper(settings.kafka)
        self.output = Output(cs, self.shipper, self.metrics)
        run_id = time.time_ns()
        self.files = FileCollector(cs, filesets, self.output, self.metrics) if filesets else None
        self.syslog = [SyslogListener(s, cs, self.metrics, run_id) for s in cs.syslog]
        self.stdin = StdinInput(cs, self.metrics, run_id, sys.stdin.buffer) if cs.stdin else None
        self.metrics_server: MetricsServer | None = None

    def run(self, stop: threading.Event) -> None:
        cs = self.cs
        if cs.metrics_port is not None:
            self.metrics_server = MetricsServer(self.metrics, cs.metrics_host, cs.metrics_port)
            log.info("metrics and health on http://%s:%d/metrics", cs.metrics_host, self.metrics_server.port)
        if self.files is not None:
            self.files.stopping = stop.is_set
        for listener in self.syslog:
            listener.start()
        if self.stdin is not None:
            self.stdin.start()
        log.info("collector running: %d file set(s), %d syslog listener(s)%s; topic %s",
                 len(self.files.filesets) if self.files else 0, len(self.syslog),
                 ", stdin" if self.stdin else "", self.shipper.topic)
        try:
            while not stop.is_set():
                n = self._round()
                self.metrics.beat()
                if self.stdin is not None and self.stdin.finished and not self.files and not self.syslog:
                    break  # sidecar on a pipe: the writer is done
                if n == 0:
                    self.output.poll(cs.poll_interval_s)
        except Exception as exc:
            self.metrics.failure = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.shutdown()

    def _round(self) -> int:
        n = self.files.poll_once() if self.files is not None else 0
        for listener in self.syslog:
            n += listener.drain(self.output)
        if self.stdin is not None:
            n += self.stdin.drain(self.output)
        return n

    def shutdown(self) -> None:
        # Part of the deadline is kept for what follows the flush: stopping threads, closing files, exiting.
        budget = self.cs.shutdown_deadline_s
        deadline = time.monotonic() + budget - min(1.0, budget / 4)
        for listener in self.syslog:
            listener.stop()
        # What the listeners took in is shipped before the final flush: receiving it and then dropping it on a
        # clean stop would be a loss no sender could see.
        while any(listener.queued for listener in self.syslog) and time.monotonic() < deadline:
            for listener in self.syslog:
                if self.output.wait_for_room(lambda: time.monotonic() >= deadline):
                    listener.drain(self.output)
        complete = self.output.flush(max(0.0, deadline - time.monotonic()))
        if self.files is not None:
            self.files.close()
        if self.metrics_server is not None:
            self.metrics_server.close()
        if not complete:
            log.warning("shutdown deadline reached with records unacknowledged; file inputs re-send them on restart")

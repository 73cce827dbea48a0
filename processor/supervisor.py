"""`logjet process --workers N`: N worker processes in one consumer group, restarted when they die.

Workers are started with the ``spawn`` method (no state inherited from the supervisor, safe with librdkafka's
threads). A worker that exits while the supervisor is not stopping is restarted after a capped, jittered back-off
(its uncommitted batch is replayed by whoever owns its partitions next; document ids make the replay harmless).
SIGTERM or SIGINT is passed on to every worker, which finishes its batch, commits and leaves the group; a worker
still running after the shutdown deadline (plus a margin) is killed. The supervisor also serves ``/metrics`` (all
workers' metrics, through prometheus_client's multiprocess mode, and the consumer lag of the partitions each live
worker owns) and ``/healthz`` (every worker alive).
"""

from __future__ import annotations

import faulthandler
import logging
import multiprocessing as mp
import os
import random
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from prometheus_client import CollectorRegistry, multiprocess

from logjet.config import LogjetSettings
from logjet.probe import ProbeServer, health_route, metrics_route
from processor.metrics import ConsumerLagCollector, forget_lag

__all__ = ["Supervisor"]

log = logging.getLogger("logjet.processor.supervisor")

RESTART_BACKOFF_MAX_S = 30.0
CONFIG_EXIT = 2


def _worker_main(settings_json: bytes, index: int) -> None:
    """Entry point of a worker process."""
    import sys

    from logjet.config import LogjetSettings
    from logjet.errors import ConfigError
    from logjet.logs import setup_logging
    from processor.transform import tune_gc
    from processor.worker import Worker

    setup_logging(f"%(asctime)s %(levelname)s %(name)s[w{index}]: %(message)s")
    # `kill -USR1 <worker>` prints every thread's stack: what an operator needs when a worker seems stuck.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    settings = LogjetSettings.model_validate_json(settings_json)
    try:
        worker = Worker(settings)
        tune_gc()
        worker.run(stop)
    except ConfigError as exc:
        # Restarting cannot fix a configuration: say so with the exit code the supervisor stops on.
        logging.getLogger("logjet.processor").error("configuration error: %s", exc)
        sys.exit(CONFIG_EXIT)


@dataclass
class _Slot:
    index: int
    process: BaseProcess | None = None
    restarts: int = 0
    next_start: float = 0.0


class Supervisor:
    def __init__(self, settings: LogjetSettings, workers: int | None = None) -> None:
        self.settings = settings
        self.count = workers or settings.processor.workers
        self.slots = [_Slot(i) for i in range(self.count)]
        self._ctx = mp.get_context("spawn")
        self._stopping = threading.Event()
        self._config_failed = False
        self._metrics_dir = tempfile.mkdtemp(prefix="logjet-processor-metrics-")
        # Read by prometheus_client when the workers import it: it must be set before they start.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = self._metrics_dir
        self._json = settings.model_dump_json().encode()

    def _start(self, slot: _Slot) -> None:
        slot.process = self._ctx.Process(target=_worker_main, args=(self._json, slot.index),
                                         name=f"logjet-worker-{slot.index}")
        slot.process.start()
        log.info("worker %d started (pid %d)", slot.index, slot.process.pid)

    def alive(self) -> int:
        return sum(1 for s in self.slots if s.process is not None and s.process.is_alive())

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _f: (log.info("received %s; stopping the workers",
                                                            signal.Signals(signum).name), self.stop()))
        server = self._serve_metrics()
        try:
            for slot in self.slots:
                self._start(slot)
            while not self._stopping.wait(0.2):
                self._watch()
            rc = self._shutdown()
            return CONFIG_EXIT if self._config_failed else rc
        finally:
            if server is not None:
                server.close()
            shutil.rmtree(self._metrics_dir, ignore_errors=True)

    def _watch(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            proc = slot.process
            if proc is not None and not proc.is_alive():
                multiprocess.mark_process_dead(proc.pid, self._metrics_dir)
                forget_lag(self._metrics_dir, proc.pid)  # its partitions are someone else's now
                if proc.exitcode == CONFIG_EXIT:
                    log.error("worker %d refused the configuration; stopping", slot.index)
                    self._config_failed = True
                    self.stop()
                    return
                slot.restarts += 1
                delay = random.uniform(0, min(RESTART_BACKOFF_MAX_S, 0.5 * 2 ** min(slot.restarts, 10)))
                log.warning("worker %d (pid %d) exited with %s; restarting it in %.1fs", slot.index, proc.pid,
                            proc.exitcode, delay)
                slot.process, slot.next_start = None, now + delay
            if slot.process is None and now >= slot.next_start:
                self._start(slot)

    def _shutdown(self) -> int:
        for slot in self.slots:
            if slot.process is not None and slot.process.is_alive():
                os.kill(slot.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.processor.shutdown_deadline_s + 10
        rc = 0
        for slot in self.slots:
            proc = slot.process
            if proc is None:
                continue
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.error("worker %d did not stop in time; its threads' stacks follow, then it is killed", slot.index)
                os.kill(proc.pid, signal.SIGUSR1)
                time.sleep(0.5)
                proc.kill()
                proc.join(5)
                rc = 1
            elif proc.exitcode != 0:
                log.error("worker %d exited with %s", slot.index, proc.exitcode)
                rc = 1
        return rc

    def _health(self) -> tuple[bool, dict[str, object]]:
        alive = self.alive()
        ok = alive == self.count and not self._stopping.is_set()
        return ok, {"status": "ok" if ok else "failing", "workers": self.count, "alive": alive,
                    "restarts": sum(s.restarts for s in self.slots)}

    def _registry(self) -> CollectorRegistry:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self._metrics_dir)
        # The consumer lag of the partitions each live worker owns, as each last reported it.
        registry.register(ConsumerLagCollector(self._metrics_dir))
        return registry

    def _serve_metrics(self) -> ProbeServer | None:
        ps = self.settings.processor
        if ps.metrics_port is None:
            return None
        server = ProbeServer(ps.metrics_host, ps.metrics_port, {"/metrics": metrics_route(self._registry),
                                                               "/healthz": health_route(self._health)})
        log.info("processor metrics and health on http://%s:%d/metrics", ps.metrics_host, server.port)
        return server

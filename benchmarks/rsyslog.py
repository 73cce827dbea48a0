"""The C peer: rsyslog (Debian's rsyslogd 8.2302 with omkafka, imkafka and omelasticsearch) doing the same work.

Each run starts a private ``rsyslogd -n`` on a generated configuration (checked with ``-N1`` first: rsyslogd starts
even with a broken action and only disables it), feeds it, and reads its impstats counters (JSON, every second)
until the work is acknowledged:

- B4 files: imfile reads the corpus from byte 0 -> omkafka (acks=all, idempotence, zstd: logjet's producer
  settings); done when omkafka's ``acked`` equals the lines. omkafka serves librdkafka's delivery reports (the only
  place ``acked`` moves) only when it is handed a message or on SIGHUP, so the runner sends SIGHUP every second
  while it waits. The action has ``reopenOnHup="off"``: with omkafka's default (on) each SIGHUP destroys the
  producer (flushing it) and builds a new one, once a second for the whole run; off, a SIGHUP only serves the
  delivery reports (``rd_kafka_poll``; and it must not come before the first message, see ``_Rsyslogd.wait``).
  impstats' own interval cannot replace the SIGHUP: it emits the counters, it does not move them, and after the
  last message nothing else would serve the reports.
- B4 syslog: imtcp (one connection, newline framing) or imudp (paced like logjet's run) -> omkafka, the same way.
- B5: imkafka reads the logjet wire records of the B2 corpus -> mmjsonparse -> one document per entry (RainerScript
  ``foreach``) -> omelasticsearch bulk into a plain index; timed over the same steady span as logjet's processor
  (20% to 80% of the entries indexed, by Elasticsearch's indexing counter of that index).

CPU is utime + stime of the rsyslogd process (all its threads, exited ones included), from /proc. Completion is
seen at the granularity of impstats (one second); CPU per line does not depend on it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from benchmarks.collector import cpu_s, feed, send_tcp, send_udp
from benchmarks.common import free_port
from benchmarks.processor import POLL_S, window

__all__ = ["OMKAFKA_SETTINGS", "RsyslogRun", "available", "config", "run_b5", "run_files", "run_syslog", "version"]

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
_MODULES = Path("/usr/lib/x86_64-linux-gnu/rsyslog")
PACKAGES = ("rsyslog", "rsyslog-kafka", "rsyslog-elasticsearch")

# logjet's producer settings (shippers/kafka): what the peer's output has to match.
_KAFKA_PARAMS = ('"acks=all", "enable.idempotence=true", "compression.codec=zstd", "queue.buffering.max.ms=50", '
                 '"batch.num.messages=10000", "queue.buffering.max.messages=200000", '
                 '"queue.buffering.max.kbytes=262144"')

# What a result file records of the peer's omkafka action (older files, without it, had reopenOnHup on).
OMKAFKA_SETTINGS = 'omkafka reopenOnHup="off", counters served by SIGHUP every second'


def _template(json: str) -> str:
    """An rsyslog string template named ``doc`` whose output is ``json`` (``%property%`` references inside)."""
    return 'template(name="doc" type="string" string="' + json.replace('"', '\\"') + '")'


_TEMPLATES = {
    "files_template": _template('{"ts":"%timegenerated:::date-rfc3339%","file":"%$!metadata!filename:::json%",'
                                '"offset":%$!metadata!fileoffset%,"msg":"%msg:::json%"}'),
    "syslog_template": _template('{"ts":"%timereported:::date-rfc3339%","host":"%hostname:::json%",'
                                 '"app":"%app-name:::json%","procid":"%procid:::json%","msgid":"%msgid:::json%",'
                                 '"facility":"%syslogfacility-text%","severity":"%syslogseverity-text%",'
                                 '"msg":"%msg:::json%"}'),
    # What rsyslog can make of an entry: no parse of the line, the time as epoch milliseconds (it cannot format
    # nanoseconds as RFC 3339), the source's id, kind and host.
    "b5_template": _template('{"@timestamp":%$.tms%,"seq":%$.seq%,"message":"%$.msg:::json%","logjet":{"source":'
                             '{"id":"%$!source!id:::json%","kind":"%$!source!kind:::json%"}},'
                             '"host":{"name":"%$!source!host:::json%"}}'),
}

_HEAD = """
global(workDirectory="{run}/work" maxMessageSize="{max_message}" processInternalMessages="on"
       parser.escapeControlCharactersOnReceive="off")
module(load="impstats" interval="1" format="json" resetCounters="off" log.syslog="off" log.file="{run}/stats.json")
main_queue(queue.type="FixedArray" queue.size="100000" queue.dequeueBatchSize="1024")
*.* action(type="omfile" file="{run}/internal.log")
"""

_OMKAFKA = """
ruleset(name="bench" queue.type="FixedArray" queue.size="100000" queue.dequeueBatchSize="1024"
        queue.workerThreads="1") {{
  {pre}
  action(type="omkafka" name="kafka" broker=["{bootstrap}"] topic="{topic}" template="doc"
         confParam=[{params}] resubmitOnFailure="on" keepFailedMessages="off" closeTimeout="30000"
         reopenOnHup="off")
}}
"""

_FILES = _HEAD + """
module(load="imfile" mode="inotify")
module(load="omkafka")
{files_template}
""" + _OMKAFKA + """
input(type="imfile" ruleset="bench" file="{run}/in/*.log" tag="bench" freshStartTail="off" readMode="0"
      addMetadata="on" maxLinesAtOnce="0" maxSubmitAtOnce="1024" persistStateInterval="0")
"""

_SYSLOG = _HEAD + """
module(load="im{protocol}")
module(load="mmrm1stspace")
module(load="omkafka")
{syslog_template}
""" + _OMKAFKA + """
input(type="im{protocol}" port="{port}" address="127.0.0.1" ruleset="bench" {input_options})
"""

_B5 = _HEAD + """
module(load="imkafka")
module(load="mmjsonparse")
module(load="omelasticsearch")
{b5_template}
template(name="docid" type="string" string="%$!source!id%-%$.seq%")
ruleset(name="bench" queue.type="FixedArray" queue.size="100" queue.dequeueBatchSize="2" queue.workerThreads="2"
        queue.workerThreadMinimumMessages="10") {{
  action(type="mmjsonparse" cookie="" useRawMsg="on")
  if $parsesuccess == "OK" and $!v == 1 then {{
    foreach ($.e in $!entries) do {{
      set $.i = 0;
      foreach ($.f in $.e) do {{
        if $.i == 0 then {{ set $.seq = $.f; }}
        else if $.i == 1 then {{ set $.tms = $.f / 1000000; }}
        else if $.i == 2 then {{ set $.msg = $.f; }}
        set $.i = $.i + 1;
      }}
      action(type="omelasticsearch" name="es" server="{es_host}" serverport="{es_port}" usehttps="off"
             searchIndex="{index}" template="doc" esVersion.major="8" dynbulkid="on" bulkid="docid"
             writeoperation="create" bulkmode="on" maxbytes="10m" retryfailures="on"
             errorfile="{run}/es-errors.json" action.resumeRetryCount="-1" action.resumeInterval="1")
    }}
  }}
}}
input(type="imkafka" ruleset="bench" broker=["{bootstrap}"] topic="{topic}" consumergroup="{group}"
      confParam=["auto.offset.reset=earliest", "enable.auto.commit=true"])
"""


@dataclass
class RsyslogRun:
    lines: int
    wall_s: float
    cpu_s: float

    @property
    def per_s(self) -> float:
        return self.lines / self.wall_s

    @property
    def per_s_core(self) -> float:
        return self.lines / self.cpu_s


def available() -> str | None:
    """None when rsyslogd and its Kafka and Elasticsearch modules are here; otherwise why not. Installs them with
    apt-get when run as root (as the integration tests do)."""
    needed = [_MODULES / m for m in ("omkafka.so", "imkafka.so", "omelasticsearch.so", "mmjsonparse.so")]
    if os.path.exists(RSYSLOGD) and all(p.exists() for p in needed):
        return None
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)  # a fresh machine
            subprocess.run(install, env=env, capture_output=True, check=False)
        if os.path.exists(RSYSLOGD) and all(p.exists() for p in needed):
            return None
    return f"rsyslogd with omkafka/imkafka/omelasticsearch not installed ({', '.join(PACKAGES)})"


def config(kind: str, run: Path, bootstrap: str, topic: str, **extra: object) -> str:
    """The rsyslogd configuration of one peer: ``files``, ``tcp``, ``udp`` or ``b5`` (with ``es_url``, ``index``
    and ``group``)."""
    common = {**_TEMPLATES, "run": run, "bootstrap": bootstrap, "topic": topic, "params": _KAFKA_PARAMS}
    if kind == "files":
        return _FILES.format(**common, max_message="64k", pre="")
    if kind in ("tcp", "udp"):
        options = 'name="in"' if kind == "tcp" else 'name="in" rcvbufSize="16m"'
        return _SYSLOG.format(**common, max_message="64k", protocol=kind, port=extra["port"],
                              input_options=options, pre='action(type="mmrm1stspace")')
    url = httpx.URL(str(extra["es_url"]))
    return _B5.format(**common, max_message="4m", group=extra["group"], es_host=url.host,
                      es_port=url.port or 9200, index=extra["index"])


def version() -> str:
    out = subprocess.run([RSYSLOGD, "-v"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0].replace("compiled with:", "").split()[-3] if out else "unknown"


class _Rsyslogd:
    """A private rsyslogd on one configuration, and its impstats counters."""

    def __init__(self, conf: str, run: Path) -> None:
        self.run = run
        (run / "work").mkdir(parents=True, exist_ok=True)
        (run / "in").mkdir(exist_ok=True)
        path = run / "rsyslog.conf"
        path.write_text(conf)
        check = subprocess.run([RSYSLOGD, "-N1", "-f", str(path)], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"rsyslogd refused the configuration: {check.stderr[-2000:]}")
        self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", str(path), "-i", str(run / "rsyslogd.pid")],
                                     stdout=subprocess.DEVNULL, stderr=(run / "stderr.log").open("wb"))
        deadline = time.monotonic() + 30
        while not self.stats():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rsyslogd did not start: {(run / 'stderr.log').read_text()[-2000:]}")
            time.sleep(0.1)

    def stats(self) -> dict[str, dict]:
        """The latest impstats object of each counter set, by name."""
        out: dict[str, dict] = {}
        try:
            text = (self.run / "stats.json").read_text()
        except FileNotFoundError:
            return out
        for line in text.splitlines():
            brace = line.find("{")
            if brace >= 0:
                try:
                    obj = orjson.loads(line[brace:])
                except orjson.JSONDecodeError:  # the line being written
                    continue
                out[obj.get("name", "")] = obj
        return out

    def wait(self, done, timeout_s: float, stall_s: float | None = None) -> tuple[float, dict[str, dict]]:  # noqa: ANN001
        """Wait until ``done(stats)``; SIGHUP every second so omkafka serves its delivery reports (reopenOnHup off:
        the producer is kept). With ``stall_s``, also
        stop once the counters stood still that long (UDP: what was lost never arrives)."""
        t0 = time.monotonic()
        last, still_since = None, time.monotonic()
        stats = self.stats()
        while True:
            # omkafka opens its producer with the first message it is handed, and with reopenOnHup off 8.2302
            # crashes on a SIGHUP before that (it polls a producer that does not exist yet): none until then.
            if stats.get("omkafka", {}).get("submitted", 0) > 0:
                self.proc.send_signal(signal.SIGHUP)
            time.sleep(1.0)
            stats = self.stats()
            if done(stats):
                return time.monotonic(), stats
            if self.proc.poll() is not None or time.monotonic() - t0 > timeout_s:
                raise RuntimeError(f"rsyslogd did not finish: {(self.run / 'internal.log').read_text()[-2000:]}")
            key = orjson.dumps(stats.get("omkafka", stats.get("omelasticsearch", {})))
            if key != last:
                last, still_since = key, time.monotonic()
            elif stall_s is not None and time.monotonic() - still_since >= stall_s:
                return still_since, stats

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _acked(n: int):  # noqa: ANN202
    return lambda stats: stats.get("omkafka", {}).get("acked", 0) >= n


def run_files(corpus: Path, lines: int, bootstrap: str) -> RsyslogRun:
    run = Path(tempfile.mkdtemp(prefix="logjet-rsyslog-"))
    conf = config("files", run, bootstrap, f"bench-rs-{uuid.uuid4().hex[:8]}")
    daemon = None
    try:
        daemon = _Rsyslogd(conf, run)
        feed(corpus, run)  # the same single step as logjet's run: run/in/corpus.log
        cpu0, t0 = cpu_s(daemon.proc.pid), time.monotonic()
        t1, _ = daemon.wait(_acked(lines), 600)
        return RsyslogRun(lines, t1 - t0, cpu_s(daemon.proc.pid) - cpu0)
    finally:
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(run, ignore_errors=True)


def run_syslog(protocol: str, messages: list[bytes], bootstrap: str, udp_rate: int) -> RsyslogRun:
    """Returns the messages Kafka acknowledged as ``lines`` (UDP may lose some, as for logjet's run)."""
    run = Path(tempfile.mkdtemp(prefix="logjet-rsyslog-"))
    port = free_port()
    conf = config(protocol, run, bootstrap, f"bench-rs-{uuid.uuid4().hex[:8]}", port=port)
    daemon = None
    try:
        daemon = _Rsyslogd(conf, run)
        cpu0, t0 = cpu_s(daemon.proc.pid), time.monotonic()
        if protocol == "tcp":
            sender = threading.Thread(target=send_tcp, args=(port, b"\n".join(messages) + b"\n"), daemon=True)
        else:
            sender = threading.Thread(target=send_udp, args=(port, messages, udp_rate), daemon=True)
        sender.start()
        sender.join()
        t1, stats = daemon.wait(_acked(len(messages)), 600, stall_s=None if protocol == "tcp" else 3.0)
        acked = int(stats.get("omkafka", {}).get("acked", 0))
        return RsyslogRun(acked, t1 - t0, cpu_s(daemon.proc.pid) - cpu0)
    finally:
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(run, ignore_errors=True)


def _indexed(es_url: str, index: str) -> float:
    """Documents indexed into ``index`` so far (its primaries' indexing counter: current without a refresh)."""
    res = httpx.get(f"{es_url}/{index}/_stats/indexing", timeout=30,
                    params={"filter_path": "_all.primaries.indexing.index_total"})
    res.raise_for_status()
    return float(res.json()["_all"]["primaries"]["indexing"]["index_total"])


def run_b5(topic: str, entries: int, bootstrap: str, es_url: str, timeout_s: float = 900) -> RsyslogRun:
    """imkafka -> mmjsonparse -> a document per entry -> omelasticsearch, on the logjet wire records of ``topic``.

    Timed as logjet's processor is in B5 (``processor.run_process``): wall and CPU time between 20% and 80% of the
    entries indexed, sampled as often; the count is Elasticsearch's indexing counter of the peer's index."""
    run = Path(tempfile.mkdtemp(prefix="logjet-rsyslog-"))
    tag = uuid.uuid4().hex[:8]
    index = f"bench-rs-{tag}"
    httpx.put(f"{es_url}/{index}", json={
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {"properties": {"@timestamp": {"type": "date", "format": "epoch_millis"},
                                    "seq": {"type": "long"}, "message": {"type": "text"}}},
    }, timeout=60).raise_for_status()
    conf = config("b5", run, bootstrap, topic, es_url=es_url, index=index, group=f"bench-rs-{tag}")
    daemon = None
    try:
        daemon = _Rsyslogd(conf, run)
        deadline = time.monotonic() + timeout_s
        samples: list[tuple[float, float, float]] = []  # (time, documents indexed, CPU-seconds of rsyslogd)
        while True:
            count = _indexed(es_url, index)
            samples.append((time.monotonic(), count, cpu_s(daemon.proc.pid)))
            if count >= entries:
                break
            if daemon.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rsyslogd indexed {count:,.0f} of {entries:,}: "
                                   f"{(run / 'internal.log').read_text()[-2000:]}")
            time.sleep(POLL_S)
        span = window(samples, entries)
        return RsyslogRun(span.entries, span.wall_s, span.cpu_s)
    finally:
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(run, ignore_errors=True)
        httpx.delete(f"{es_url}/{index}", timeout=120)

"""Time to the first document: `logjet up` with no paths (the demo), started as a new user starts it after `logjet
stack up`, timed until the first demo document is searchable through the API (`/v1/logs`) and until every example
query `up` prints returns a document.

The servers are already running (the stack the harness uses) and `up` finds them answering on the configured ports:
it uses them and never stops them, as it does with any stack it did not start (its state directory is a fresh one
of the run's). Each run is a fresh `up` with a Kafka topic, dead-letter topic, consumer group and data stream of its
own, removed afterwards, and otherwise the defaults a new user gets (processor workers, batching, poll intervals).
`up` runs in a process group of its own and is stopped as Ctrl-C stops it in a terminal (SIGINT to the group);
whatever is left of the group after 60 s is killed.

The clock starts when `up` is started. The API is asked every 0.1 s for the first document and every 0.25 s for each
example query still without one, so each time is late by at most that much.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from benchmarks.common import free_port
from benchmarks.processor import drop_data_stream, drop_topic

__all__ = ["FirstDocRun", "run_first_doc"]

READY_LINE = "Ctrl-C stops everything"
QUERY = re.compile(r"curl '(http://[^']+/v1/(?:logs|stats)\?[^']*)'")
FIRST_POLL_S, QUERY_POLL_S = 0.1, 0.25
STOP_GRACE_S = 60.0


@dataclass(frozen=True)
class FirstDocRun:
    up_s: float  # until `up` printed that it is up (the API answers) with its example queries
    first_doc_s: float  # until /v1/logs returned the first demo document
    all_queries_s: float  # until every example query had returned a document
    queries: int
    stop_s: float  # from Ctrl-C until every process of the group was gone
    open_demo: bool  # the API without a key (the servers at the local stack's addresses), as `up` chose
    load_1m: float  # the machine's 1-minute load average as the run began (the cores are shared with the servers)


def _found(client: httpx.Client, url: str) -> bool:
    try:
        res = client.get(url)
    except httpx.HTTPError:
        return False  # the API is still starting
    if res.status_code != 200:
        return False
    total = res.json()["total"]  # /v1/logs: {value, relation}; /v1/stats: a number
    return (total["value"] if isinstance(total, dict) else total) > 0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(proc: subprocess.Popen[bytes]) -> float:
    """Ctrl-C to the whole group, as a terminal sends it; the seconds until the group is empty."""
    t0 = time.monotonic()
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    deadline = t0 + STOP_GRACE_S
    while time.monotonic() < deadline:
        proc.poll()  # reaps `up` itself, so that it does not linger as a zombie of the group
        if not _group_alive(proc.pid):
            return time.monotonic() - t0
        time.sleep(0.05)
    took = time.monotonic() - t0
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    raise RuntimeError(f"`logjet up` had not stopped {took:.0f} s after Ctrl-C: its group was killed")


def _environment(bootstrap: str, es_url: str, tag: str, port: int, state_dir: Path) -> tuple[dict[str, str],
                                                                                              dict[str, str]]:
    """The environment of `up` (only the run's own names and the servers' addresses; the rest defaults) and the
    headers of the API requests: open demo mode on the local stack's addresses, a key of the run's elsewhere."""
    from logjet.config import ElasticsearchSettings, KafkaSettings

    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGJET_")}
    env.update({"LOGJET_KAFKA_BOOTSTRAP": bootstrap, "LOGJET_ELASTICSEARCH_URL": es_url,
                "LOGJET_KAFKA_TOPIC": f"bench-firstdoc-{tag}",
                "LOGJET_KAFKA_DEAD_LETTER_TOPIC": f"bench-firstdoc-{tag}-dlq",
                "LOGJET_PROCESSOR_GROUP_ID": f"bench-firstdoc-{tag}",
                "LOGJET_ELASTICSEARCH_DATASET": f"bench{tag}",
                "LOGJET_API_PORT": str(port), "LOGJET_STACK_STATE_DIR": str(state_dir)})
    # `up` takes servers at the default addresses for the local stack (and serves the demo without a key there).
    if (bootstrap == KafkaSettings.model_fields["bootstrap"].default
            and es_url == ElasticsearchSettings.model_fields["url"].default):
        return env, {}
    from api.auth import new_key

    token, digest = new_key()
    env["LOGJET_API_KEYS"] = f'[{{"name": "first-doc", "sha256": "{digest}", "all_logs": true}}]'
    return env, {"Authorization": f"Bearer {token}"}


def run_first_doc(bootstrap: str, es_url: str, timeout_s: float = 180.0) -> FirstDocRun:
    tag = uuid.uuid4().hex[:8]
    work = Path(tempfile.mkdtemp(prefix="logjet-firstdoc-"))
    port = free_port()
    env, headers = _environment(bootstrap, es_url, tag, port, work / "stack")
    out = work / "up.out"
    first_url = f"http://127.0.0.1:{port}/v1/logs?from=now-15m&size=1"
    load_1m = os.getloadavg()[0]
    t0 = time.monotonic()
    with out.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "up"], env=env, cwd=work, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    up_s = first_s = None
    pending: set[str] = set()
    queries: list[str] = []
    found: dict[str, float] = {}
    next_query = 0.0
    try:
        with httpx.Client(headers=headers, timeout=5) as client:
            while first_s is None or up_s is None or pending:
                now = time.monotonic()
                if now - t0 > timeout_s:
                    raise RuntimeError(f"after {timeout_s:.0f} s: up {up_s}, first document {first_s}, queries "
                                       f"without a document {sorted(pending)}\n{out.read_text()[-3000:]}")
                if proc.poll() is not None:
                    raise RuntimeError(f"`logjet up` exited with {proc.returncode}:\n{out.read_text()[-3000:]}")
                if up_s is None:
                    printed = out.read_text()
                    if READY_LINE in printed:
                        up_s = now - t0
                        queries = QUERY.findall(printed)
                        pending = set(queries)
                if first_s is None and _found(client, first_url):
                    first_s = time.monotonic() - t0
                if pending and now >= next_query:
                    next_query = now + QUERY_POLL_S
                    for query in sorted(pending):
                        if _found(client, query):
                            found[query] = time.monotonic() - t0
                            pending.discard(query)
                time.sleep(FIRST_POLL_S)
    finally:
        try:
            stop_s = _stop(proc)
        finally:
            drop_topic(bootstrap, f"bench-firstdoc-{tag}")
            drop_data_stream(es_url, tag)
            _drop_group(bootstrap, f"bench-firstdoc-{tag}")
            shutil.rmtree(work, ignore_errors=True)
    assert up_s is not None and first_s is not None and queries
    return FirstDocRun(up_s=up_s, first_doc_s=first_s, all_queries_s=max(found.values()), queries=len(queries),
                       stop_s=stop_s, open_demo=not headers, load_1m=load_1m)


def _drop_group(bootstrap: str, group: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for done in admin.delete_consumer_groups([group], request_timeout=30).values():
        try:
            done.result()
        except Exception:  # noqa: BLE001 - a group that never committed does not exist
            pass

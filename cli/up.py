"""`logjet up`: the whole pipeline on this machine, with the local stack when no cluster is configured."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer

from cli.demo import DemoSource, DemoSyslog
from logjet.config import LogjetSettings, is_loopback_host

__all__ = ["demo_mode", "example_queries", "run_up"]


def _uses_local_stack(settings: LogjetSettings) -> bool:
    # The defaults point at the local stack's addresses; anything else means the operator has clusters of their own.
    defaults = LogjetSettings.model_fields
    return (settings.kafka.bootstrap == defaults["kafka"].default_factory().bootstrap  # type: ignore[misc]
            and settings.elasticsearch.url == defaults["elasticsearch"].default_factory().url)  # type: ignore[misc]


def demo_mode(settings: LogjetSettings, local_stack: bool) -> tuple[bool, str]:
    """Whether `up` runs the API in open demo mode (no key needed), and what to tell the user.

    Only for a throw-away local stack, on a loopback address, with no key configured: anything else holds logs that
    someone else may care about, and gets keys.
    """
    api = settings.api
    if api.keys:
        return False, ""
    if not local_stack:
        return False, ("no API keys configured: the API answers 401 to every request, as open demo mode is only for "
                       "the local stack (create keys with `logjet api-key`)")
    if not is_loopback_host(api.host):
        return False, (f"no API keys configured: the API answers 401 to every request, as open demo mode binds only a "
                       f"loopback address, not {api.host} (create keys with `logjet api-key`)")
    return True, (f"no API keys configured: the API runs in open demo mode on {api.host}:{api.port}, for this "
                  "machine only (create keys with `logjet api-key`)")


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def example_queries(url: str, demo: bool) -> list[str]:
    """The searches `up` suggests; with the demo, each names something the demo writes (a test runs every one)."""
    if not demo:
        return [f"{url}/v1/logs?from=now-15m&size=5"]
    from cli.demo import SYSLOG_TCP_HOST, SYSLOG_UDP_HOST

    return [
        f"{url}/v1/logs?from=now-15m&q=error&size=5",
        f"{url}/v1/logs?from=now-15m&service=payments&level=error&size=5",
        f"{url}/v1/logs?from=now-15m&namespace=shop&q=slow&size=5",
        f"{url}/v1/logs?from=now-15m&container=shop-checkout&size=5",
        f"{url}/v1/logs?from=now-15m&field=log.syslog.hostname:{SYSLOG_UDP_HOST}&size=5",
        f"{url}/v1/logs?from=now-15m&field=log.syslog.hostname:{SYSLOG_TCP_HOST}&q=duration&size=5",
        f"{url}/v1/logs?from=now-15m&q=java.lang.NullPointerException&size=5",
        f"{url}/v1/stats?from=now-15m&interval=30s",
    ]


def _demo_env(settings: LogjetSettings, demo: DemoSource, env: dict[str, str]) -> None:
    """The demo's collector inputs and the API filter on the syslog host name, through the environment (which wins
    over a configuration file)."""
    import orjson

    for key, value in demo.collector_inputs().items():
        env[f"LOGJET_COLLECTOR_{key.upper()}"] = orjson.dumps(value).decode()
    # Its own checkpoints: a demo's files live and die with it.
    env["LOGJET_COLLECTOR_REGISTRY_PATH"] = str(demo.directory / "registry.json")
    fields = [*settings.api.filter_fields]
    fields += [f for f in ("log.syslog.hostname", "log.syslog.appname") if f not in fields]
    env["LOGJET_API_FILTER_FIELDS"] = orjson.dumps(fields).decode()


def _answers(url: str) -> bool:
    import httpx

    host = httpx.URL(url).host
    if host in ("0.0.0.0", "::"):  # a wildcard bind answers on loopback
        url = url.replace(host, "127.0.0.1", 1)
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _demo_config(demo: DemoSource) -> Path:
    import yaml

    path = demo.directory / "collector.yaml"
    path.write_text(yaml.safe_dump({"collector": demo.collector_inputs()}, sort_keys=False))
    return path


def run_up(settings: LogjetSettings, paths: list[str], config: Path | None, keep_stack: bool) -> int:
    from logjet.stack import Stack

    local = _uses_local_stack(settings)
    if settings.api.open_demo and not local:
        typer.echo("api.open_demo is on, but Kafka and Elasticsearch are not the local stack: open demo mode would "
                   "serve those clusters' logs without a key; configure api.keys instead", err=True)
        return 2
    stack = Stack(settings.stack) if local else None
    started_stack = False
    if stack is not None:
        before = (stack.kafka.process.pid(), stack.elasticsearch.process.pid())
        stack.up(log=typer.echo)
        # The stack is stopped on exit only when this `up` started a server of it; a server answering on the ports
        # that logjet did not start (no pid file of ours) is used and never stopped.
        after = (stack.kafka.process.pid(), stack.elasticsearch.process.pid())
        started_stack = any(a is not None and a != b for a, b in zip(after, before, strict=True))
    env = dict(os.environ)
    demo = None
    if not paths:
        syslog = DemoSyslog(udp_port=_free_port(socket.SOCK_DGRAM), tcp_port=_free_port())
        demo = DemoSource(Path(tempfile.mkdtemp(prefix="logjet-demo-")), syslog)
        demo.start()
        _demo_env(settings, demo, env)
        typer.echo(f"no paths given: a demo shop writes Docker, Kubernetes (CRI) and application logs under "
                   f"{demo.directory} and sends syslog to udp:{syslog.udp_port} and tcp:{syslog.tcp_port}")
    # /metrics of the collector and the processor, for `logjet top`, unless configured.
    ports = {"collector": settings.collector.metrics_port, "processor": settings.processor.metrics_port}
    for component, port in ports.items():
        if port is None:
            ports[component] = _free_port()
            env[f"LOGJET_{component.upper()}_METRICS_PORT"] = str(ports[component])
    open_demo, message = demo_mode(settings, local)
    if open_demo:
        env["LOGJET_API_OPEN_DEMO"] = "true"
    if message:
        typer.echo(message)
    if config is not None:
        env["LOGJET_CONFIG"] = str(config.resolve())
    base = [sys.executable, "-m", "cli"]
    if demo:
        # `collect` runs the configured inputs: the operator's file, or one that holds only the demo's inputs (in
        # the environment as well, which wins over any file).
        collect = [*base, "collect", "--config", str(config.resolve() if config else _demo_config(demo))]
    else:
        collect = [*base, "collect", "files", *paths]
    children = {
        "collector": subprocess.Popen(collect, env=env),
        "processor": subprocess.Popen([*base, "process"], env=env),
        "api": subprocess.Popen([*base, "serve"], env=env),
    }
    url = f"http://{settings.api.host}:{settings.api.port}"
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # "up" is said when it holds: once the API answers (the example queries are then worth running).
    while not stopping and not _answers(f"{url}/healthz") and all(p.poll() is None for p in children.values()):
        time.sleep(0.2)
    if not stopping and all(p.poll() is None for p in children.values()):
        examples = "".join(f"  curl '{q}'\n" for q in example_queries(url, demo is not None))
        top = (f"logjet top --collector http://{settings.collector.metrics_host}:{ports['collector']} "
               f"--processor http://{settings.processor.metrics_host}:{ports['processor']} --api {url}")
        typer.echo(f"\nlogjet is up. API and explorer: {url}/\n  curl '{url}/readyz'\n{examples}"
                   f"The pipeline at a glance: {top}\nCtrl-C stops everything.")
    rc = 0
    while not stopping:
        dead = {name: p.returncode for name, p in children.items() if p.poll() is not None}
        if dead:
            typer.echo(f"stopping: {', '.join(f'{n} exited with {c}' for n, c in dead.items())}", err=True)
            rc = 1
            break
        time.sleep(0.2)
    for proc in children.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    if demo:
        demo.stop()  # while the children shut down
    for name, proc in children.items():
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            typer.echo(f"{name} did not stop in 30s; killing it", err=True)
            proc.kill()
            proc.wait()
    if demo:
        shutil.rmtree(demo.directory, ignore_errors=True)
    if stack is not None and started_stack and not keep_stack:
        stack.down(log=typer.echo)
    return rc

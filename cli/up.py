"""`logjet up`: the whole pipeline on this machine, with the local stack when no cluster is configured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from cli.demo import DemoSource
from logjet.config import LogjetSettings, is_loopback_host

__all__ = ["demo_mode", "run_up"]


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
        was_running = stack.kafka.process.pid() is not None and stack.elasticsearch.process.pid() is not None
        stack.up(log=typer.echo)
        started_stack = not was_running
    demo = None
    if not paths:
        demo = DemoSource(Path(".logjet/demo").resolve())
        paths = demo.start()
        typer.echo(f"no paths given: collecting the demo source in {demo.directory}")
    env = dict(os.environ)
    open_demo, message = demo_mode(settings, local)
    if open_demo:
        env["LOGJET_API_OPEN_DEMO"] = "true"
    if message:
        typer.echo(message)
    if config is not None:
        env["LOGJET_CONFIG"] = str(config.resolve())
    base = [sys.executable, "-m", "cli"]
    children = {
        "collector": subprocess.Popen([*base, "collect", "files", *paths], env=env),
        "processor": subprocess.Popen([*base, "process"], env=env),
        "api": subprocess.Popen([*base, "serve"], env=env),
    }
    url = f"http://{settings.api.host}:{settings.api.port}"
    typer.echo(f"\nlogjet is up. API: {url}\n  curl '{url}/readyz'\n"
               f"  curl '{url}/v1/logs?from=now-15m&q=error&size=5'\nCtrl-C stops everything.")
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    rc = 0
    while not stopping:
        dead = {name: p.returncode for name, p in children.items() if p.poll() is not None}
        if dead:
            typer.echo(f"stopping: {', '.join(f'{n} exited with {c}' for n, c in dead.items())}", err=True)
            rc = 1
            break
        time.sleep(0.5)
    if demo:
        demo.stop()
    for proc in children.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for name, proc in children.items():
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            typer.echo(f"{name} did not stop in 30s; killing it", err=True)
            proc.kill()
            proc.wait()
    if stack is not None and started_stack and not keep_stack:
        stack.down(log=typer.echo)
    return rc

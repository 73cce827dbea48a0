"""`logjet up`: the whole pipeline on this machine, with the local stack when no cluster is configured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from logjet.config import LogjetSettings
from logjet.demo import DemoSource

__all__ = ["run_up"]


def _uses_local_stack(settings: LogjetSettings) -> bool:
    # The defaults point at the local stack's addresses; anything else means the operator has clusters of their own.
    defaults = LogjetSettings.model_fields
    return (settings.kafka.bootstrap == defaults["kafka"].default_factory().bootstrap  # type: ignore[misc]
            and settings.elasticsearch.url == defaults["elasticsearch"].default_factory().url)  # type: ignore[misc]


def run_up(settings: LogjetSettings, paths: list[str], config: Path | None, keep_stack: bool) -> int:
    from logjet.stack import Stack

    stack = Stack(settings.stack) if _uses_local_stack(settings) else None
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
    if not settings.api.keys:
        # A local demo without keys: say so, as the API then answers anyone who can reach api.host.
        env["LOGJET_API_OPEN_DEMO"] = "true"
        typer.echo(f"no API keys configured: the API runs in open demo mode on {settings.api.host} "
                   "(create keys with `logjet api-key`)")
    if config is not None:
        env["LOGJET_CONFIG"] = str(config.resolve())
    base = [sys.executable, "-m", "logjet"]
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

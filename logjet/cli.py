"""The `logjet` command line: the local stack, each component, and `up`, the whole pipeline on one machine."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from logjet.config import LogjetSettings, load_settings
from logjet.errors import ConfigError, LogjetError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
stack_app = typer.Typer(no_args_is_help=True, help="The local Kafka and Elasticsearch (from Maven Central).")
collect_app = typer.Typer(no_args_is_help=True, help="Run a collector.")
app.add_typer(stack_app, name="stack")
app.add_typer(collect_app, name="collect")

ConfigOpt = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional here
    typer.Option("--config", "-c", envvar="LOGJET_CONFIG", help="YAML settings file.", exists=True, dir_okay=False),
]


def _setup_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("LOGJET_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # One line per HTTP request or bulk call drowns what logjet itself says.
    for noisy in ("httpx", "elastic_transport.transport"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings(config: Path | None) -> LogjetSettings:
    _setup_logging()
    return load_settings(config)


def _stop_event() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        logging.getLogger("logjet").info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


class _GracefulServer:
    """uvicorn's server, except that SIGTERM ends in exit code 0 once the graceful shutdown is done.

    uvicorn re-raises the signal after shutting down, which supervisors report as a crash (-15).
    """

    def __new__(cls, config):  # noqa: ANN001, ANN204
        import contextlib

        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self):  # noqa: ANN202
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, self.handle_exit)
                yield

        return Server(config)


@stack_app.command("up")
def stack_up(config: ConfigOpt = None) -> None:
    """Start Kafka and Elasticsearch (idempotent) and wait until both answer."""
    from logjet.stack import Stack

    Stack(_settings(config).stack).up(log=typer.echo)


@stack_app.command("down")
def stack_down(config: ConfigOpt = None) -> None:
    """Stop what `stack up` started."""
    from logjet.stack import Stack

    Stack(_settings(config).stack).down(log=typer.echo)


@stack_app.command("status")
def stack_status(config: ConfigOpt = None) -> None:
    """Show both services, their state and versions."""
    from logjet.stack import Stack

    for status in Stack(_settings(config).stack).status():
        typer.echo(status.line())


@collect_app.command("files")
def collect_files(
    paths: Annotated[list[str], typer.Argument(help="Files or glob patterns (quote the globs).")],
    config: ConfigOpt = None,
) -> None:
    """Tail files and publish their lines to Kafka."""
    from collectors.files import FileCollector

    settings = _settings(config)
    stop = _stop_event()
    FileCollector(settings, paths).run(stop)


@app.command("process")
def process(config: ConfigOpt = None) -> None:
    """Consume from Kafka, parse, and bulk-index into Elasticsearch."""
    from processor.worker import Worker

    settings = _settings(config)
    stop = _stop_event()
    Worker(settings).run(stop)


@app.command("serve")
def serve(
    config: ConfigOpt = None,
    host: Annotated[Optional[str], typer.Option(help="Bind address (api.host).")] = None,  # noqa: UP045
    port: Annotated[Optional[int], typer.Option(help="Port (api.port).")] = None,  # noqa: UP045
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from api import create_app

    settings = _settings(config)
    server = _GracefulServer(uvicorn.Config(create_app(settings), host=host or settings.api.host,
                                            port=port or settings.api.port, log_level="info"))
    server.run()


@app.command("up")
def up(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Files to collect; a demo source if none.")] = None,  # noqa: UP045
    config: ConfigOpt = None,
    keep_stack: Annotated[bool, typer.Option(help="Leave Kafka and Elasticsearch running on exit.")] = False,
) -> None:
    """The whole pipeline on this machine: stack (if needed), collector, processor and API."""
    from logjet.up import run_up

    settings = _settings(config)
    raise typer.Exit(run_up(settings, list(paths or []), config, keep_stack=keep_stack))


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    except LogjetError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

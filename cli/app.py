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

from logjet.config import LogjetSettings, load_settings, redact_url
from logjet.errors import ConfigError, LogjetError
from logjet.logs import setup_logging

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
stack_app = typer.Typer(no_args_is_help=True, help="The local Kafka and Elasticsearch (from Maven Central).")
collect_app = typer.Typer(no_args_is_help=True, help="Run a collector.")
app.add_typer(stack_app, name="stack")
app.add_typer(collect_app, name="collect")

# How long `serve` waits on SIGTERM for open requests (live tails never end by themselves) before closing them.
_API_SHUTDOWN_S = 5

ConfigOpt = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional here
    typer.Option("--config", "-c", envvar="LOGJET_CONFIG", help="YAML settings file.", exists=True, dir_okay=False),
]


# The component each command runs, named on its log lines (and inherited by the processes it starts).
_COMPONENTS = {"collect": "collector", "process": "processor", "serve": "api", "dead-letters": "maintenance"}


@app.callback()
def _options(
    ctx: typer.Context,
    log_format: Annotated[str, typer.Option(
        "--log-format", envvar="LOGJET_LOG_FORMAT",
        help="text, or json: one object per line (time, level, logger, message, component, exception).")] = "text",
) -> None:
    from logjet.logs import LOG_FORMATS

    if log_format.lower() not in LOG_FORMATS:
        raise typer.BadParameter(f"{log_format!r} is not one of {', '.join(LOG_FORMATS)}", param_hint="--log-format")
    # Through the environment, so that the processes a command starts (up's children, the processor's workers)
    # write the same format.
    os.environ["LOGJET_LOG_FORMAT"] = log_format.lower()
    name = ctx.invoked_subcommand or "logjet"
    os.environ["LOGJET_LOG_COMPONENT"] = _COMPONENTS.get(name, name)


def _settings(config: Path | None) -> LogjetSettings:
    setup_logging()
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
    """Show every node of both services, its state and version."""
    from logjet.stack import Stack

    for status in Stack(_settings(config).stack).status():
        typer.echo(status.line())


@stack_app.command("stop")
def stack_stop(
    node: Annotated[str, typer.Argument(help="kafka-<i> or elasticsearch-<i> (kafka, elasticsearch: a single node).")],
    kill: Annotated[bool, typer.Option("--kill", help="SIGKILL (a crash) instead of SIGTERM.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Stop one node of the stack, to rehearse a failure."""
    from logjet.stack import Stack

    Stack(_settings(config).stack).stop_node(node, kill=kill, log=typer.echo)


@stack_app.command("start")
def stack_start(
    node: Annotated[str, typer.Argument(help="kafka-<i> or elasticsearch-<i> (kafka, elasticsearch: a single node).")],
    config: ConfigOpt = None,
) -> None:
    """Start one node of the stack and wait until it answers."""
    from logjet.stack import Stack

    Stack(_settings(config).stack).start_node(node, log=typer.echo)


def _run_collector(settings: LogjetSettings) -> None:
    from collectors.runner import Collector

    collector = Collector(settings)
    collector.run(_stop_event())


def _with_collector(settings: LogjetSettings, **changes: object) -> LogjetSettings:
    return settings.model_copy(update={"collector": settings.collector.model_copy(update=changes)})


@collect_app.callback(invoke_without_command=True)
def collect(ctx: typer.Context, config: ConfigOpt = None) -> None:
    """Run the inputs of the configuration file (collector.files, .containers, .syslog, .stdin) in one process."""
    ctx.obj = config
    if ctx.invoked_subcommand is None:
        _run_collector(_settings(config))


def _config(ctx: typer.Context, config: Path | None) -> Path | None:
    return config if config is not None else ctx.obj


@collect_app.command("files")
def collect_files(
    ctx: typer.Context,
    paths: Annotated[list[str], typer.Argument(help="Files or glob patterns (quote the globs).")],
    start_at: Annotated[str, typer.Option(help="beginning or end: where to start in a file not seen before.")]
    = "beginning",
    multiline_start: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Regex: a matching line starts a new entry, the others continue it (stack traces).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Tail files and publish their lines to Kafka."""
    from logjet.config import FileInputSettings, MultilineSettings

    settings = _settings(_config(ctx, config))
    try:
        multiline = MultilineSettings(start_pattern=multiline_start) if multiline_start else None
        files = FileInputSettings(paths=paths, start_at=start_at, multiline=multiline)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    _run_collector(_with_collector(settings, files=[files]))


@collect_app.command("containers")
def collect_containers(
    ctx: typer.Context,
    docker_root: Annotated[Optional[Path], typer.Option(help="Docker's containers directory.")]  # noqa: UP045
    = Path("/var/lib/docker/containers"),
    cri: Annotated[Optional[list[str]], typer.Option(help="CRI log globs (repeatable).")] = None,  # noqa: UP045
    docker_socket: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Docker Engine API for metadata, e.g. unix:///var/run/docker.sock.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Node-agent mode: every container's stdout and stderr on this node (Docker json-file and CRI logs)."""
    from logjet.config import ContainerInputSettings

    settings = _settings(_config(ctx, config))
    containers = ContainerInputSettings(docker_root=docker_root, cri_paths=cri or ["/var/log/containers/*.log"],
                                        docker_socket=docker_socket)
    _run_collector(_with_collector(settings, containers=containers))


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        raise ConfigError(f"syslog address {value!r} must be host:port")
    return host or "127.0.0.1", int(port)  # all interfaces only when asked: --udp 0.0.0.0:514


@collect_app.command("syslog")
def collect_syslog(
    ctx: typer.Context,
    udp: Annotated[Optional[list[str]], typer.Option(help="UDP listener host:port (repeatable).")] = None,  # noqa: UP045
    tcp: Annotated[Optional[list[str]], typer.Option(help="TCP listener host:port (repeatable).")] = None,  # noqa: UP045
    config: ConfigOpt = None,
) -> None:
    """Receive syslog (RFC 3164 and 5424) over UDP and TCP."""
    from logjet.config import SyslogInputSettings

    settings = _settings(_config(ctx, config))
    listeners = [SyslogInputSettings(protocol="udp", host=h, port=p) for h, p in map(_address, udp or [])]
    listeners += [SyslogInputSettings(protocol="tcp", host=h, port=p) for h, p in map(_address, tcp or [])]
    if not listeners:
        raise ConfigError("give at least one --udp or --tcp address")
    _run_collector(_with_collector(settings, syslog=listeners))


@collect_app.command("stdin")
def collect_stdin(ctx: typer.Context, config: ConfigOpt = None) -> None:
    """Sidecar mode: publish the lines written to standard input until it ends."""
    settings = _settings(_config(ctx, config))
    _run_collector(_with_collector(settings, stdin=True))


@app.command("process")
def process(
    config: ConfigOpt = None,
    workers: Annotated[Optional[int], typer.Option(help="Worker processes (processor.workers; default: cores).")]  # noqa: UP045
    = None,
) -> None:
    """Consume from Kafka, parse, and bulk-index into Elasticsearch, with N worker processes."""
    from processor.supervisor import Supervisor

    settings = _settings(config)
    if workers is not None and workers < 1:
        raise ConfigError("--workers must be at least 1")
    raise typer.Exit(Supervisor(settings, workers).run())


@app.command("serve")
def serve(
    config: ConfigOpt = None,
    host: Annotated[Optional[str], typer.Option(help="Bind address (api.host).")] = None,  # noqa: UP045
    port: Annotated[Optional[int], typer.Option(help="Port (api.port).")] = None,  # noqa: UP045
) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from api import create_app
    from logjet.config import is_loopback_host

    settings = _settings(config)
    bind = host or settings.api.host
    if settings.api.open_demo and not is_loopback_host(bind):
        # The settings already refuse api.host; --host must not be a way around it.
        raise ConfigError(f"open demo mode serves every log without a key: it binds to loopback only, not {bind!r}"
                          " (configure api.keys to serve other machines)")
    # access_log off: the API writes its own request log (with the key's name), one line per request.
    server = _GracefulServer(uvicorn.Config(create_app(settings), host=bind, port=port or settings.api.port,
                                            log_level="info", access_log=False,
                                            # uvicorn's lines through logjet's handler and format (text or json).
                                            log_config=None,
                                            timeout_graceful_shutdown=_API_SHUTDOWN_S))
    server.run()


@app.command("top")
def top(
    config: ConfigOpt = None,
    collector: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Collector's metrics URL (default: collector.metrics_host/port).")] = None,
    processor: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Processor's metrics URL (default: processor.metrics_host/port).")] = None,
    api: Annotated[Optional[str], typer.Option(help="API URL (default: api.host/port).")] = None,  # noqa: UP045
    elasticsearch: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Elasticsearch URL (default: elasticsearch.url).")] = None,
    api_token: Annotated[Optional[str], typer.Option(  # noqa: UP045
        envvar="LOGJET_TOKEN", help="API key for the API's /metrics (not needed in open demo mode).")] = None,
    once: Annotated[bool, typer.Option(help="Print one view (rates over --interval) and exit.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="With --once: the view as JSON.")] = False,
    interval: Annotated[float, typer.Option(min=0.1, max=60, help="Seconds between refreshes.")] = 1.0,
) -> None:
    """The pipeline on one screen: inputs, processor, Elasticsearch and API, refreshed every second."""
    from cli.top import Endpoints, run

    settings = _settings(config)
    cs, ps = settings.collector, settings.processor

    def local(host: str, port: int | None) -> str | None:
        return f"http://{host}:{port}" if port else None

    endpoints = Endpoints(
        collector=collector or local(cs.metrics_host, cs.metrics_port),
        processor=processor or local(ps.metrics_host, ps.metrics_port),
        api=api or local(settings.api.host, settings.api.port),
        elasticsearch=elasticsearch or settings.elasticsearch.url,
        api_token=api_token,
    )
    if json_output and not once:
        raise ConfigError("--json needs --once")
    raise typer.Exit(run(endpoints, once, json_output, interval, echo=typer.echo))


dead_letters_app = typer.Typer(no_args_is_help=True, help="The dead-letter topic.")
app.add_typer(dead_letters_app, name="dead-letters")


@dead_letters_app.command("prune")
def dead_letters_prune(
    older_than: Annotated[str, typer.Option(help="Age: 7d, 12h, 30m.")] = "7d",
    config: ConfigOpt = None,
) -> None:
    """Delete dead letters older than --older-than (a scheduled maintenance job)."""
    import re

    from shippers.kafka.maintenance import prune_older_than

    m = re.fullmatch(r"(\d+)([dhm])", older_than)
    if m is None:
        raise ConfigError(f"--older-than {older_than!r} must be a number and d, h or m")
    age_s = int(m.group(1)) * {"d": 86400, "h": 3600, "m": 60}[m.group(2)]
    settings = _settings(config)
    done = prune_older_than(settings.kafka, settings.kafka.dead_letter_topic, age_s)
    for partition, low in sorted(done.items()):
        typer.echo(f"{settings.kafka.dead_letter_topic}[{partition}]: records before offset {low} deleted")
    if not done:
        typer.echo("nothing older to delete")


@app.command("api-key")
def api_key(name: Annotated[str, typer.Argument(help="Who the key is for.")] = "team") -> None:
    """Make a new API key: prints the token (give it to its holder) and the entry for api.keys."""
    from api.auth import new_key

    token, digest = new_key()
    typer.echo(f"token (shown once, keep it secret): {token}")
    typer.echo("add to the configuration, with its scope:")
    typer.echo(f"api:\n  keys:\n    - name: {name}\n      sha256: {digest}\n      namespaces: [\"...\"]")


@app.command("up")
def up(
    paths: Annotated[Optional[list[str]], typer.Argument(help="Files to collect; a demo source if none.")] = None,  # noqa: UP045
    config: ConfigOpt = None,
    keep_stack: Annotated[bool, typer.Option(help="Leave Kafka and Elasticsearch running on exit.")] = False,
) -> None:
    """The whole pipeline on this machine: stack (if needed), collector, processor and API."""
    from cli.up import run_up

    settings = _settings(config)
    raise typer.Exit(run_up(settings, list(paths or []), config, keep_stack=keep_stack))


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"configuration error: {redact_url(str(exc))}", err=True)
        sys.exit(2)
    except LogjetError as exc:
        typer.echo(f"error: {redact_url(str(exc))}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

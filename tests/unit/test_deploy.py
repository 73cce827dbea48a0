"""The deployment artifacts, validated by the tools made for them and checked against what the code serves.

Kubernetes manifests against the official schemas (kubernetes-validate, offline), the Dockerfile with hadolint; and
one test reads both the manifests and the code: the commands parse as logjet commands, every LOGJET_* variable is a
setting, probe ports are the ports the configuration serves on, probe paths answer on the real servers, and grace
periods cover the shutdown deadlines.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import typer
import yaml
from fastapi.testclient import TestClient

from logjet.cli import app as cli_app
from logjet.config import LogjetSettings, load_settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "compose" / "kubernetes"
K8S_VERSION = "1.30.0"


def _docs() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return out


def _containers() -> list[tuple[str, dict, dict]]:
    """(manifest, pod spec, container) of every logjet container."""
    out = []
    for name, doc in _docs():
        spec = doc.get("spec", {}).get("template", {}).get("spec")
        if spec:
            out += [(name, spec, c) for c in spec["containers"] if c["image"].startswith("logjet/")]
    return out


def _config() -> LogjetSettings:
    cm = next(d for _, d in _docs() if d["kind"] == "ConfigMap")
    return LogjetSettings(**yaml.safe_load(cm["data"]["logjet.yaml"]))


@pytest.mark.parametrize(("name", "doc"), _docs(), ids=[f"{n}:{d['kind']}:{d['metadata']['name']}" for n, d in _docs()])
def test_kubernetes_manifests_match_the_official_schemas(name: str, doc: dict) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_example() -> None:
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kust["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "sidecar-example.yaml"}
    assert listed == present


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "hadolint")
    res = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def _parse_command(args: list[str]):  # noqa: ANN202 - a click context, of whichever click typer uses
    """Parse (without running) a container's arguments as the logjet CLI would."""
    group = typer.main.get_command(cli_app)
    ctx = group.make_context("logjet", list(args), resilient_parsing=False)
    while hasattr(ctx.command, "get_command"):  # a group (typer may bring its own copy of click)
        # Where the subcommand's name waits depends on the click version.
        pending = list(getattr(ctx, "protected_args", None) or getattr(ctx, "_protected_args", None) or [])
        if not pending:
            break
        name, *rest = [*pending, *ctx.args]
        cmd = ctx.command.get_command(ctx, name)
        assert cmd is not None, f"no logjet command {name!r}"
        ctx = cmd.make_context(name, rest, parent=ctx)
    return ctx


@pytest.mark.parametrize(("manifest", "spec", "container"), _containers(),
                         ids=[f"{m}:{c['name']}" for m, _, c in _containers()])
def test_containers_run_real_commands_with_real_settings_and_enough_grace(manifest: str, spec: dict,
                                                                          container: dict, monkeypatch) -> None:
    config = _write_config(monkeypatch)
    # The ConfigMap is mounted at /etc/logjet: here, its copy stands in.
    args = [str(config) if a == "/etc/logjet/logjet.yaml" else a for a in container["args"]]
    ctx = _parse_command(args)
    role = container["args"][0]
    for env in container.get("env", []):
        assert env["name"].startswith("LOGJET_"), env["name"]
        monkeypatch.setenv(env["name"], env.get("value", "node-1"))
    settings = load_settings(config if "--config" in args else None)
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    expected = {"collect": settings.collector.metrics_port, "process": settings.processor.metrics_port,
                "serve": settings.api.port}[role]
    for probe in ("livenessProbe", "readinessProbe"):
        if probe in container:
            port = container[probe]["httpGet"]["port"]
            assert ports.get(port, port) == expected, f"{probe} port is not the one {role} serves on"
    deadline = {"collect": settings.collector.shutdown_deadline_s, "process": settings.processor.shutdown_deadline_s,
                "serve": 5.0}[role]
    assert spec.get("terminationGracePeriodSeconds", 30) >= deadline + 5
    assert ctx.command.name in {"collect", "files", "process", "serve"}


def _write_config(monkeypatch) -> Path:  # noqa: ANN001
    import tempfile

    cm = next(d for _, d in _docs() if d["kind"] == "ConfigMap")
    path = Path(tempfile.mkdtemp()) / "logjet.yaml"
    path.write_text(cm["data"]["logjet.yaml"])
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_paths_answer_on_the_real_servers() -> None:
    import httpx

    from api import create_app
    from collectors.metrics import CollectorMetrics, MetricsServer
    from processor.supervisor import Supervisor

    paths = {c["args"][0]: {c[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe") if p in c}
             for _, _, c in _containers()}
    config = _config()
    collector = MetricsServer(CollectorMetrics(), "127.0.0.1", 0)
    try:
        for path in paths["collect"]:
            assert httpx.get(f"http://127.0.0.1:{collector.port}{path}").status_code == 200
    finally:
        collector.close()
    port = _free_port()
    supervisor = Supervisor(config.model_copy(update={"processor": config.processor.model_copy(
        update={"metrics_host": "127.0.0.1", "metrics_port": port})}), workers=1)
    server = supervisor._serve_metrics()
    try:
        for path in paths["process"]:  # no worker runs here: the check answers, and says it is failing
            assert httpx.get(f"http://127.0.0.1:{port}{path}").status_code == 503
    finally:
        server.close()
    api = TestClient(create_app(config))
    for path in paths["serve"]:
        assert api.get(path).status_code == 200  # without a key: probes carry none


MARATHON = sorted(p for p in (ROOT / "compose" / "marathon").glob("*.json") if ".metronome." not in p.name)


@pytest.mark.parametrize("path", MARATHON, ids=[p.name for p in MARATHON])
def test_marathon_apps_match_the_schema_and_the_code(path: Path, tmp_path: Path) -> None:
    import json

    import jsonschema

    schema = json.loads((ROOT / "tests" / "data" / "marathon-app.schema.json").read_text())
    app = json.loads(path.read_text())
    jsonschema.validate(app, schema)
    config = tmp_path / "logjet.yaml"
    cm = next(d for _, d in _docs() if d["kind"] == "ConfigMap")
    config.write_text(cm["data"]["logjet.yaml"])  # the agents hold the same file as the ConfigMap
    args = [str(config) if a == "/etc/logjet/logjet.yaml" else a for a in app["args"]]
    _parse_command(args)
    settings = load_settings(config)
    role = app["args"][0]
    port = {"process": settings.processor.metrics_port, "serve": settings.api.port}[role]
    mappings = app["container"]["portMappings"]
    for check in app["healthChecks"]:
        assert mappings[check["portIndex"]]["containerPort"] == port
        assert check["path"] == "/healthz"  # answered without a key, by every role (see the probe test above)
    deadline = {"process": settings.processor.shutdown_deadline_s, "serve": 5.0}[role]
    assert app["taskKillGracePeriodSeconds"] >= deadline + 5


def test_secret_keys_are_settings(monkeypatch) -> None:  # noqa: ANN001
    secret = next(d for _, d in _docs() if d["kind"] == "Secret")
    for key, value in secret["stringData"].items():
        monkeypatch.setenv(key, value)
    settings = load_settings(None)
    assert settings.api.keys and settings.elasticsearch.options


COMPOSE = ROOT / "compose" / "docker-compose.yml"


def test_compose_file_matches_the_compose_specification() -> None:
    check = shutil.which("check-jsonschema") or str(ROOT / ".venv" / "bin" / "check-jsonschema")
    res = subprocess.run([check, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_compose_services_run_real_commands_with_real_settings(monkeypatch) -> None:  # noqa: ANN001
    doc = yaml.safe_load(COMPOSE.read_text())
    roles = {}
    for name, service in doc["services"].items():
        if service.get("image", "").startswith("logjet/"):
            env = {k: str(v) for k, v in service["environment"].items()}
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            settings = load_settings(None)  # every LOGJET_* the service sets is a setting (or the healthcheck's)
            _parse_command(service["command"])
            role = service["command"][0]
            port = {"collect": settings.collector.metrics_port, "process": settings.processor.metrics_port,
                    "serve": settings.api.port}[role]
            assert env["LOGJET_HEALTHCHECK_URL"] == f"http://127.0.0.1:{port}/healthz", name
            for key in env:
                monkeypatch.delenv(key)
            roles[role] = service
    assert set(roles) == {"collect", "process", "serve"}
    grace = roles["process"]["stop_grace_period"]
    assert int(grace.rstrip("s")) >= _config().processor.shutdown_deadline_s + 5


def test_metronome_job_matches_the_schema_and_runs_a_real_command(tmp_path: Path) -> None:
    import json

    import jsonschema

    schema = json.loads((ROOT / "tests" / "data" / "metronome-job.schema.json").read_text())
    job = json.loads((ROOT / "compose" / "marathon" / "dead-letter-prune.metronome.json").read_text())
    jsonschema.validate(job, schema)
    config = tmp_path / "logjet.yaml"
    config.write_text(next(d for _, d in _docs() if d["kind"] == "ConfigMap")["data"]["logjet.yaml"])
    ctx = _parse_command([str(config) if a == "/etc/logjet/logjet.yaml" else a for a in job["run"]["args"]])
    assert ctx.command.name == "prune"

"""The deployment artifacts, validated by the tools made for them and checked against what the code serves.

Kubernetes manifests against the official schemas (kubernetes-validate, offline), the Dockerfile with hadolint; and
one test reads both the manifests and the code: the commands parse as logjet commands, every LOGJET_* variable is a
setting, probe ports are the ports the configuration serves on, probe paths answer on the real servers, and grace
periods cover the shutdown deadlines.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import typer
import yaml
from fastapi.testclient import TestClient

from cli.app import app as cli_app
from logjet.config import LogjetSettings, load_settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "compose" / "kubernetes"
K8S_VERSION = "1.30.0"


@pytest.fixture(autouse=True)
def _no_logjet_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read files; LOGJET_* variables of the shell (the test endpoints) would override them."""
    import os

    for key in list(os.environ):
        if key.startswith("LOGJET_"):
            monkeypatch.delenv(key)


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
    for key, value in _container_env(container).items():
        monkeypatch.setenv(key, value)
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


DOWNWARD = {"spec.nodeName": "node-1", "status.podIP": "10.1.2.3"}


def _secret(name: str) -> dict[str, str]:
    docs = [d for _, d in _docs() if d["kind"] == "Secret" and d["metadata"]["name"] == name]
    assert docs, f"no Secret {name!r} in the manifests"
    return docs[0]["stringData"]


def _container_env(container: dict) -> dict[str, str]:
    """The LOGJET_* environment a container gets: its Secrets, then its env with the downward API and $(VAR)s
    resolved as the kubelet does. Other variables may only be helpers that a LOGJET_* value refers to."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(_secret(source["secretRef"]["name"]))
    helpers: dict[str, str] = {}
    for var in container.get("env", []):
        if "value" in var:
            value = re.sub(r"\$\((\w+)\)", lambda m: helpers[m[1]], var["value"])
        elif "fieldRef" in var["valueFrom"]:
            value = DOWNWARD[var["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            value = _secret(ref["name"])[ref["key"]]
        (env if var["name"].startswith("LOGJET_") else helpers)[var["name"]] = value
    for name in helpers:
        assert any(f"$({name})" in v.get("value", "") for v in container.get("env", [])), f"{name} is unused"
    return env


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


@pytest.mark.parametrize("name", [d["metadata"]["name"] for _, d in _docs() if d["kind"] == "Secret"])
def test_secret_keys_are_settings(name: str, monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    for key, value in _secret(name).items():
        monkeypatch.setenv(key, value)
    config = _write_config(monkeypatch)
    settings = load_settings(config)  # merged into the ConfigMap's options key by key
    assert settings.kafka.options["security.protocol"] == "SASL_SSL"
    assert "ssl.ca.location" in settings.kafka.options


COMPOSE = ROOT / "compose" / "docker-compose.yml"


def test_compose_file_matches_the_compose_specification() -> None:
    check = shutil.which("check-jsonschema") or str(ROOT / ".venv" / "bin" / "check-jsonschema")
    res = subprocess.run([check, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


# What a user exports before `docker compose up` for the variables compose requires (`${NAME:?message}`).
_COMPOSE_USER_ENV = {"LOGJET_API_KEYS": '[{"name": "compose", "sha256": "' + "ab" * 32 + '", "all_logs": true}]'}


def _interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` and `${NAME:?message}`, as compose resolves them for that user."""
    import re

    def resolve(m: re.Match[str]) -> str:
        name, op, arg = m["name"], m["op"], m["arg"]
        if name in _COMPOSE_USER_ENV:
            return _COMPOSE_USER_ENV[name]
        assert op == ":-", f"compose requires {name}, which the test does not provide"
        return arg

    return re.sub(r"\$\{(?P<name>\w+)(?P<op>:[-?])(?P<arg>[^}]*)\}", resolve, value)


def test_compose_services_run_real_commands_with_real_settings(monkeypatch) -> None:  # noqa: ANN001
    doc = yaml.safe_load(COMPOSE.read_text())
    roles = {}
    for name, service in doc["services"].items():
        if service.get("image", "").startswith("logjet/"):
            env = {k: _interpolate(str(v)) for k, v in service["environment"].items()}
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


# -- what the deployments must not allow ------------------------------------------------------------------------

def _pod_templates() -> list[tuple[str, dict, dict]]:
    """(manifest:name, pod metadata, pod spec) of every workload."""
    out = []
    for name, doc in _docs():
        template = doc.get("spec", {}).get("template")
        if template:
            out.append((f"{name}:{doc['metadata']['name']}", {**template["metadata"],
                        "namespace": doc["metadata"]["namespace"]}, template["spec"]))
    return out


# The one container that runs as root, and why: the node's log files are readable by root only.
ROOT_ALLOWED = {("collector-daemonset.yaml:logjet-collector", "collector")}


@pytest.mark.parametrize(("workload", "meta", "spec"), _pod_templates(), ids=[w for w, _, _ in _pod_templates()])
def test_every_container_is_locked_down(workload: str, meta: dict, spec: dict) -> None:
    pod = spec.get("securityContext", {})
    assert spec.get("automountServiceAccountToken") is False, f"{workload}: no code talks to the Kubernetes API"
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), workload
    for container in spec.get("initContainers", []) + spec["containers"]:
        sc = {**pod, **container.get("securityContext", {})}
        where = f"{workload}/{container['name']}"
        assert sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation: false"
        assert "ALL" in sc.get("capabilities", {}).get("drop", []), f"{where}: capabilities.drop [ALL]"
        assert not sc.get("capabilities", {}).get("add"), f"{where}: adds capabilities"
        assert sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where}: seccompProfile RuntimeDefault"
        assert sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem"
        assert not sc.get("privileged"), where
        if (workload, container["name"]) in ROOT_ALLOWED:
            assert sc.get("runAsUser") == 0 and sc.get("runAsNonRoot") is False
        else:
            assert sc.get("runAsNonRoot") is True and sc.get("runAsUser", 1) != 0, f"{where}: runAsNonRoot"


def test_no_role_grants_api_access_no_code_uses() -> None:
    kinds = {d["kind"] for _, d in _docs()}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    accounts = [d for _, d in _docs() if d["kind"] == "ServiceAccount"]
    assert accounts and all(a.get("automountServiceAccountToken") is False for a in accounts)


def _admitted(policy: dict, meta: dict, port: int) -> bool:
    """Whether ``policy`` lets a pod with these labels, in this namespace, reach ``port`` of the pods it selects."""
    for rule in policy["spec"].get("ingress", []):
        ports = [p["port"] for p in rule.get("ports", [])]
        if ports and port not in ports:
            continue
        for peer in rule.get("from", []):
            same_namespace = "namespaceSelector" not in peer and meta["namespace"] == policy["metadata"]["namespace"]
            any_namespace = peer.get("namespaceSelector") == {}
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            if (same_namespace or any_namespace) and all(meta["labels"].get(k) == v for k, v in labels.items()):
                return True
    return False


@pytest.mark.parametrize(("selects", "port", "allowed"), [
    ("kafka", 9093, {"collector", "processor"}),
    ("elasticsearch", 9200, {"processor", "api"}),
])
def test_network_policies_admit_only_the_roles_that_need_the_server(selects: str, port: int, allowed: set) -> None:
    policies = [d for _, d in _docs() if d["kind"] == "NetworkPolicy"
                and d["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/name") == selects]
    assert policies and all("Ingress" in p["spec"]["policyTypes"] for p in policies)
    templates = _pod_templates()
    roles = {meta["labels"].get("logjet.io/role") for _, meta, _ in templates}
    assert roles >= {"collector", "processor", "api"}
    for workload, meta, _ in templates:
        admitted = any(_admitted(p, meta, port) for p in policies)
        assert admitted == (meta["labels"].get("logjet.io/role") in allowed), f"{workload} -> {selects}"
    stranger = {"namespace": "logging", "labels": {"app.kubernetes.io/name": "something-else"}}
    assert not any(_admitted(p, stranger, port) for p in policies)


def test_each_role_has_its_own_credentials_and_the_api_reads_only() -> None:
    import json

    secrets = {d["metadata"]["name"]: d["stringData"] for _, d in _docs() if d["kind"] == "Secret"}
    collector = json.loads(secrets["logjet-collector-credentials"]["LOGJET_KAFKA_OPTIONS"])
    processor = json.loads(secrets["logjet-processor-credentials"]["LOGJET_KAFKA_OPTIONS"])
    assert collector["sasl.username"] != processor["sasl.username"]
    api = secrets["logjet-api-credentials"]
    assert "LOGJET_KAFKA_OPTIONS" not in api
    api_es = json.loads(api["LOGJET_ELASTICSEARCH_OPTIONS"])["api_key"]
    processor_es = json.loads(secrets["logjet-processor-credentials"]["LOGJET_ELASTICSEARCH_OPTIONS"])["api_key"]
    assert api_es != processor_es
    assert "LOGJET_ELASTICSEARCH_OPTIONS" not in secrets["logjet-collector-credentials"]
    refs = {c["name"]: {s["secretRef"]["name"] for s in c.get("envFrom", [])} for _, _, c in _containers()}
    assert refs == {"collector": {"logjet-collector-credentials"}, "processor": {"logjet-processor-credentials"},
                    "api": {"logjet-api-credentials"}, "logjet": set()}
    # The read-only key's privileges, as secret.yaml documents them for the operator to create.
    text = (K8S / "secret.yaml").read_text()
    reader = text.split('"reader"', 1)[1].split("\n#\n", 1)[0]
    assert '"read"' in reader and "create_doc" not in reader and "manage" not in reader.replace("monitor", "")


def test_kafka_is_reached_over_sasl_ssl_in_the_examples() -> None:
    assert _config().kafka.options["security.protocol"] == "SASL_SSL"
    assert _config().kafka.options["sasl.mechanism"].startswith("SCRAM-")


def test_ports_are_loopback_unless_a_pod_opens_them_on_its_own_address() -> None:
    from logjet.config import CollectorSettings, ProcessorSettings

    assert CollectorSettings().metrics_host == "127.0.0.1" and ProcessorSettings().metrics_host == "127.0.0.1"
    config = yaml.safe_load(next(d for _, d in _docs() if d["kind"] == "ConfigMap"
                                 and d["metadata"]["name"] == "logjet-config")["data"]["logjet.yaml"])
    assert "metrics_host" not in config["collector"] and "metrics_host" not in config["processor"]
    assert "host" not in config["api"]
    for _, _, container in _containers():  # the pods open them on their own address only, never 0.0.0.0
        env = _container_env(container)
        for key in ("LOGJET_COLLECTOR_METRICS_HOST", "LOGJET_PROCESSOR_METRICS_HOST", "LOGJET_API_HOST"):
            assert env.get(key) in (None, DOWNWARD["status.podIP"]), (container["name"], key)


def test_the_daemonset_keeps_identities_across_pods() -> None:
    ds = next(d for _, d in _docs() if d["kind"] == "DaemonSet")
    spec = ds["spec"]["template"]["spec"]
    container = spec["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["LOGJET_COLLECTOR_HOST_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    registry = Path(_config().collector.registry_path).parent
    mount = next(m for m in container["volumeMounts"] if Path(m["mountPath"]) == registry)
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert "hostPath" in volume and not mount.get("readOnly")


def _published(port: object) -> tuple[str | None, str]:
    """(host address or None for all interfaces, the rest) of a compose ports entry, short or long syntax."""
    if isinstance(port, dict):
        return port.get("host_ip"), str(port.get("published"))
    text = str(port)
    if text.startswith("["):  # [::1]:8080:8080
        host, rest = text[1:].split("]:", 1)
        return host, rest
    parts = text.split(":")
    return (parts[0], ":".join(parts[1:])) if len(parts) == 3 else (None, text)


def test_compose_publishes_ports_on_loopback_only() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    published = 0
    for name, service in doc["services"].items():
        assert service.get("network_mode") != "host", name
        for port in service.get("ports", []):
            host, _ = _published(port)
            assert host in ("127.0.0.1", "::1"), f"{name} publishes {port!r} on every interface"
            published += 1
    assert published >= 2  # the API and Kibana
    assert _published("8080:8080")[0] is None and _published({"published": 80, "target": 80})[0] is None


def test_compose_logjet_services_drop_privileges_and_the_collector_keeps_its_identity() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    for name, service in doc["services"].items():
        if service.get("image", "").startswith("logjet/"):
            assert service.get("cap_drop") == ["ALL"] and service.get("read_only") is True, name
            assert any("no-new-privileges" in o for o in service.get("security_opt", [])), name
            assert not service.get("privileged"), name
    collector = doc["services"]["collector"]
    assert collector.get("hostname") and collector["environment"].get("LOGJET_COLLECTOR_HOST_NAME")
    registry = Path(collector["environment"]["LOGJET_COLLECTOR_REGISTRY_PATH"]).parent
    volume = next(v for v in collector["volumes"] if v.split(":")[1] == str(registry))
    assert volume.split(":")[0] in doc["volumes"]  # a named volume: it outlives the container


@pytest.mark.parametrize("path", MARATHON, ids=[p.name for p in MARATHON])
def test_marathon_apps_drop_privileges(path: Path) -> None:
    import json

    docker = json.loads(path.read_text())["container"]["docker"]
    params = {(p["key"], p["value"]) for p in docker.get("parameters", [])}
    assert {("cap-drop", "ALL"), ("security-opt", "no-new-privileges"), ("read-only", "true")} <= params
    assert not docker.get("privileged")
    assert next(v for k, v in params if k == "user") != "0"

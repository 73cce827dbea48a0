from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from logjet.config import load_settings
from logjet.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_logjet_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read files; LOGJET_* variables of the shell (the test endpoints) would override them."""
    import os

    for key in list(os.environ):
        if key.startswith("LOGJET_"):
            monkeypatch.delenv(key)


def test_defaults_point_at_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LOGJET_CONFIG", "LOGJET_KAFKA_BOOTSTRAP", "LOGJET_ELASTICSEARCH_URL"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.kafka.bootstrap == "127.0.0.1:9092"
    assert s.elasticsearch.url == "http://127.0.0.1:9200"
    assert s.elasticsearch.data_stream == "logs-logjet-default"


def test_environment_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("kafka:\n  bootstrap: from-yaml:9092\n  topic: yaml-topic\n")
    monkeypatch.setenv("LOGJET_KAFKA_BOOTSTRAP", "from-env:9092")
    monkeypatch.setenv("LOGJET_PROCESSOR_BATCH_MAX_RECORDS", "17")
    s = load_settings(cfg)
    assert s.kafka.bootstrap == "from-env:9092"
    assert s.kafka.topic == "yaml-topic"
    assert s.processor.batch_max_records == 17


def test_librdkafka_and_client_options_pass_through(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("kafka:\n  options:\n    linger.ms: 5\n    security.protocol: SASL_SSL\n"
                   "elasticsearch:\n  options:\n    api_key: abc\n")
    s = load_settings(cfg)
    assert s.kafka.options == {"linger.ms": 5, "security.protocol": "SASL_SSL"}
    assert s.elasticsearch.options == {"api_key": "abc"}


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [("kafka:\n  bootstrapp: x\n", "kafka.bootstrapp"),
     ("processor:\n  batch_max_records: 0\n", "processor.batch_max_records"),
     ("api:\n  port: http\n", "api.port"),
     ("elasticsearch:\n  dataset: My-Logs\n", "elasticsearch.dataset"),
     ("colector: {}\n", "colector")],
)
def test_bad_key_or_value_is_named(tmp_path: Path, yaml_text: str, named: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_settings(cfg)


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGJET_API_PORT", "eighty")
    with pytest.raises(ConfigError, match="LOGJET_API_PORT"):
        load_settings()


def test_unreadable_or_non_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(bad)


def test_the_readme_configuration_example_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "logjet.yaml"
    path.write_text(example)
    settings = load_settings(path)
    assert settings.collector.files[0].multiline is not None
    assert settings.collector.syslog[1].tls is not None
    assert settings.kafka.options["security.protocol"] == "SASL_SSL"


@pytest.mark.parametrize(("collector", "needle"), [
    ({"files": [{"paths": ["/x"], "multiline": {"start_pattern": "(", "max_lines": 5}}]}, "regular expression"),
    ({"files": [{"paths": ["/x"], "multiline": {"max_lines": 5}}]}, "exactly one"),
    ({"syslog": [{"protocol": "udp", "tls": {"cert_file": "c", "key_file": "k"}}]}, "tls needs protocol 'tcp'"),
    ({"files": [{"paths": []}]}, "collector.files.0.paths"),
])
def test_bad_collector_inputs_are_named(tmp_path: Path, collector: dict, needle: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"collector": collector}))
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_settings(path)


SECRET = "s3cr3t-Value-42"


@pytest.mark.parametrize(("yaml_text", "named"), [
    (f"kafka:\n  options:\n    sasl.password: [{SECRET}]\n", "kafka.options.sasl.password"),
    (f"kafka:\n  options:\n    ssl.key.pem: {{a: {SECRET}}}\n", "kafka.options.ssl.key.pem"),
    (f"kafka:\n  options: {{sasl.username: [{SECRET}], linger.ms: [1]}}\n", "kafka.options.sasl.username"),
    (f"elasticsearch:\n  password: {SECRET}\n", "elasticsearch.password"),
    (f"elasticsearch:\n  url: https://elastic:{SECRET}@es:9200\n  dataset: Bad-Name\n", "elasticsearch.dataset"),
    (f"elasticsearch:\n  url: [https://elastic:{SECRET}@es:9200]\n", "elasticsearch.url"),
    (f"elasticsearch: https://elastic:{SECRET}@es:9200\n", "elasticsearch"),
    (f"api:\n  keys:\n    - {{name: a, sha256: {SECRET}, all_logs: true}}\n", "api.keys.0.sha256"),
    (f"kafka:\n  options:\n    sasl.password: \"{SECRET}\n  topic: [\n", "line 3"),  # not even YAML
])
def test_configuration_errors_name_the_key_never_the_secret(tmp_path: Path, yaml_text: str, named: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    text = "".join(__import__("traceback").format_exception(info.value))  # the cause chain included
    assert named in text
    assert SECRET not in text


def test_environment_errors_never_show_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGJET_ELASTICSEARCH_OPTIONS", f'{{"api_key": "{SECRET}", "basic_auth": ["u", "{SECRET}"]')
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = "".join(__import__("traceback").format_exception(info.value))
    assert "JSON" in text and "elasticsearch" in text
    assert SECRET not in text
    monkeypatch.setenv("LOGJET_ELASTICSEARCH_OPTIONS", f'{{"api_key": "{SECRET}"}}')
    monkeypatch.setenv("LOGJET_KAFKA_OPTIONS", f'{{"sasl.password": {{"v": "{SECRET}"}}}}')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "kafka.options.sasl.password" in str(info.value) and SECRET not in str(info.value)


def test_values_of_ordinary_keys_are_still_shown(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("processor:\n  batch_max_records: -3\n")
    with pytest.raises(ConfigError, match=r"input: -3"):
        load_settings(cfg)


def test_redaction_helpers() -> None:
    from logjet.config import redact, redact_url

    assert redact_url(f"https://elastic:{SECRET}@es-1:9200,https://es-2:9200") == \
        "https://<hidden>@es-1:9200,https://es-2:9200"
    assert redact({"sasl.mechanism": "PLAIN", "sasl.password": SECRET, "nested": {"api_key": SECRET},
                   "hosts": [f"http://u:{SECRET}@h"]}) == \
        {"sasl.mechanism": "<hidden>", "sasl.password": "<hidden>", "nested": {"api_key": "<hidden>"},
         "hosts": ["http://<hidden>@h"]}


def test_a_refused_kafka_option_never_shows_a_secret_value() -> None:
    import traceback

    from logjet.config import KafkaSettings
    from logjet.errors import ConfigError
    from shippers.kafka.client import make_producer

    secret = "hunter2-not-a-method"
    settings = KafkaSettings(bootstrap="127.0.0.1:1", options={"sasl.oauthbearer.method": secret})
    try:
        make_producer(settings)
    except ConfigError as exc:
        shown = "".join(traceback.format_exception(exc))
    else:
        raise AssertionError("librdkafka accepted an invalid sasl.oauthbearer.method")
    assert "sasl.oauthbearer.method" in shown and secret not in shown

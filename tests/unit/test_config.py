from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from logjet.config import load_settings
from logjet.errors import ConfigError


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

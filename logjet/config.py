"""Settings of every logjet component: one pydantic model per component under one root.

Sources, highest priority first: ``LOGJET_*`` environment variables, then the YAML file given with ``--config``
(or ``LOGJET_CONFIG``), then the defaults below. The first ``_`` after the component name separates component
and field: ``LOGJET_KAFKA_BOOTSTRAP`` sets ``kafka.bootstrap``, ``LOGJET_PROCESSOR_BATCH_MAX_ENTRIES`` sets
``processor.batch_max_entries``. Dict-valued settings take JSON in the environment.

Validation does no I/O: a bad key or value raises ``ConfigError`` naming it, before anything connects.
librdkafka options (``kafka.options``) and Elasticsearch client options (``elasticsearch.options``) pass through
untouched; librdkafka and the client validate them when the component builds its client.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from logjet.errors import ConfigError

__all__ = [
    "ApiSettings",
    "CollectorSettings",
    "ElasticsearchSettings",
    "KafkaSettings",
    "LogjetSettings",
    "ProcessorSettings",
    "StackSettings",
    "load_settings",
]

LibrdkafkaValue = str | int | float | bool


class _Component(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(_Component):
    bootstrap: str = Field("127.0.0.1:9092", description="bootstrap.servers, e.g. 'kafka-1:9092,kafka-2:9092'.")
    topic: str = Field("logjet-logs", description="Topic the collectors write and the processor reads.")
    dead_letter_topic: str = Field(
        "logjet-dead-letter", description="Topic for entries the processor cannot index, with the reason."
    )
    options: dict[str, LibrdkafkaValue] = Field(
        default_factory=dict,
        description="librdkafka options passed through untouched to producers and consumers, e.g. "
        "{'security.protocol': 'SASL_SSL'}.",
    )


class ElasticsearchSettings(_Component):
    url: str = Field("http://127.0.0.1:9200", description="Elasticsearch URL; several separated by commas.")
    dataset: str = Field("logjet", description="data_stream.dataset: documents go to logs-<dataset>-<namespace>.")
    namespace: str = Field("default", description="data_stream.namespace.")
    request_timeout_s: float = Field(30.0, gt=0, description="Timeout of one request to Elasticsearch.")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments passed through untouched to elasticsearch.Elasticsearch(), "
        "e.g. {'api_key': '...', 'ca_certs': '/etc/ca.pem'}.",
    )

    @field_validator("dataset", "namespace")
    @classmethod
    def _no_dash(cls, value: str) -> str:
        # Data stream names split on '-': a dash inside dataset or namespace would make them ambiguous.
        if not value or "-" in value or value != value.lower():
            raise ValueError("must be non-empty, lower case and contain no '-'")
        return value

    @property
    def data_stream(self) -> str:
        return f"logs-{self.dataset}-{self.namespace}"

    @property
    def index_pattern(self) -> str:
        return f"logs-{self.dataset}-*"

    @property
    def hosts(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]


class CollectorSettings(_Component):
    paths: list[str] = Field(default_factory=list, description="Files or glob patterns to tail.")
    registry_path: Path = Field(
        Path(".logjet/collector/registry.json"), description="Checkpoint registry (written atomically)."
    )
    start_at: Literal["beginning", "end"] = Field(
        "beginning", description="Where to start in a file the registry does not know."
    )
    poll_interval_s: float = Field(0.2, gt=0, le=10, description="How often files are checked for new data.")
    max_line_bytes: int = Field(
        1 << 20, ge=1024, description="Longer lines are truncated to this size and flagged."
    )
    batch_max_entries: int = Field(2000, ge=1, description="Entries per Kafka record at most.")
    batch_max_bytes: int = Field(512 * 1024, ge=1024, description="Bytes of messages per Kafka record at most.")
    host_name: str = Field(default_factory=socket.gethostname, description="host.name tagged on every entry.")
    collector_id: str = Field("", description="Tagged on every entry; defaults to the host name.")
    shutdown_deadline_s: float = Field(10.0, gt=0, description="SIGTERM: time allowed to flush and checkpoint.")


class ProcessorSettings(_Component):
    group_id: str = Field("logjet-processor", description="Kafka consumer group of all processor workers.")
    batch_max_entries: int = Field(5000, ge=1, description="Kafka records consumed per batch at most.")
    batch_max_wait_s: float = Field(0.5, gt=0, description="How long a batch waits to fill.")
    sink: Literal["elasticsearch", "discard"] = Field(
        "elasticsearch", description="'discard' parses and encodes everything but sends nothing (benchmarks)."
    )
    retry_max_s: float = Field(30.0, gt=0, description="Cap of the back-off between retries of a bulk request.")
    shutdown_deadline_s: float = Field(20.0, gt=0, description="SIGTERM: time allowed to finish and commit.")


class ApiSettings(_Component):
    host: str = Field("127.0.0.1", description="Address the HTTP API binds.")
    port: int = Field(8080, ge=1, le=65535, description="Port the HTTP API binds.")
    max_page_size: int = Field(1000, ge=1, le=10000, description="Largest page /v1/logs returns.")
    query_timeout_s: float = Field(10.0, gt=0, description="Time limit of one query to Elasticsearch.")


class StackSettings(_Component):
    state_dir: Path = Field(Path(".logjet/stack"), description="Data, logs, configs and pid files of the stack.")
    kafka_heap: str = Field("512m", pattern=r"^\d+[mg]$", description="Kafka JVM heap (-Xmx and -Xms).")
    elasticsearch_heap: str = Field("1g", pattern=r"^\d+[mg]$", description="Elasticsearch JVM heap.")
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    elasticsearch_port: int = Field(9200, ge=1, le=65535)
    elasticsearch_transport_port: int = Field(9300, ge=1, le=65535)
    kafka_partitions: int = Field(4, ge=1, description="Default partition count of auto-created topics.")
    start_timeout_s: float = Field(240.0, gt=0, description="How long `stack up` waits for each service.")
    java_home: Path | None = Field(None, description="JDK 17+ to run both servers; default: the one on PATH.")
    maven: str = Field("mvn", description="Maven executable that resolves the servers' artifacts.")
    run_as: str = Field(
        "logjet-stack",
        description="Elasticsearch refuses to run as root: when started by root it runs as this system user, "
        "created if missing.",
    )


class LogjetSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOGJET_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    processor: ProcessorSettings = Field(default_factory=ProcessorSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    stack: StackSettings = Field(default_factory=StackSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init kwargs; the environment overrides it, as operators expect of a container.
        return (env_settings, init_settings)


def _format_validation_error(exc: ValidationError, origin: str) -> str:
    lines = [f"invalid logjet configuration ({origin}):"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        env = "LOGJET_" + "_".join(str(p) for p in err["loc"][:2]).upper() if err["loc"] else ""
        lines.append(f"  {key}: {err['msg']} (input: {err.get('input')!r}; environment variable: {env})")
    return "\n".join(lines)


def load_settings(path: Path | str | None = None) -> LogjetSettings:
    """Load settings from the YAML file at ``path`` (or ``$LOGJET_CONFIG``) and the environment.

    Raises ``ConfigError`` naming every bad key; does no I/O beyond reading the file.
    """
    if path is None:
        path = os.environ.get("LOGJET_CONFIG") or None
    data: dict[str, Any] = {}
    origin = "defaults and environment"
    if path is not None:
        path = Path(path)
        origin = f"{path} and environment"
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"configuration file {path} is not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"configuration file {path} must hold a mapping at the top, not {type(loaded).__name__}")
        data = loaded
    try:
        return LogjetSettings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, origin)) from exc

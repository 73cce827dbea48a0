"""Settings of every logjet component: one pydantic model per component under one root.

Sources, highest priority first: ``LOGJET_*`` environment variables, then the YAML file given with ``--config``
(or ``LOGJET_CONFIG``), then the defaults below. The first ``_`` after the component name separates component
and field: ``LOGJET_KAFKA_BOOTSTRAP`` sets ``kafka.bootstrap``, ``LOGJET_PROCESSOR_BATCH_MAX_RECORDS`` sets
``processor.batch_max_records``. Dict-valued settings take JSON in the environment.

Validation does no I/O: a bad key or value raises ``ConfigError`` naming it, before anything connects. The error
never shows the value of a key that can hold a secret (``is_secret_key``), nor the credentials of a URL.
librdkafka options (``kafka.options``) and Elasticsearch client options (``elasticsearch.options``) pass through
untouched; librdkafka and the client validate them when the component builds its client.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from logjet.errors import ConfigError

__all__ = [
    "ApiKey",
    "ApiSettings",
    "CollectorSettings",
    "ContainerInputSettings",
    "FileInputSettings",
    "MultilineSettings",
    "ParserRule",
    "ParserSelector",
    "SyslogInputSettings",
    "TlsSettings",
    "ElasticsearchSettings",
    "KafkaSettings",
    "LogjetSettings",
    "ProcessorSettings",
    "StackSettings",
    "is_loopback_host",
    "load_settings",
    "redact",
    "redact_url",
    "is_secret_key",
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
    url: str = Field(
        "http://127.0.0.1:9200", description="Elasticsearch URL; several separated by commas (give every node, or "
        "several coordinating nodes, of a cluster: requests rotate over them and move on from one that fails)."
    )
    dataset: str = Field("logjet", description="data_stream.dataset: documents go to logs-<dataset>-<namespace>.")
    namespace: str = Field("default", description="data_stream.namespace.")
    request_timeout_s: float = Field(30.0, gt=0, description="Timeout of one request to Elasticsearch.")
    retention: str | None = Field(
        "30d", pattern=r"^\d+(d|h|m|s)$", description="How long documents are kept: the data stream lifecycle's "
        "data_retention (or the delete phase of the ILM policy); null keeps them forever."
    )
    ilm_policy: str | None = Field(
        None, description="Manage the data stream with this ILM policy (created or updated by logjet: rollover by "
        "size and age, delete after the retention) instead of the data stream lifecycle. Needs a cluster with ILM "
        "(X-Pack); refused at start-up otherwise."
    )
    ilm_rollover_max_size: str = Field("50gb", description="ILM: roll over when a primary shard reaches this size.")
    ilm_rollover_max_age: str = Field("1d", description="ILM: roll over at this age.")
    replicas: int | None = Field(
        None, ge=0, description="index.number_of_replicas of the backing indices; null (the default): one replica "
        "once the cluster has two data nodes, none on a single node (index.auto_expand_replicas 0-1), so that a "
        "node lost loses no acknowledged document and one node stays green."
    )
    max_retries: int = Field(
        3, ge=0, description="A request that finds no answer (connection refused or reset) is sent again to the next "
        "node of elasticsearch.url this many times; a node that failed is set aside for a growing back-off. Bulk "
        "requests are retried again above this by the processor (processor.retry_max_s)."
    )
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


class MultilineSettings(_Component):
    """Group a record's lines (a Java stack trace, a Python traceback) into one entry.

    Exactly one of ``start_pattern`` (a line matching it begins a new entry; others continue the current one) and
    ``continuation_pattern`` (a line matching it continues the current entry) is set.
    """

    start_pattern: str | None = Field(None, description="Regex: a matching line starts a new entry.")
    continuation_pattern: str | None = Field(None, description="Regex: a matching line continues the entry.")
    max_lines: int = Field(500, ge=2, description="An entry is closed after this many lines.")
    max_bytes: int = Field(1 << 20, ge=1024, description="An entry is closed (and the rest flagged) past this size.")
    flush_after_s: float = Field(1.0, gt=0, description="A pending entry is sent when no line came for this long.")

    @model_validator(mode="after")
    def _one_pattern(self) -> MultilineSettings:
        if (self.start_pattern is None) == (self.continuation_pattern is None):
            raise ValueError("set exactly one of start_pattern and continuation_pattern")
        for name in ("start_pattern", "continuation_pattern"):
            pattern = getattr(self, name)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{name} is not a valid regular expression: {exc}") from exc
        return self


class FileInputSettings(_Component):
    paths: list[str] = Field(min_length=1, description="Files or glob patterns to tail.")
    start_at: Literal["beginning", "end"] = Field(
        "beginning", description="Where to start in a file the registry does not know, found at start-up."
    )
    exclude: list[str] = Field(
        default_factory=lambda: ["*.gz", "*.bz2", "*.xz", "*.zst", "*.zip"],
        description="Glob patterns (fnmatch, on the whole path) of matched files not to read: compressed rotations.",
    )
    multiline: MultilineSettings | None = Field(None, description="Group multi-line records.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags added to every entry of these files.")


class ContainerInputSettings(_Component):
    docker_root: Path | None = Field(
        Path("/var/lib/docker/containers"),
        description="Docker's containers directory: <id>/<id>-json.log and <id>/config.v2.json; null to skip.",
    )
    cri_paths: list[str] = Field(
        default_factory=lambda: ["/var/log/containers/*.log"],
        description="Kubernetes/CRI log files (symlinks into /var/log/pods are followed).",
    )
    docker_socket: str | None = Field(
        None, description="Docker Engine API, e.g. unix:///var/run/docker.sock: metadata from it instead of files."
    )
    start_at: Literal["beginning", "end"] = Field("beginning", description="As for files.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags added to every container entry.")


class TlsSettings(_Component):
    cert_file: Path = Field(description="PEM certificate chain the listener presents.")
    key_file: Path = Field(description="PEM private key.")
    ca_file: Path | None = Field(None, description="When set, clients must present a certificate signed by it.")


class SyslogInputSettings(_Component):
    protocol: Literal["udp", "tcp"] = Field(description="udp, or tcp (newline framing or RFC 6587 octet counting).")
    host: str = Field(
        "127.0.0.1", description="Bind address: loopback unless set (0.0.0.0, or the pod's IP, to hear other hosts)."
    )
    port: int = Field(514, ge=0, le=65535, description="Bind port (0: any free port, for tests).")
    tls: TlsSettings | None = Field(None, description="TCP only: serve TLS.")
    max_message_bytes: int = Field(65536, ge=480, description="Longer messages are truncated and flagged.")
    queue_max: int = Field(
        20000, ge=1, description="Messages received and held while Kafka is slow. Beyond it UDP drops new ones "
        "(counted) and TCP stops reading its connections."
    )
    max_connections: int = Field(
        1024, ge=1, description="TCP: connections served at once. A new one beyond it replaces the connection idle "
        "longest (idle for a second at least); with none idle, it is refused."
    )
    max_connections_per_source: int = Field(
        64, ge=1, description="TCP: connections from one sender address at once; more are refused."
    )
    idle_timeout_s: float = Field(
        300.0, gt=0, description="TCP: a connection that sends nothing for this long is closed. Its clock starts "
        "when it is accepted: a TLS handshake is part of it."
    )
    tls_handshake_timeout_s: float = Field(
        10.0, gt=0, description="TCP with TLS: the whole handshake must end within this (and within idle_timeout_s)."
    )
    max_senders: int = Field(
        4096, ge=1, description="Senders whose source description is kept (least recently heard forgotten first; "
        "entries keep unique identities either way): bounds memory under spoofed UDP sender addresses."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags added to every message of this listener.")

    @model_validator(mode="after")
    def _tls_needs_tcp(self) -> SyslogInputSettings:
        if self.tls is not None and self.protocol != "tcp":
            raise ValueError("tls needs protocol 'tcp'")
        return self


class CollectorSettings(_Component):
    files: list[FileInputSettings] = Field(default_factory=list, description="Application file inputs.")
    containers: ContainerInputSettings | None = Field(None, description="Container stdout/stderr input.")
    syslog: list[SyslogInputSettings] = Field(default_factory=list, description="Syslog listeners.")
    stdin: bool = Field(False, description="Read lines from standard input (sidecar mode).")
    registry_path: Path = Field(
        Path(".logjet/collector/registry.json"), description="Checkpoint registry (written atomically)."
    )
    poll_interval_s: float = Field(0.2, gt=0, le=10, description="How often files are checked for new data.")
    discover_interval_s: float = Field(0.5, gt=0, le=60, description="How often globs are expanded for new files.")
    max_line_bytes: int = Field(
        256 * 1024, ge=1024, description="Longer lines are truncated to this size and flagged; bounds the memory a "
        "line without a newline can take."
    )
    batch_max_entries: int = Field(2000, ge=1, description="Entries per Kafka record at most.")
    batch_max_bytes: int = Field(512 * 1024, ge=1024, description="Bytes of messages per Kafka record at most.")
    max_in_flight_records: int = Field(
        2000, ge=1, description="Records awaiting Kafka's acknowledgement at most; beyond, inputs stop reading."
    )
    max_open_files: int = Field(4096, ge=1, description="Files held open at once at most.")
    close_inactive_s: float = Field(
        300.0, gt=0, description="A file read to its end that has not grown for this long is closed; it is opened "
        "again (from its checkpoint) when it grows."
    )
    record_max_bytes: int = Field(
        900_000, ge=65536, description="Largest Kafka record value: keep below the topic's max.message.bytes "
        "(1 MB by default). Batches are split to fit; a single entry too large is truncated and flagged."
    )
    host_name: str = Field(default_factory=socket.gethostname, description="host.name tagged on every entry.")
    collector_id: str = Field("", description="Tagged on every entry; defaults to the host name.")
    shutdown_deadline_s: float = Field(10.0, gt=0, description="SIGTERM: time allowed to flush and checkpoint.")
    metrics_host: str = Field("127.0.0.1", description="Address of the /metrics and /healthz HTTP port.")
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="Port of /metrics (Prometheus) and /healthz; null: not served."
    )


class ParserSelector(_Component):
    """Which entries a parser is for; every condition given must hold (globs are fnmatch patterns)."""

    container_name: str | None = Field(None, description="Glob on container.name.")
    container_labels: dict[str, str] = Field(default_factory=dict, description="Label name -> glob on its value.")
    kubernetes_namespace: str | None = Field(None, description="Glob on kubernetes.namespace.")
    path: str | None = Field(None, description="Glob on the file path (log.file.path).")
    appname: str | None = Field(None, description="Glob on the syslog app name (log.syslog.appname).")
    source_kind: str | None = Field(None, description="file, container, syslog, stdin or kafka.")


class ParserRule(_Component):
    """A user-defined parser: a regular expression with named groups, or a Python function."""

    name: str = Field(min_length=1, description="Named in errors and dead letters.")
    when: ParserSelector = Field(default_factory=ParserSelector, description="Entries it applies to.")
    regex: str | None = Field(
        None, description="Named groups become fields: '__' in a group name stands for '.' (http__request__method "
        "-> http.request.method); the groups 'message', 'timestamp' and 'level' set those. A line that does not "
        "match falls through to the built-in parsers."
    )
    function: str | None = Field(
        None, description="'package.module:function' taking (message: str) and returning a dict of fields like "
        "the regex's groups, or None to fall through."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> ParserRule:
        if (self.regex is None) == (self.function is None):
            raise ValueError("set exactly one of regex and function")
        if self.regex is not None:
            try:
                compiled = re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex is not a valid regular expression: {exc}") from exc
            if not compiled.groupindex:
                raise ValueError("regex has no named group: it would extract nothing")
        elif not re.fullmatch(r"[\w.]+:\w+", self.function or ""):
            raise ValueError("function must be 'package.module:function'")
        return self


class ProcessorSettings(_Component):
    group_id: str = Field("logjet-processor", description="Kafka consumer group of all processor workers.")
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, le=256, description="Worker processes (default: cores)."
    )
    metrics_host: str = Field("127.0.0.1", description="Address of the supervisor's /metrics and /healthz.")
    metrics_port: int | None = Field(None, ge=0, le=65535, description="Port of /metrics and /healthz; null: off.")
    batch_max_records: int = Field(5000, ge=1, description="Kafka records consumed per batch at most.")
    batch_max_bytes: int = Field(
        16 << 20, ge=65536, description="Bytes of Kafka record values per batch at most (a collector record holds up "
        "to thousands of entries)."
    )
    batch_max_wait_s: float = Field(0.5, gt=0, description="How long a batch waits to fill.")
    sink: Literal["elasticsearch", "discard"] = Field(
        "elasticsearch", description="'discard' parses and encodes everything but sends nothing (benchmarks)."
    )
    retry_max_s: float = Field(30.0, gt=0, description="Cap of the back-off between retries of a bulk request.")
    bulk_max_docs: int = Field(20_000, ge=1, description="Documents in one bulk request at most.")
    bulk_concurrency: int = Field(
        2, ge=1, le=32, description="Bulk requests in flight at once per worker (a batch is split by bulk_max_bytes)."
    )
    parsers: list[ParserRule] = Field(
        default_factory=list, description="User-defined parsers, tried in order before the built-in ones."
    )
    keep_original: bool = Field(False, description="Also store each entry's raw text as event.original.")
    patterns: bool = Field(
        True, description="Give each document its log pattern: logjet.pattern.template (the message with its variable "
        "parts as <*>) and logjet.pattern.id (a hash of the template, the same in every worker and after restarts)."
    )
    bulk_max_bytes: int = Field(
        10 << 20, ge=65536, description="Bytes of one bulk request at most (below http.max_content_length, 100 MB)."
    )
    shutdown_deadline_s: float = Field(20.0, gt=0, description="SIGTERM: time allowed to finish and commit.")
    lag_interval_s: float = Field(
        10.0, ge=0.1, description="How often each worker reports the consumer lag of the partitions it owns (from "
        "librdkafka's statistics: no extra broker requests)."
    )
    topic_check_s: float = Field(
        30.0, gt=0, description="How often each worker checks that the topics it consumes were not deleted and "
        "created again under their names (one metadata request)."
    )
    collision_check_max: int = Field(
        1000, ge=0, description="Documents refused as already indexed (409) per batch whose stored content hash is "
        "compared with theirs, to tell a replay from an identity collision; a sample when more (0: none)."
    )


class ApiKey(_Component):
    """One bearer token, stored as the SHA-256 of the token (hex), never the token itself, and what it may read.

    A scope matches only fields that the collector (from the node's own knowledge) or the operator (an input's tags)
    set, never a field a log line can write: see the README's "Trust model".
    """

    name: str = Field(min_length=1, description="Who holds it; logged with each request.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the token: `logjet api-key` makes both.")
    namespaces: list[str] = Field(
        default_factory=list,
        description="Kubernetes namespaces whose logs it may read (kubernetes.namespace, from the CRI log path or the "
                    "kubelet's container labels), e.g. [shop].",
    )
    services: list[str] = Field(
        default_factory=list,
        description="'<namespace>/<service.name>': what a service logs from the namespace it runs in, e.g. "
                    "[bank/payments]. A name alone is refused: any log line can call itself any service.",
    )
    labels: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Operator tags of collector inputs (labels.<name>, from `tags` without a dot) -> the values it "
                    "may read, e.g. {team: [payments]}.",
    )
    container_labels: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Container labels (container.labels.<name>, from the container runtime; the image's labels "
                    "included) -> the values it may read, e.g. {com.example.team: [payments]}.",
    )
    all_logs: bool = Field(False, description="Reads every log (operators); otherwise the scope above.")

    @field_validator("services")
    @classmethod
    def _bound_services(cls, value: list[str]) -> list[str]:
        for item in value:
            namespace, _, service = item.partition("/")
            if not namespace or not service:
                raise ValueError(f"{item!r} is not '<namespace>/<service.name>': a service is scoped to the namespace "
                                 "it runs in, since any log line can name any service")
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for label in value:
            if not label or "." in label:
                raise ValueError(f"{label!r} is not a label name: operator tags with a dot are ECS fields, not labels")
        return value

    @model_validator(mode="after")
    def _scoped(self) -> ApiKey:
        if not self.all_logs and not (self.namespaces or self.services or self.labels or self.container_labels):
            raise ValueError("a key needs namespaces, services, labels and/or container_labels, or all_logs: true")
        for field in ("labels", "container_labels"):
            for label, values in getattr(self, field).items():
                if not values:
                    raise ValueError(f"{field}.{label} lists no value: it would match nothing")
        return self


def is_loopback_host(host: str) -> bool:
    """Whether a bind address or Host name stays on this machine: ``localhost`` or a loopback IP (no lookup)."""
    import ipaddress

    name = host.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class ApiSettings(_Component):
    host: str = Field("127.0.0.1", description="Address the HTTP API binds.")
    port: int = Field(8080, ge=1, le=65535, description="Port the HTTP API binds.")
    max_concurrent_queries: int = Field(
        24, ge=1, le=1000,
        description="Searches and stats (/v1/logs, /v1/stats) that run at once; keep it below the server's 40 "
        "worker threads so that /readyz and the tails keep threads when Elasticsearch is slow.",
    )
    max_queued_queries: int = Field(
        100, ge=0, description="Searches and stats that may wait for a turn; the next one is answered 503 at once."
    )
    stats_max_buckets: int = Field(
        2000, ge=10, le=65536,
        description="Most histogram counts one /v1/stats answer holds: (to - from) / interval + 1 buckets, times "
        "1 + `top` with `by`; a request for more is a 400 naming the smallest interval that fits.",
    )
    max_page_size: int = Field(1000, ge=1, le=10000, description="Largest page /v1/logs returns.")
    query_timeout_s: float = Field(10.0, gt=0, description="Time limit of one query to Elasticsearch.")
    keys: list[ApiKey] = Field(default_factory=list, description="API keys; every endpoint but /healthz needs one.")
    open_demo: bool = Field(
        False, description="Serve every endpoint without a key, to this machine only: refused beside api.keys, on "
        "an api.host that is not loopback, or with CORS for other machines' pages; `logjet up` turns it on only for "
        "the local stack."
    )

    @model_validator(mode="after")
    def _open_demo_stays_local(self) -> ApiSettings:
        # Open demo answers anyone who reaches the port: only this machine may, and never beside real keys.
        if self.open_demo and self.keys:
            raise ValueError("open_demo serves every endpoint without a key: it cannot be on while api.keys are "
                             "configured (turn it off)")
        if self.open_demo and not is_loopback_host(self.host):
            raise ValueError(f"open_demo binds only a loopback address (127.0.0.1, ::1, localhost), not "
                             f"{self.host!r}: configure api.keys to serve other machines")
        from urllib.parse import urlsplit

        # CORS for another site would let any page that site serves read the demo's logs from the visitor's machine.
        foreign = [o for o in self.cors_origins if not is_loopback_host(urlsplit(o).hostname or "")]
        if self.open_demo and foreign:
            raise ValueError(f"open_demo allows CORS only for pages of this machine (http://localhost:<port>), not "
                             f"{foreign}")
        return self

    filter_fields: list[str] = Field(
        default_factory=lambda: ["event.dataset", "log.logger", "source.ip", "http.response.status_code"],
        description="Other fields /v1/logs may filter on exactly (field=<name>:<value>).",
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS; none: CORS off.")
    pit_keep_alive: str = Field("2m", pattern=r"^\d+[sm]$", description="How long a paging cursor stays valid.")
    max_page_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="A /v1/logs page stops before the document that would take its "
        "documents' JSON past this many bytes (it always holds at least one)."
    )
    pit_max_per_key: int = Field(
        10, ge=0, description="Points in time (open multi-page walks of /v1/logs) one key may hold in this process; "
        "beyond it a walk goes on without one."
    )
    pit_max_total: int = Field(200, ge=0, description="Points in time this process holds open in all.")
    tail_max_per_key: int = Field(5, ge=1, description="Live tails one key may hold open in this process (429 "
                                  "beyond).")
    tail_max_total: int = Field(100, ge=1, description="Live tails this process serves at once (429 beyond).")
    tail_page_size: int = Field(500, ge=10, le=10_000, description="Documents a live tail reads from "
                                "Elasticsearch at once (the most it holds in memory).")
    cursor_secret: SecretStr | None = Field(
        None, description="Key of the HMAC that signs cursors and Last-Event-IDs (16 bytes at least). Unset: a random "
        "one per process start, so cursors do not survive a restart; several replicas behind one address need the "
        "same secret."
    )

    @field_validator("cursor_secret")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 16:
            raise ValueError("must be at least 16 bytes")
        return value


class StackSettings(_Component):
    state_dir: Path = Field(Path(".logjet/stack"), description="Data, logs, configs and pid files of the stack.")
    kafka_heap: str = Field("512m", pattern=r"^\d+[mg]$", description="Kafka JVM heap (-Xmx and -Xms).")
    elasticsearch_heap: str = Field("1g", pattern=r"^\d+[mg]$", description="Elasticsearch JVM heap.")
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    elasticsearch_port: int = Field(9200, ge=1, le=65535)
    elasticsearch_transport_port: int = Field(9300, ge=1, le=65535)
    kafka_partitions: int = Field(4, ge=1, description="Default partition count of auto-created topics.")
    kafka_brokers: int = Field(
        1, ge=1, le=16, description="Kafka brokers (KRaft) on consecutive ports from kafka_port (controllers from "
        "kafka_controller_port). From 3 on, the first three are also the controller quorum, and topics get 3 "
        "replicas with min.insync.replicas 2; below, min(brokers, 3) replicas and min.insync.replicas 1."
    )
    elasticsearch_nodes: int = Field(
        1, ge=1, le=16, description="Elasticsearch nodes forming one cluster, HTTP on consecutive ports from "
        "elasticsearch_port (transport from elasticsearch_transport_port), all master-eligible and data nodes."
    )
    start_timeout_s: float = Field(240.0, gt=0, description="How long `stack up` waits for each service.")
    java_home: Path | None = Field(None, description="JDK 17+ to run both servers; default: the one on PATH.")
    maven: str = Field("mvn", description="Maven executable that resolves the servers' artifacts.")
    run_as: str = Field(
        "logjet-stack",
        description="When `stack up` runs as root, Kafka and Elasticsearch run as this unprivileged system user "
        "(created if missing), which owns only their data, logs and temporary files.",
    )

    @model_validator(mode="after")
    def _ports_apart(self) -> StackSettings:
        # Every node takes the next port of each range: two ranges that meet would give two servers one port.
        ranges = {
            "kafka_port": (self.kafka_port, self.kafka_brokers),
            "kafka_controller_port": (self.kafka_controller_port, 3 if self.kafka_brokers >= 3 else 1),
            "elasticsearch_port": (self.elasticsearch_port, self.elasticsearch_nodes),
            "elasticsearch_transport_port": (self.elasticsearch_transport_port, self.elasticsearch_nodes),
        }
        for name, (first, count) in ranges.items():
            if first + count - 1 > 65535:
                raise ValueError(f"{name} {first} leaves no room for {count} nodes (ports up to 65535)")
        names = list(ranges)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                (pa, na), (pb, nb) = ranges[a], ranges[b]
                if pa < pb + nb and pb < pa + na:
                    raise ValueError(f"{a} {pa}-{pa + na - 1} and {b} {pb}-{pb + nb - 1} overlap: with "
                                     f"{self.kafka_brokers} brokers and {self.elasticsearch_nodes} Elasticsearch "
                                     "nodes, each node takes the next port of each range; move one range away")
        return self


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


# Keys whose values can hold secrets: credentials, keys and tokens (in librdkafka's dotted names, the client's
# keyword arguments and logjet's own fields). An error names such a key, never its value.
_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|credential|auth|api_?key|sha256|private|^sasl\.|^ssl\..*key|_key$",
    re.IGNORECASE,
)
# scheme://user:password@host: the part before '@' is replaced.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.\-]*://)[^/@\s]+@", re.IGNORECASE)
HIDDEN = "<hidden>"


def is_secret_key(name: str) -> bool:
    """Whether a setting or option of this name can hold a secret (its value is never printed)."""
    return bool(_SECRET_KEY.search(name))


def redact_url(text: str) -> str:
    """``text`` with the credentials of every URL in it (``scheme://user:password@``) replaced."""
    return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{HIDDEN}@", text)


def redact(value: Any, key: str | None = None) -> Any:
    """A copy of a settings value fit to print: values of secret keys hidden, URL credentials removed."""
    if key is not None and is_secret_key(key):
        return HIDDEN
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_url(value)
    return value


def _format_validation_error(exc: ValidationError, origin: str) -> str:
    lines = [f"invalid logjet configuration ({origin}):"]
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc) or "<root>"
        env = "LOGJET_" + "_".join(loc[:2]).upper() if loc else ""
        if any(is_secret_key(part) for part in loc):
            shown = "value hidden: the key can hold a secret"
        else:
            shown = f"input: {redact(err.get('input'))!r}"
        lines.append(f"  {key}: {redact_url(err['msg'])} ({shown}; environment variable: {env})")
    return "\n".join(lines)


def _yaml_error(path: Path, exc: yaml.YAMLError) -> str:
    # PyYAML's own message quotes the offending lines, which may hold a password: only positions and problems.
    parts = []
    for text, mark in ((getattr(exc, "context", None), getattr(exc, "context_mark", None)),
                       (getattr(exc, "problem", None), getattr(exc, "problem_mark", None))):
        if text or mark:
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            parts.append(f"{text or ''}{where}")
    return f"configuration file {path} is not valid YAML: {'; '.join(parts) or type(exc).__name__}"


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
            raise ConfigError(_yaml_error(path, exc)) from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"configuration file {path} must hold a mapping at the top, not {type(loaded).__name__}")
        data = loaded
    # The causes are not chained (``from None``): pydantic's and PyYAML's own messages quote the values, secrets
    # included, and a traceback would print them.
    try:
        return LogjetSettings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, origin)) from None
    except SettingsError as exc:
        # An environment variable that is not valid JSON where a dict or list is expected.
        raise ConfigError(f"invalid logjet configuration ({origin}): {exc} (a LOGJET_* variable of a dict or list "
                          "setting must hold JSON)") from None

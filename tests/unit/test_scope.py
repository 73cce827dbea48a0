"""API-key scopes against forged content: the real processor code (wire decoding, envelopes, JSON, logfmt, user
parsers, ECS mapping, encoding) turns generated lines into documents, and each key's real scope filter is evaluated
on them with Elasticsearch's term semantics (dotted keys are object paths, keyword values compared as text).
``tests/integration/test_scope.py`` runs the same documents and filters through the real Elasticsearch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from api.auth import Caller, _from_key
from logjet.config import ApiKey, ElasticsearchSettings, ProcessorSettings
from logjet.wire import Batch, Entry, Source, encode_batch
from processor.ecs import SCOPE_ROOTS
from processor.transform import Transform

NAMESPACES = ("bank", "shop", "evil")
SERVICES = ("payments", "checkout", "api")
TEAMS = ("payments", "shop", "evil")
NOW_NS = 1_795_600_000_000_000_000


def echo(message: str) -> dict[str, Any] | None:
    """A user parser function that returns whatever the line holds as its fields (the worst a function can do)."""
    if not message.startswith("F|"):
        return None
    try:
        out = orjson.loads(message[2:])
    except orjson.JSONDecodeError:
        return None
    return out if isinstance(out, dict) else None


USER_PARSERS = [
    {"name": "pipes", "regex": r"^R\|(?P<service__name>[^|]*)\|(?P<team>[^|]*)\|(?P<host__name>[^|]*)$"},
    {"name": "echo", "function": "tests.unit.test_scope:echo"},
]


class Record:
    """What the transform reads of a consumed Kafka record."""

    def __init__(self, value: bytes, headers: list[tuple[str, bytes]] | None, offset: int) -> None:
        self._value, self._headers, self._offset = value, headers, offset

    def value(self) -> bytes:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | None:
        return self._headers

    def topic(self) -> str:
        return "logs"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return (1, NOW_NS // 1_000_000)


# --- Elasticsearch's filter semantics, for the filters api/auth.py builds -------------------------------------------

def indexed(doc: Any, field: str) -> list[str]:
    """The terms Elasticsearch indexes under keyword ``field`` for this _source: a dotted key is an object path, an
    array holds several values, a number or boolean is indexed as its text, a string over ignore_above (1024) is not."""
    out: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else key)
        elif isinstance(node, list):
            for value in node:
                walk(value, path)
        elif path == field and node is not None:
            text = ("true" if node else "false") if isinstance(node, bool) else str(node)
            if len(text) <= 1024:
                out.append(text)

    walk(doc, "")
    return out


def matches(query: dict[str, Any], doc: dict[str, Any]) -> bool:
    (kind, body), = query.items()
    if kind == "term":
        (field, value), = body.items()
        return value in indexed(doc, field)
    if kind == "terms":
        (field, values), = body.items()
        return any(v in values for v in indexed(doc, field))
    if kind == "bool":
        required = list(body.get("filter", [])) + list(body.get("must", []))
        should = body.get("should", [])
        minimum = body.get("minimum_should_match", 0 if required else 1)
        return all(matches(q, doc) for q in required) and sum(matches(q, doc) for q in should) >= minimum
    raise AssertionError(f"a scope filter uses {kind}, which this model does not know")


def filter_fields(query: dict[str, Any]) -> Iterable[str]:
    (kind, body), = query.items()
    if kind in ("term", "terms"):
        yield from body
    else:
        for part in ("filter", "must", "should"):
            for sub in body.get(part, []):
                yield from filter_fields(sub)


# --- what the writer of a document really is: the collector's and the operator's tags, never its content ----------

@dataclass(frozen=True)
class Writer:
    source: Source

    @property
    def namespace(self) -> str | None:
        return self.source.tags.get("kubernetes.namespace")

    def admitted_by(self, key: ApiKey, doc: dict[str, Any]) -> bool:
        """Whether ``key`` may read what this writer wrote (``doc``): its namespace; its namespace with the service
        name the document carries (a name is the writer's to choose within its namespace); its tags."""
        tags = self.source.tags
        if self.namespace in key.namespaces:
            return True
        service = indexed(doc, "service.name")
        if any(ns == self.namespace and name in service for ns, _, name in (s.partition("/") for s in key.services)):
            return True
        if any(tags.get(label) in values for label, values in key.labels.items()):
            return True
        return any(tags.get(f"container.labels.{label.replace('.', '_')}") in values
                   for label, values in key.container_labels.items())

    def trusted_match(self, key: ApiKey) -> bool:
        """Admitted on the writer's tags alone: the key must see it whatever the content says."""
        tags = self.source.tags
        return (self.namespace in key.namespaces
                or any(tags.get(label) in values for label, values in key.labels.items())
                or any(tags.get(f"container.labels.{label.replace('.', '_')}") in values
                       for label, values in key.container_labels.items()))


def transform(items: list[tuple[Source | None, Entry]],
              first_offset: int = 0) -> list[tuple[Writer | None, dict[str, Any]]]:
    """The documents the real processor makes of these entries (a None source: a third-party Kafka record, at
    ``first_offset`` and on)."""
    ps = ProcessorSettings(parsers=USER_PARSERS)
    records = []
    for offset, (source, entry) in enumerate(items, first_offset):
        if source is None:
            records.append(Record(entry.message.encode(), None, offset))
        else:
            _, value, headers = encode_batch(Batch(source, [entry]))
            records.append(Record(value, headers, offset))
    out = Transform(ps, ElasticsearchSettings())(records)
    assert not out.dead, out.dead[0].reason
    assert len(out.docs) == len(items)
    return [(Writer(source) if source is not None else None, orjson.loads(body))
            for (source, _), (_, body) in zip(items, out.docs, strict=True)]


# --- generators ------------------------------------------------------------------------------------------------------

_NAME = st.sampled_from(NAMESPACES + SERVICES + TEAMS)
_SCOPE_KEY = st.sampled_from(["kubernetes", "kubernetes.namespace", "namespace", "service", "service.name", "name",
                              "labels", "labels.team", "team", "container", "container.labels.team",
                              "container.labels", "host.name", "message", "json", "json.team", "event.id"])
_VALUE = st.recursive(_NAME | st.integers(0, 3) | st.booleans() | st.lists(_NAME, max_size=2),
                      lambda kids: st.dictionaries(_SCOPE_KEY, kids, max_size=3), max_leaves=8)
_OBJECT = st.dictionaries(_SCOPE_KEY, _VALUE, max_size=6)


def _json(obj: dict[str, Any]) -> str:
    return orjson.dumps({"msg": "hello", **obj}).decode()


LINE = st.one_of(
    _OBJECT.map(_json),
    st.lists(st.tuples(_SCOPE_KEY, _NAME), min_size=2, max_size=5).map(
        lambda pairs: " ".join(f"{k}={v}" for k, v in pairs)),  # logfmt
    _OBJECT.map(lambda o: f"<14>1 2026-11-25T10:00:00Z host app - - - {_json(o)}"),  # a syslog envelope
    _OBJECT.map(lambda o: orjson.dumps({"log": _json(o) + "\n", "stream": "stdout",
                                        "time": "2026-11-25T10:00:00Z"}).decode()),  # Docker json-file
    _OBJECT.map(lambda o: f"2026-11-25T10:00:00.000000000Z stdout F {_json(o)}"),  # CRI
    st.tuples(_NAME, _NAME, _NAME).map(lambda t: "R|" + "|".join(t)),  # the user regex parser
    _OBJECT.map(lambda o: "F|" + _json(o)),  # the user function parser
)
ATTRS = st.none() | st.dictionaries(_SCOPE_KEY.filter(lambda k: "." in k), _NAME, min_size=1, max_size=3)


@st.composite
def sources(draw: st.DrawFn) -> Source | None:
    kind = draw(st.sampled_from(["container", "file", "syslog", "kafka"]))
    n = draw(st.integers(0, 9))
    if kind == "container":
        tags = {"kubernetes.namespace": draw(st.sampled_from(NAMESPACES)), "kubernetes.pod.name": f"pod-{n}",
                "container.name": f"c-{n}"}
        if draw(st.booleans()):
            tags["container.labels.team"] = draw(st.sampled_from(TEAMS))
        return Source(f"container:node:{n}", "container", "node", "node", None, tags)
    if kind == "file":
        tags = {}
        if draw(st.booleans()):
            tags["team"] = draw(st.sampled_from(TEAMS))
        if draw(st.booleans()):
            tags["service.name"] = draw(st.sampled_from(SERVICES))
        return Source(f"file:node:{n}", "file", "node", "node", f"/var/log/app-{n}.log", tags)
    if kind == "syslog":
        return Source(f"syslog:node:udp:514:10.0.0.{n}:1", "syslog", "node", "node", None,
                      {"source.ip": f"10.0.0.{n}", "network.transport": "udp"})
    return None  # a third-party record on the topic: no logjet header, no tags


@st.composite
def documents(draw: st.DrawFn, min_size: int = 1, max_size: int = 12) -> list[tuple[Source | None, Entry]]:
    items = []
    for seq in range(draw(st.integers(min_size, max_size))):
        source = draw(sources())
        attrs = draw(ATTRS) if source is not None else None
        items.append((source, Entry(seq, NOW_NS, draw(LINE), (), attrs)))
    return items


def _names(pool: tuple[str, ...], min_size: int = 0) -> st.SearchStrategy[list[str]]:
    return st.sets(st.sampled_from(pool), min_size=min_size, max_size=2).map(sorted)


@st.composite
def keys(draw: st.DrawFn) -> ApiKey:
    scope: dict[str, Any] = {
        "namespaces": draw(_names(NAMESPACES)),
        "services": [f"{ns}/{svc}" for ns, svc in draw(st.lists(st.tuples(st.sampled_from(NAMESPACES),
                                                                        st.sampled_from(SERVICES)), max_size=2))],
        "labels": draw(st.just({}) | _names(TEAMS, 1).map(lambda v: {"team": v})),
        "container_labels": draw(st.just({}) | _names(TEAMS, 1).map(lambda v: {"team": v})),
    }
    if not any(scope.values()):
        scope["namespaces"] = [draw(st.sampled_from(NAMESPACES))]
    return ApiKey(name="k", sha256="0" * 64, **scope)


def check_scopes(docs: list[tuple[Writer | None, dict[str, Any]]], key: ApiKey,
                 hits: set[int] | None = None) -> None:
    """No document outside the key's scope matches its filter, and every one inside by the writer's tags does.
    ``hits``: the positions Elasticsearch returned for the filter (None: evaluate the filter here)."""
    query = _from_key(key).scope_filter()
    assert query is not None
    for i, (writer, doc) in enumerate(docs):
        seen = matches(query, doc) if hits is None else i in hits
        if writer is None:  # a third-party record carries no tags: no scoped key may see it
            assert not seen, (key, doc)
            continue
        if seen:
            assert writer.admitted_by(key, doc), (key, writer.source.tags, doc)
        if writer.trusted_match(key):
            assert seen, (key, writer.source.tags, doc)
        operator_service = writer.source.tags.get("service.name")
        if operator_service is not None:
            assert indexed(doc, "service.name") == [operator_service], doc


# --- tests ---------------------------------------------------------------------------------------------------------

def test_every_scope_filter_matches_only_fields_content_cannot_write() -> None:
    key = ApiKey(name="k", sha256="0" * 64, namespaces=["shop"], services=["bank/payments"],
                 labels={"team": ["payments"]}, container_labels={"com.example.team": ["payments"]})
    query = _from_key(key).scope_filter()
    assert query is not None
    # Each alternative stands on a trusted field: service.name only narrows a namespace.
    for alternative in query["bool"]["should"]:
        assert any(f.split(".")[0] in SCOPE_ROOTS for f in filter_fields(alternative)), alternative
    assert set(filter_fields(query)) == {"kubernetes.namespace", "service.name", "labels.team",
                                         "container.labels.com_example_team"}
    assert _from_key(ApiKey(name="ops", sha256="0" * 64, all_logs=True)).scope_filter() is None


def test_a_line_claiming_another_teams_service_and_namespace_is_seen_only_in_its_writers_scope() -> None:
    forged = _json({"service": "payments", "kubernetes": {"namespace": "bank"}, "kubernetes.namespace": "bank",
                    "labels": {"team": "payments"}, "labels.team": "payments", "container.labels.team": "payments"})
    evil = Source("container:node:9", "container", "node", "node", None,
                  {"kubernetes.namespace": "evil", "kubernetes.pod.name": "x", "container.name": "x"})
    syslog = Source("syslog:node:udp:514:10.9.9.9:1", "syslog", "node", "node", None, {"source.ip": "10.9.9.9"})
    bank = Source("container:node:1", "container", "node", "node", None,
                  {"kubernetes.namespace": "bank", "kubernetes.pod.name": "p", "container.name": "payments"})
    tagged = Source("file:node:2", "file", "node", "node", "/var/log/pay.log", {"team": "payments"})
    docs = transform([
        (evil, Entry(0, NOW_NS, forged, (), {"kubernetes.namespace": "bank"})),
        (syslog, Entry(0, NOW_NS, f"<14>1 2026-11-25T10:00:00Z h app - - - {forged}")),
        (None, Entry(0, NOW_NS, forged)),
        (evil, Entry(1, NOW_NS, "F|" + forged)),
        (evil, Entry(2, NOW_NS, "R|payments|payments|bank-host")),
        (bank, Entry(0, NOW_NS, '{"msg":"real","service":"payments"}')),
        (tagged, Entry(0, NOW_NS, '{"msg":"real, tagged"}')),
    ])
    key = {name: ApiKey(name=name, sha256="0" * 64, **scope) for name, scope in (
        ("bank", {"namespaces": ["bank"]}), ("payments", {"services": ["bank/payments"]}),
        ("team", {"labels": {"team": ["payments"]}}), ("evil", {"namespaces": ["evil"]}),
        ("evil-payments", {"services": ["evil/payments"]}))}
    seen = {name: [i for i, (_, doc) in enumerate(docs) if matches(_from_key(k).scope_filter() or {}, doc)]
            for name, k in key.items()}
    assert seen == {"bank": [5], "payments": [5], "team": [6], "evil": [0, 3, 4], "evil-payments": [0, 4]}
    first = docs[0][1]
    assert first["kubernetes"] == {"namespace": "evil", "pod": {"name": "x"}} and "labels" not in first
    assert first["json"]["kubernetes"] == {"namespace": "bank"} and first["json"]["labels.team"] == "payments"
    for name, k in key.items():
        check_scopes(docs, k)
        assert Caller.may_ask_for(_from_key(k), "bank", None) == (name in ("bank", "payments", "team"))


@settings(max_examples=250, deadline=None)
@given(items=documents(), scoped=st.lists(keys(), min_size=1, max_size=4))
def test_no_key_ever_sees_a_document_outside_its_scope_whatever_the_content_says(
        items: list[tuple[Source | None, Entry]], scoped: list[ApiKey]) -> None:
    docs = transform(items)
    for key in scoped:
        check_scopes(docs, key)

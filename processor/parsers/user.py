"""User-defined parsers from ``processor.parsers``: a regex with named groups or a Python function, chosen by the
entry's container, pod, file path, syslog app name or source kind. A parser that does not match falls through to the
built-in ones. Functions are imported at start-up, so a wrong path stops the processor before it consumes anything.
What a rule returns is content: it never sets a scope field (``processor.ecs``), and a regex whose group names one is
refused at start-up.

``UserParsers.source_conditions`` gives the rules' conditions as data for the compiled core, which leaves to this
module exactly the records a rule may apply to (by source, and by syslog app name for a rule that has one), and
decides every other record itself.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from collections.abc import Callable
from typing import Any

from logjet.config import ParserRule
from logjet.errors import ConfigError
from logjet.wire import Entry, Source
from processor.ecs import SCOPE_ROOTS
from processor.parsers.text import normal_level, parse_time

__all__ = ["UserParseError", "UserParsers", "glob_regex"]

Result = dict[str, Any]
# Per rule, for the compiled core: (source kind, container name, kubernetes namespace, path, [(tag, label)], appname),
# each a glob as ``glob_regex`` gives it, or None.
SourceCondition = tuple[str | None, str | None, str | None, str | None, list[tuple[str, str]], str | None]


def glob_regex(pattern: str) -> str:
    """``fnmatch.fnmatchcase``'s regex for ``pattern``, anchored at both ends, in a syntax the core's regex engine
    (fancy-regex, over the regex crate) reads the same: ``translate``'s end anchor (``\\Z``, which fancy-regex reads
    as "before trailing newlines") as ``\\z``, and a ``[`` inside a set escaped (the regex crate reads it as a nested
    class or a POSIX class, Python as the character)."""
    body = fnmatch.translate(pattern)
    if not body.endswith(("\\Z", "\\z")):
        raise ValueError(f"unexpected fnmatch translation of {pattern!r}: {body!r}")
    out: list[str] = []
    i, n, in_set = 0, len(body) - 2, False
    while i < n:
        c = body[i]
        if c == "\\":
            out.append(body[i:i + 2])
            i += 2
            continue
        if not in_set and c == "[":
            # A set as translate writes it: "[", maybe "^", maybe "]" as its first character, then up to "]".
            j = i + 1 + (body[i + 1] == "^")
            j += body[j] == "]"
            out.append(body[i:j])
            i, in_set = j, True
            continue
        if in_set and c == "]":
            in_set = False
        out.append("\\[" if in_set and c == "[" else c)
        i += 1
    return "^" + "".join(out) + "\\z"


def _glob(pattern: str | None) -> str | None:
    return None if pattern is None else glob_regex(pattern)


class UserParseError(Exception):
    """A user function raised: the entry is dead-lettered with this as the reason."""


class _Rule:
    def __init__(self, rule: ParserRule) -> None:
        self.rule = rule
        self.when = rule.when
        self.regex = re.compile(rule.regex) if rule.regex else None
        for group in self.regex.groupindex if self.regex else ():
            path = group.replace("__", ".")
            if path.split(".", 1)[0] in SCOPE_ROOTS:
                raise ConfigError(f"processor.parsers[{rule.name}]: the group {group} would set {path}, a scope field "
                                  "(kubernetes.*, container.*, labels.*) that only the collector and the operator's "
                                  "tags set, never a log line: rename the group")
        self.function: Callable[[str], Result | None] | None = None
        if rule.function:
            module, _, name = rule.function.partition(":")
            try:
                self.function = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError) as exc:
                raise ConfigError(f"processor.parsers[{rule.name}]: cannot load {rule.function}: {exc}") from exc
            if not callable(self.function):
                raise ConfigError(f"processor.parsers[{rule.name}]: {rule.function} is not callable")

    def applies_to_source(self, source: Source) -> bool:
        w, tags = self.when, source.tags
        if w.source_kind is not None and source.kind != w.source_kind:
            return False
        for pattern, value in ((w.container_name, tags.get("container.name")),
                               (w.kubernetes_namespace, tags.get("kubernetes.namespace")),
                               (w.path, source.path)):
            if pattern is not None and (value is None or not fnmatch.fnmatchcase(value, pattern)):
                return False
        for label, pattern in w.container_labels.items():
            value = tags.get(f"container.labels.{label.replace('.', '_')}")
            if value is None or not fnmatch.fnmatchcase(value, pattern):
                return False
        return True

    def source_condition(self) -> SourceCondition:
        w = self.when
        labels = [(f"container.labels.{label.replace('.', '_')}", glob_regex(pattern))
                  for label, pattern in w.container_labels.items()]
        return (w.source_kind, _glob(w.container_name), _glob(w.kubernetes_namespace), _glob(w.path), labels,
                _glob(w.appname))

    def apply(self, entry: Entry) -> Result | None:
        if self.when.appname is not None:
            app = entry.attrs.get("log.syslog.appname") if entry.attrs else None
            if not isinstance(app, str) or not fnmatch.fnmatchcase(app, self.when.appname):
                return None
        if self.regex is not None:
            m = self.regex.search(entry.message)
            return None if m is None else {k.replace("__", "."): v for k, v in m.groupdict().items() if v is not None}
        assert self.function is not None
        try:
            out = self.function(entry.message)
        except Exception as exc:  # noqa: BLE001 - any failure of user code is reported with the entry, not fatal
            raise UserParseError(f"parser {self.rule.name} raised {type(exc).__name__}: {exc}") from exc
        if out is not None and not isinstance(out, dict):
            raise UserParseError(f"parser {self.rule.name} returned {type(out).__name__}, not a dict or None")
        return out


class UserParsers:
    def __init__(self, rules: list[ParserRule]) -> None:
        self.rules = [_Rule(r) for r in rules]
        self._by_source: dict[str, list[_Rule]] = {}

    def __bool__(self) -> bool:
        return bool(self.rules)

    def source_conditions(self) -> list[SourceCondition]:
        """Each rule's conditions as data (``logjet._core.SourceRules``), in the rules' order."""
        return [r.source_condition() for r in self.rules]

    def parse(self, source: Source, entry: Entry) -> tuple[str, int | None, str | None, Result] | None:
        """(message, time_ns, level, fields) from the first rule that matches, or None."""
        candidates = self._by_source.get(source.id)
        if candidates is None:
            if len(self._by_source) > 100_000:  # sources come and go (containers): keep the cache bounded
                self._by_source.clear()
            candidates = self._by_source[source.id] = [r for r in self.rules if r.applies_to_source(source)]
        for rule in candidates:
            out = rule.apply(entry)
            if out is None:
                continue
            fields = dict(out)
            message = fields.pop("message", entry.message)
            level = fields.pop("level", None)
            stamp = fields.pop("timestamp", None)
            time_ns = parse_time(stamp, entry.time_ns)[0] if isinstance(stamp, str) else None
            return (str(message), time_ns, normal_level(str(level)) if level is not None else None, fields)
        return None

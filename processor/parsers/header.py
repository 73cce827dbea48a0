"""A line's header recognised without a parser written for its source: time, level, pid, thread, logger, host.

The header is read token by token from the start of the line until a token that cannot be part of a header; the
rest of the line is the message. The same rules apply to every source (none names a program):

- a timestamp in any family ``stamps.py`` reads, once, wherever it stands among the header's tokens;
- a level word or abbreviation (``levels``: ``ERROR``, ``Err``, ``WRN``, ``notice``, ...), bare, bracketed or
  followed by ``:``; a word that is also common English (``LOG``, ``Note``, ``Config``) only in upper case, in
  brackets or before ``:``; a single letter only where layouts put one: glued to klog's date, first in a line or a
  bracket before ``,`` or a time (``I, [``, ``[I 261129``), or after a time or a number and before a capitalised
  name (``E AndroidRuntime:``, ``W CONTROL``); Redis's ``* # - .`` only after its ``pid:role`` token;
- numbers: ``pid#tid`` (nginx), ``pid:R`` (Redis), ``[1234]``, ``(1234)``, ``#1234``, ``pid 1234:tid 5``, bare numbers
  that are followed by more header (one before the level is a thread id, after it a pid; two in a row are pid and
  thread id); an uptime (``5.123s``) and a source location (``main.go:42``) are skipped;
- bracketed words (``[main]``, ``[pool-2-thread-1]``) as the thread when more header follows, in a run of brackets,
  or after a logger; in a header made only of brackets, the word after the level is the logger (``[gc]``);
- a logger: a dotted, ``::`` or ``/`` name before ``: ``, `` - ``, ``|`` or a thread bracket, a Java class name, a
  plain name before ``: `` where the header marks a name column (a padded or one-letter level, a ``--`` separator,
  a ``:``-delimited header), ``name.LEVEL:`` and ``LEVEL/name``;
- separators ``-``, ``--``, ``---``, ``|``; after the level, `` - `` and ``: `` end the header;
- after a time with its zone, syslog's ``host program[pid]: ``.

What this module must never do: raise on content, or read past the first 128 characters for a header token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from processor.parsers.stamps import find_stamp, read_stamp

__all__ = ["Header", "LEVEL_WORDS", "may_have_header", "recognise"]

HEAD_LIMIT = 128

# Level words and the level each normalises to (tests/data/layouts/levels.toml lists where each comes from).
LEVEL_WORDS = {
    "trace": "trace", "trce": "trace", "silly": "trace", "trc": "trace", "trac": "trace", "blat": "trace",
    "verbose": "trace", "vrb": "trace", "finest": "trace", "finer": "debug", "fine": "debug", "debug": "debug",
    "dbg": "debug", "dbug": "debug", "debg": "debug", "info": "info", "inf": "info", "information": "info",
    "informational": "info", "log": "info", "note": "info", "system": "info", "config": "info", "notice": "notice",
    "deprecated": "notice", "warn": "warn", "warning": "warn", "wrn": "warn", "error": "error", "err": "error",
    "fail": "error", "erro": "error", "severe": "error", "parse error": "error", "critical": "critical",
    "crit": "critical", "dpanic": "critical", "alert": "alert", "emerg": "emergency", "emergency": "emergency",
    "panic": "emergency", "fatal": "fatal", "ftl": "fatal", "fatal error": "fatal",
}
# Words that are also ordinary English at a sentence's start: a level only when written like one.
_WEAK = frozenset(("log", "note", "system", "config", "fail", "panic", "alert", "deprecated", "silly", "blat",
                   "verbose", "fine", "finer", "finest", "trac"))
_LETTERS = {"V": "trace", "D": "debug", "I": "info", "W": "warn", "E": "error", "F": "fatal", "A": "fatal"}
_SYMBOLS = {"*": "notice", "#": "warn", "-": "debug", ".": "debug"}

_WORD = re.compile(r"(?:([\w-]+)\.)?(Fatal error|Parse error|[A-Za-z]+|D[1-5])(?=[\s:\]|,/)>\[]|$)")
_BRACKET = {
    "[": re.compile(r"\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]"),
    "(": re.compile(r"\(([^()\n]*)\)"),
    "{": re.compile(r"\{([^{}\n]*)\}"),
    "<": re.compile(r"<([^<>\n]*)>"),
}
_DOTTED = r"[A-Za-z_$][\w$-]*(?:(?:\.|::|/)[\w$\[\]/-]+)+(?:@\d+|:\d+(?=\s))?"
_JAVA = r"(?:[a-z_][\w$]*\.)+[A-Z][\w$]*(?:\.[a-z_][\w$]*)?"
_NAME = r"[A-Za-z_$][\w$.:/-]*?"
_LOGGER_SEP = re.compile(r"(" + _DOTTED + r")(\s*:(?=\s)|\s+-\s|\s*\||:(?=[A-Za-z_])|(?=\s+\[))")
_JAVA_CLASS = re.compile(r"(" + _JAVA + r")(?=\s)(?:[ \t]+[a-z_]\w*\n)?")
_NAME_COLON = re.compile(r"(" + _NAME + r")(\s*:)(?=\s|$)")
_GLUED_NAME = re.compile(r"([^\s:]+):(?=\S|\s)")
_DOTNET_LOGGER = re.compile(r"(" + _DOTTED + r")\[\d+\](?=\s*\n)")
_COMPONENT = re.compile(r"([A-Z][A-Z_]+)(?=\s+\[)")
_NUMBER = re.compile(r"(\d{1,10})(?:#(\d{1,10})|:([A-Z])(?=\s))?(?=[\s:\]]|$)")
_HASH_PID = re.compile(r"#(\d{1,10})(?=[\s\]]|$)")
_UPTIME = re.compile(r"\d+\.\d+s?(?=[\s:\]]|$)")
_SOURCE = re.compile(r"[\w./-]+\.(?:java|go|py|cc|cpp|cxx|c|h|hpp|rs|rb|js|ts|cs|scala|kt|php|ex|exs|erl|swift|m)"
                     r":\d+(?=[\]:\s,)-]|$)")
_INNER_SOURCE = re.compile(r"[\w./-]+:\d+(?=\s*$)")
_SEPARATOR = re.compile(r"(-{1,3}|\||—)(?=\s|$)|\|")
_SYSLOG_HEAD = re.compile(r"([\w.-]+) ([^\s:\[\]]+?)(?:\[(\d{1,10})\])?: ")
_PID_TID = re.compile(r"pid (\d{1,10})(?::tid (\d{1,20}))?")
_ERLANG_PID = re.compile(r"\d+\.\d+\.\d+")
_PINO = re.compile(r"(?:([\w.-]+)/)?(\d{1,10})")
_MODULE_LEVEL = re.compile(r"([\w.-]+):([A-Za-z]+)")
_TRAILING_NAME = re.compile(r"[\w$.:-]+\s*$")
_PREFIXED_LEVEL = re.compile(r"[A-Z]{2,6} (Fatal error|Parse error|[A-Za-z]+)(?=:)")
_BARE_LOGGER_SEP = re.compile(r"([\w$.-]+)\s+-\s")
_TAB_NAME = re.compile(r"([\w$.:/-]+)\t(?=[\w./-]+:\d+\t)")
_THREAD_SUFFIX = re.compile(r":[\w$]+@\d+$")  # log4j's %t:%C{1}@%L
_HEADERISH = re.compile(
    r"[ \t]*(?:\[|\{[\w./-]+:\d+\}|-{1,3}\s|\||" + _DOTTED + r"(?:\s*:\s|\s+-\s|\s*\|)|" + _JAVA
    + r"\s|\d+\s+(?:\d|\[|[A-Z]\s)"
    r"|[\w./-]+\.[a-z]{1,5}:\d+[\]:\s])"
)


@dataclass(slots=True)
class Header:
    message: str
    time_ns: int | None = None
    level: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _State:
    time_ns: int | None = None
    zoned: bool = False
    level: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    last: str = ""  # the kind of the last token read
    tokens: int = 0
    level_pad: bool = False  # the level is padded to a column: a name column follows
    letter_level: bool = False
    glued: bool = False  # a ':'-delimited header (LEVEL:name:...)
    role: bool = False  # Redis's pid:role token was read
    only_brackets: bool = True
    bracket_end: int = -10

    def copy(self) -> _State:
        c = _State(**{k: getattr(self, k) for k in self.__slots__})  # type: ignore[attr-defined]
        c.fields = dict(self.fields)
        return c


def _level_word(word: str, text: str, start: int, end: int, bracketed: bool) -> str | None:
    low = word.lower()
    level = LEVEL_WORDS.get(low)
    if level is None:
        return None
    if low in _WEAK and not (word.isupper() or bracketed or text[end:end + 1] == ":"):
        return None
    return level


def _skip(text: str, pos: int, stop: int) -> int:
    while pos < stop and text[pos] in " \t":
        pos += 1
    return pos


class _Scanner:
    def __init__(self, text: str, now_ns: int) -> None:
        self.text = text
        self.now_ns = now_ns

    def headerish(self, pos: int, st: _State, stop: int) -> bool:
        """Whether more header starts at ``pos`` (a lookahead that reads nothing into ``st``)."""
        text = self.text
        q = _skip(text, pos, stop)
        if q >= stop:
            return True
        if _HEADERISH.match(text, q, stop):
            return True
        if st.time_ns is None and read_stamp(text, q, self.now_ns) is not None:
            return True
        m = _WORD.match(text, q, stop)
        return bool(m and m.group(1) is None and len(m.group(2)) > 1
                    and _level_word(m.group(2), text, q, m.end(), False) is not None)

    def scan(self, st: _State, pos: int, stop: int, inner: bool) -> tuple[int, bool]:
        """Read header tokens from ``pos``; (where the header ends, whether a token said it ends there)."""
        text = self.text
        while True:
            q = _skip(text, pos, stop)
            if q >= stop or q >= HEAD_LIMIT:
                return q, False
            step = self.step(st, q, stop, inner)
            if step is None:
                return pos, False
            pos, final = step
            st.tokens += 1
            if final:
                return pos, True

    def step(self, st: _State, q: int, stop: int, inner: bool) -> tuple[int, bool] | None:  # noqa: C901
        text = self.text
        c = text[q]
        # A time, once.
        if st.time_ns is None:
            stamp = read_stamp(text, q, self.now_ns)
            if stamp is not None and stamp.end <= stop:
                st.time_ns, st.zoned = stamp.ns, stamp.zoned
                if stamp.level is not None and st.level is None:
                    st.level, st.letter_level = stamp.level, True
                end = stamp.end
                if text[end:end + 1] in (":", ","):
                    end += 1
                self.note(st, "time", q)
                return end, False
        if c in _BRACKET:
            return self.bracket(st, q, stop, inner)
        # Syslog's host and program after a zoned time (rsyslog, journald).
        if st.last == "time" and st.zoned and st.tokens == 1 and not inner:
            m = _SYSLOG_HEAD.match(text, q, stop)
            if m:
                st.fields["host.hostname"] = m.group(1)
                st.fields["process.name"] = m.group(2)
                if m.group(3):
                    st.fields["process.pid"] = int(m.group(3))
                return m.end(), True
        if c.isdigit():
            return self.number(st, q, stop)
        if c == "#":
            m = _HASH_PID.match(text, q, stop)
            if m:
                st.fields.setdefault("process.pid", int(m.group(1)))
                self.note(st, "num", q)
                return m.end(), False
        if st.role and st.level is None and c in _SYMBOLS and text[q + 1:q + 2] == " ":
            st.level = _SYMBOLS[c]
            self.note(st, "level", q)
            return q + 1, False
        if c.isalpha() or c == "_" or c == "$":
            step = self.word(st, q, stop, inner)
            if step is not None:
                return step
        m = _SEPARATOR.match(text, q, stop)
        if m:
            end = m.end()
            if st.level is not None and m.group(1) == "-" and not inner:
                return end, True
            self.note(st, "sep", q)
            return end, False
        if c == ":" and text[q + 1:q + 2] in (" ", "\t", ""):
            return q + 1, True
        return None

    def note(self, st: _State, kind: str, q: int) -> None:
        st.last = kind
        if kind != "bracket":
            st.only_brackets = False

    def number(self, st: _State, q: int, stop: int) -> tuple[int, bool] | None:
        text = self.text
        m = _UPTIME.match(text, q, stop)
        if m:
            end = m.end() + (1 if text[m.end():m.end() + 1] == ":" else 0)
            if text[m.end():m.end() + 1] == ":" or m.end() == stop:
                self.note(st, "uptime", q)
                return end, False
        m = _SOURCE.match(text, q, stop)
        if m:
            return self.source(st, q, m.end(), stop)
        m = _NUMBER.match(text, q, stop)
        if m is None:
            return None
        n, tid, role = m.groups()
        end = m.end()
        if tid is not None:  # pid#tid
            st.fields["process.pid"] = int(n)
            st.fields["process.thread.id"] = int(tid)
            self.note(st, "num", q)
            if text[end:end + 1] == ":":
                return end + 1, True
            return end, False
        if role is not None:  # pid:role
            st.fields["process.pid"] = int(n)
            st.role = True
            self.note(st, "num", q)
            return end, False
        if end == stop:  # alone in a bracket
            pass
        elif not self.headerish(end, st, stop) and not self.level_follows(end, stop):
            return None
        if st.last == "num" and "process.thread.id" in st.fields and "process.pid" not in st.fields:
            st.fields["process.pid"] = st.fields.pop("process.thread.id")
            st.fields["process.thread.id"] = int(n)
        elif st.level is None and st.last != "num":
            st.fields["process.thread.id"] = int(n)
        elif "process.pid" not in st.fields:
            st.fields["process.pid"] = int(n)
        else:
            st.fields["process.thread.id"] = int(n)
        self.note(st, "num", q)
        return end, False

    def level_follows(self, pos: int, stop: int) -> bool:
        text = self.text
        q = _skip(text, pos, stop)
        m = _WORD.match(text, q, stop)
        if m is None or m.group(1) is not None:
            return False
        w = m.group(2)
        if len(w) == 1:
            return w in _LETTERS and text[m.end():m.end() + 1] == " " and text[m.end() + 1:m.end() + 2].isupper()
        return _level_word(w, text, q, m.end(), False) is not None

    def source(self, st: _State, q: int, end: int, stop: int) -> tuple[int, bool]:
        text = self.text
        self.note(st, "source", q)
        if text[end:end + 1] == "]":
            return end + 1, True
        if text[end:end + 1] == ":":
            return end + 1, True
        return end, False

    def word(self, st: _State, q: int, stop: int, inner: bool) -> tuple[int, bool] | None:  # noqa: C901
        text = self.text
        if st.tokens:
            m = _SOURCE.match(text, q, stop)
            if m:
                return self.source(st, q, m.end(), stop)
            if st.last in ("time", "bracket") and st.level is None:  # "PHP Warning:": a program, then the level
                m = _PREFIXED_LEVEL.match(text, q, stop)
                if m and _level_word(m.group(1), text, m.start(1), m.end(1), False):
                    q = m.start(1)
        m = _WORD.match(text, q, stop)
        if m is not None:
            prefix, w = m.group(1), m.group(2)
            end = m.end()
            level = self.level_at(st, q, w, end, stop, inner)
            if level is not None and prefix is not None and text[end:end + 1] != ":":
                level = None  # name.LEVEL only before ':' (Monolog)
            if level is not None and (st.level is None or (level == st.level and self.headerish(end, st, stop))):
                st.level = level
                st.letter_level = len(w) <= 2
                if prefix is not None:
                    st.fields["log.logger"] = prefix
                self.note(st, "level", q)
                after = text[end:end + 1]
                if after == "/":
                    n = re.match(r"/([\w.-]+)", text[end:stop])
                    if n:
                        st.fields["process.name"] = n.group(1)
                        return end + n.end(), False
                if after == ",":
                    return end + 1, False
                if after == ":":
                    if text[end + 1:end + 2] in (" ", "\t", "\n", "") and not inner:
                        d = _DOTNET_LOGGER.match(text, _skip(text, end + 1, stop), stop)
                        if d:
                            st.fields["log.logger"] = d.group(1)
                            return d.end(), True
                        return end + 1, True
                    st.glued = True
                    return end + 1, False
                st.level_pad = text[end:end + 2] in ("  ", " \t") or text[end:end + 1] == "\t"
                return end, False
        if st.level is None and st.time_ns is None and not st.fields:
            return None  # a logger or a thread starts no header
        # Loggers.
        m = _DOTNET_LOGGER.match(text, q, stop)
        if m and st.last == "level":
            st.fields["log.logger"] = m.group(1)
            return m.end(), True
        m = _LOGGER_SEP.match(text, q, stop)
        if m and "log.logger" not in st.fields:
            st.fields["log.logger"] = m.group(1)
            sep = m.group(2).strip()
            self.note(st, "logger", q)
            end = m.end()
            if sep == ":":
                if m.group(2) == ":":  # glued: LEVEL:logger:thread: (Python's basicConfig, Jetty)
                    st.glued = True
                    return end, False
                return end, True
            if sep == "-":
                return end, st.level is not None
            return end, False
        if st.last == "sep" and "log.logger" not in st.fields:
            m = _BARE_LOGGER_SEP.match(text, q, stop)
            if m:
                st.fields["log.logger"] = m.group(1)
                self.note(st, "logger", q)
                return m.end(), st.level is not None
        if st.level_pad and st.last == "level" and "log.logger" not in st.fields:
            m = _TAB_NAME.match(text, q, stop)
            if m:
                st.fields["log.logger"] = m.group(1)
                self.note(st, "logger", q)
                return m.end(), False
        if st.glued and st.last in ("logger", "level"):
            g = _GLUED_NAME.match(text, q, stop)
            if g and " " not in g.group(1):
                key = "log.logger" if "log.logger" not in st.fields else "process.thread.name"
                st.fields[key] = g.group(1)
                self.note(st, "logger", q)
                end = g.end()
                if text[end:end + 1] in (" ", "\t", ""):
                    return end, True
                return end, False
        if st.level is not None and "log.logger" not in st.fields:
            m = _JAVA_CLASS.match(text, q, stop)
            if m:
                st.fields["log.logger"] = m.group(1)
                self.note(st, "logger", q)
                return m.end(), False
            m = _NAME_COLON.match(text, q, stop)
            if m and (st.level_pad or st.letter_level or st.last == "sep" or "::" in m.group(1)
                      or "." in m.group(1) or "/" in m.group(1)):
                st.fields["log.logger"] = m.group(1)
                return m.end(), True
            if st.letter_level and st.last == "level":
                m = _COMPONENT.match(text, q, stop)
                if m:
                    st.fields["log.logger"] = m.group(1)
                    self.note(st, "logger", q)
                    return m.end(), False
        if "log.logger" not in st.fields and st.last == "time" and st.level is None:
            m = _JAVA_CLASS.match(text, q, stop)  # java.util.logging: time, class, method, then the level
            if m:
                st.fields["log.logger"] = m.group(1)
                self.note(st, "logger", q)
                return m.end(), False
        if inner and st.tokens:
            m = _INNER_SOURCE.match(text, q, stop)
            if m:
                self.note(st, "source", q)
                return m.end(), False
            m = _TRAILING_NAME.match(text, q, stop)
            if m and st.tokens and st.level is not None and "log.logger" not in st.fields:
                st.fields["log.logger"] = m.group(0).strip()
                self.note(st, "logger", q)
                return m.end(), False
        return None

    def level_at(self, st: _State, q: int, w: str, end: int, stop: int, inner: bool) -> str | None:
        text = self.text
        if len(w) == 1 or (w[0] == "D" and w[1:].isdigit()):
            letter = _LETTERS.get(w[0])
            if letter is None:
                return None
            after = text[end:end + 1]
            if after == ",":  # Ruby's Logger: "E, ["
                return letter if q == 0 or inner else None
            if after != " " and not (after == "" and inner):
                return None
            nxt = _skip(text, end, stop)
            if (q == 0 or st.tokens == 0) and inner and read_stamp(text, nxt, self.now_ns) is not None:
                return letter  # "[I 261129 10:04:00 ...]"
            if st.last in ("time", "num") and nxt < stop and text[nxt].isupper():
                return letter
            return None
        if w[0].isupper() and w[1:].islower() and text[end:end + 1] == " " and text[end + 1:end + 2].islower():
            return None  # a sentence's first word ("Error connecting to ..."), not a level column
        return _level_word(w, text, q, end, text[q - 1:q] == "[" and text[end:end + 1] == "]")

    def bracket(self, st: _State, q: int, stop: int, inner: bool) -> tuple[int, bool] | None:  # noqa: C901
        text = self.text
        m = _BRACKET[text[q]].match(text, q, stop)
        if m is None:
            return None
        close = m.end()
        body = m.group(1)
        run = q - st.bracket_end <= 1 and st.bracket_end > 0
        # The bracket holds header tokens only: read them.
        trial = st.copy()
        trial.last, trial.tokens, trial.only_brackets = "", 0, st.only_brackets
        if body.strip() and text[q] in "[(<" and not body.strip().isdigit():
            end, _ = self.scan(trial, q + 1, close - 1, True)
            if _skip(text, end, close - 1) >= close - 1 and trial.tokens:
                was_only, had_level = st.only_brackets, st.level is not None
                for k in _State.__slots__:  # type: ignore[attr-defined]
                    setattr(st, k, getattr(trial, k))
                st.only_brackets = was_only
                if not had_level and st.level is not None:
                    st.level_pad = text[close:close + 2] in ("  ", " \t")
                st.bracket_end = close
                self.note(st, "bracket", q)
                return close, False
        content = body.strip()
        opener = text[q]
        if opener == "<":
            if _ERLANG_PID.fullmatch(content):
                st.fields["process.thread.name"] = text[q:close]
                return self.took(st, q, close)
            return None
        if opener == "{":
            if _INNER_SOURCE.fullmatch(content) or run:
                return self.took(st, q, close)
            return None
        if opener == "(":
            p = _PINO.fullmatch(content)
            if p and (st.level is not None or text[close:close + 1] == ":"):
                if p.group(1):
                    st.fields["log.logger"] = p.group(1)
                st.fields.setdefault("process.pid", int(p.group(2)))
                end = close
                if text[end:end + 1] == ":":
                    return end + 1, True
                return self.took(st, q, end)
            return None
        if content.isdigit() and len(content) <= 10:
            if st.last == "level" and text[q - 1:q].isalpha():  # logrus's LEVEL[0012]: seconds since start
                return self.took(st, q, close)
            if "process.pid" in st.fields:
                st.fields["process.thread.id"] = int(content)
            else:
                st.fields["process.pid"] = int(content)
            return self.took(st, q, close)
        p = _PID_TID.fullmatch(content)
        if p:
            st.fields["process.pid"] = int(p.group(1))
            if p.group(2):
                st.fields["process.thread.id"] = int(p.group(2))
            return self.took(st, q, close)
        p = _MODULE_LEVEL.fullmatch(content)
        if p and st.level is None:
            level = LEVEL_WORDS.get(p.group(2).lower())
            if level is not None:
                st.level = level
                st.fields["log.logger"] = p.group(1)
                return self.took(st, q, close)
        if not content or len(content) > 96:
            return None
        if _SOURCE.fullmatch(content):
            return self.took(st, q, close)
        simple = " " not in content
        if not (run or (simple and (st.last == "logger" or self.headerish(close, st, stop)))):
            return None
        if simple and st.only_brackets and st.level is not None and "log.logger" not in st.fields:
            st.fields["log.logger"] = content
        elif simple:
            st.fields["process.thread.name"] = _THREAD_SUFFIX.sub("", content)
        return self.took(st, q, close)

    def took(self, st: _State, q: int, close: int) -> tuple[int, bool]:
        st.bracket_end = close
        self.note(st, "bracket", q)
        return close, False


# Which lines may hold a header, decided from their first characters alone, the same way by the compiled core
# (native/src/parsers/header.rs), which decides the other lines itself. A header starts with a digit, a bracket,
# a '#', '-' or '|', a month or weekday name or klog's letter and digits, a level word (after an optional "name."),
# or a non-ASCII name; a header without a digit holds a level word.
_SCOPE = HEAD_LIMIT + 32
_OPENERS = "[(<#-|\u2014"
_AFTER_DIGITS = "-/.:#]|,)_"
_STAMP_WORDS = frozenset(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))


def _run_at(head: str, i: int) -> tuple[str, str]:
    """The run of ASCII letters at ``i`` and the character after it."""
    j = i
    while j < len(head) and head[j].isascii() and head[j].isalpha():
        j += 1
    return head[i:j], head[j:j + 1]


def _first_level(run: str, after: str) -> bool:
    """Whether the first word of a line can be its level, as ``_Scanner.level_at`` reads a first token."""
    if len(run) == 1:
        return (run in _LETTERS and after == ",") or (run == "D" and after in ("1", "2", "3", "4", "5"))
    low = run.lower()
    return low in LEVEL_WORDS and (low not in _WEAK or run.isupper() or after == ":")


def _any_level(head: str) -> bool:
    i = 0
    while i < len(head):
        if head[i].isascii() and head[i].isalpha():
            run, _ = _run_at(head, i)
            low = run.lower()
            if run in _LETTERS or low in LEVEL_WORDS and (low not in _WEAK or run.isupper() or _closed(head,
                                                                                                       i + len(run))):
                return True
            i += len(run)
        else:
            i += 1
    return False


def _closed(head: str, j: int) -> bool:
    while j < len(head) and head[j].isspace():
        j += 1
    return head[j:j + 1] in (":", "]")


def may_have_header(line: str) -> bool:
    """False for JSON (or broken JSON: the JSON reader's, not a header) and for lines whose start no header has."""
    if line.startswith("{"):
        return False
    head = line[:_SCOPE]
    q = 0
    while q < len(head) and head[q] in " \t":
        q += 1
    if q == len(head):
        return False
    c = head[q]
    if c.isdecimal():  # a time or a number, unless glued to what no header token is (a JSON brace, a quote)
        j = q
        while j < len(head) and head[j].isdecimal():
            j += 1
        after = head[j:j + 1]
        return not after or after.isspace() or after in _AFTER_DIGITS or (after.isascii() and after.isalpha())
    if c in _OPENERS:
        return any(ch.isdecimal() for ch in head) or _any_level(head)
    if c.isascii() and c.isupper() and (head[q:q + 3] in _STAMP_WORDS
                                        or (c in "IWEFD" and head[q + 1:q + 2].isdecimal())):
        return True
    if not (c.isascii() and (c.isalpha() or c in "_$")) and c.isascii():
        return False
    if c.isascii() and c.isalpha() and _first_level(*_run_at(head, q)):
        return True
    j = q
    while j < len(head) and head[j] != "." and not head[j].isspace():
        j += 1
    if j > q and head[j:j + 1] == ".":
        run, after = _run_at(head, j + 1)
        return after == ":" and _first_level(run, after)
    return False


def recognise(line: str, now_ns: int) -> Header | None:
    """The header's time, level and fields and the message after it; None when the line starts with no header."""
    scanner = _Scanner(line, now_ns)
    st = _State()
    stop = len(line)
    try:
        end, _ = scanner.scan(st, 0, stop, False)
    except (ValueError, OverflowError, RecursionError):
        return None
    if st.time_ns is None and st.level is None:
        stamp = find_stamp(line, now_ns)
        if stamp is None:
            return None
        return Header(line, stamp.ns)
    message = line[end:].lstrip(" \t\r\n")
    return Header(message or line, st.time_ns, st.level, st.fields)

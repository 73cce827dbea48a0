//! A line's header recognised without a parser written for its source: `processor/parsers/header.py`, step for
//! step (`recognise`, the scanner, `may_have_header`), its patterns kept verbatim and read with Python's semantics
//! (`pyre`), positions counted in code points as Python counts them (`stamps::Line`). The timestamps are
//! `stamps.rs`'s. What the port leaves to the reference: numbers past 64 bits (`Delegate::BigInt`), the regex
//! engine's backtracking limit (`RegexLimit`), and a line whose time the known layouts read when the recogniser then
//! gives no header (`Delegate::Header`).

use super::stamps::{find_stamp, is_alpha, is_digit, is_lower, is_upper, read_stamp, strip, Line, Match, Stamp, Stop, R};
use super::{Fields, Value};
use crate::pyre::{compile, digit, int, is_space, PyRegex};
use crate::Delegate;
use std::sync::LazyLock;

/// `_SCOPE` in header.py: the first characters a header's start is looked for in.
const SCOPE: usize = 160;

/// `LEVEL_WORDS` in header.py (one word each), the words that are also English (`_WEAK`), the one-letter levels.
const LEVEL_WORDS: [&str; 42] = [
    "trace", "trce", "silly", "trc", "trac", "blat", "verbose", "vrb", "finest", "finer", "fine", "debug", "dbg",
    "dbug", "debg", "info", "inf", "information", "informational", "log", "note", "system", "config", "notice",
    "deprecated", "warn", "warning", "wrn", "error", "err", "fail", "erro", "severe", "critical", "crit", "dpanic",
    "alert", "emerg", "emergency", "panic", "fatal", "ftl",
];
const WEAK: [&str; 15] = [
    "alert", "blat", "config", "deprecated", "fail", "fine", "finer", "finest", "log", "note", "panic", "silly",
    "system", "trac", "verbose",
];
const LETTERS: [&str; 7] = ["V", "D", "I", "W", "E", "F", "A"];
const STAMP_WORDS: [&str; 19] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const OPENERS: [char; 7] = ['[', '(', '<', '#', '-', '|', '\u{2014}'];

fn decimal(c: char) -> bool {
    digit(c).is_some()
}

/// The run of ASCII letters at `i` and the character after it.
fn run_at(head: &[char], i: usize) -> (String, Option<char>) {
    let mut j = i;
    while j < head.len() && head[j].is_ascii_alphabetic() {
        j += 1;
    }
    (head[i..j].iter().collect(), head.get(j).copied())
}

fn upper(run: &str) -> bool {
    run.bytes().all(|b| b.is_ascii_uppercase())
}

fn level_word(run: &str, weak_ok: bool) -> bool {
    let low = run.to_ascii_lowercase();
    LEVEL_WORDS.contains(&low.as_str()) && (!WEAK.contains(&low.as_str()) || upper(run) || weak_ok)
}

/// `_first_level`.
fn first_level(run: &str, after: Option<char>) -> bool {
    if run.chars().count() == 1 {
        return (LETTERS.contains(&run) && after == Some(','))
            || (run == "D" && after.is_some_and(|c| ('1'..='5').contains(&c)));
    }
    level_word(run, after == Some(':'))
}

/// `_closed`.
fn closed(head: &[char], mut j: usize) -> bool {
    while j < head.len() && is_space(head[j]) {
        j += 1;
    }
    matches!(head.get(j), Some(':' | ']'))
}

/// `_any_level`.
fn any_level(head: &[char]) -> bool {
    let mut i = 0;
    while i < head.len() {
        if head[i].is_ascii_alphabetic() {
            let (run, _) = run_at(head, i);
            let n = run.len();
            if LETTERS.contains(&run.as_str()) || level_word(&run, closed(head, i + n)) {
                return true;
            }
            i += n;
        } else {
            i += 1;
        }
    }
    false
}

/// False for JSON (or broken JSON) and for lines whose start no header has: `may_have_header` in header.py.
pub fn may_have_header(line: &str) -> bool {
    if line.starts_with('{') {
        return false;
    }
    let head: Vec<char> = line.chars().take(SCOPE).collect();
    let mut q = 0;
    while q < head.len() && (head[q] == ' ' || head[q] == '\t') {
        q += 1;
    }
    let Some(&c) = head.get(q) else {
        return false;
    };
    if decimal(c) {
        // A time or a number, unless glued to what no header token is (a JSON brace, a quote).
        let mut j = q;
        while j < head.len() && decimal(head[j]) {
            j += 1;
        }
        return match head.get(j) {
            None => true,
            Some(&a) => is_space(a) || "-/.:#]|,)_".contains(a) || a.is_ascii_alphabetic(),
        };
    }
    if OPENERS.contains(&c) {
        return head.iter().any(|&ch| decimal(ch)) || any_level(&head);
    }
    if c.is_ascii_uppercase() {
        let word: String = head[q..(q + 3).min(head.len())].iter().collect();
        if STAMP_WORDS.contains(&word.as_str()) || ("IWEFD".contains(c) && head.get(q + 1).is_some_and(|&d| decimal(d))) {
            return true;
        }
    }
    if c.is_ascii() && !(c.is_ascii_alphabetic() || c == '_' || c == '$') {
        return false;
    }
    if c.is_ascii_alphabetic() {
        let (run, after) = run_at(&head, q);
        if first_level(&run, after) {
            return true;
        }
    }
    let mut j = q;
    while j < head.len() && head[j] != '.' && !is_space(head[j]) {
        j += 1;
    }
    if j > q && head.get(j) == Some(&'.') {
        let (run, after) = run_at(&head, j + 1);
        return after == Some(':') && first_level(&run, after);
    }
    false
}

// The recogniser: `recognise` and `_Scanner` in header.py, step for step. Positions are code points (`Line`), as
// in the reference; its patterns are kept verbatim.

/// `HEAD_LIMIT`: no header token starts past this many characters.
const HEAD_LIMIT: usize = 128;

/// `LEVEL_WORDS`: a level word (lower case) and the level it normalises to.
fn level_of(low: &str) -> Option<&'static str> {
    Some(match low {
        "trace" | "trce" | "silly" | "trc" | "trac" | "blat" | "verbose" | "vrb" | "finest" => "trace",
        "finer" | "fine" | "debug" | "dbg" | "dbug" | "debg" => "debug",
        "info" | "inf" | "information" | "informational" | "log" | "note" | "system" | "config" => "info",
        "notice" | "deprecated" => "notice",
        "warn" | "warning" | "wrn" => "warn",
        "error" | "err" | "fail" | "erro" | "severe" | "parse error" => "error",
        "critical" | "crit" | "dpanic" => "critical",
        "alert" => "alert",
        "emerg" | "emergency" | "panic" => "emergency",
        "fatal" | "ftl" | "fatal error" => "fatal",
        _ => return None,
    })
}

/// `_LETTERS`.
fn letter_level(c: char) -> Option<&'static str> {
    Some(match c {
        'V' => "trace",
        'D' => "debug",
        'I' => "info",
        'W' => "warn",
        'E' => "error",
        'F' | 'A' => "fatal",
        _ => return None,
    })
}

/// `_SYMBOLS`: Redis's role-line levels.
fn symbol_level(c: char) -> Option<&'static str> {
    Some(match c {
        '*' => "notice",
        '#' => "warn",
        '-' | '.' => "debug",
        _ => return None,
    })
}

/// `str.isupper()` and `str.islower()` of an ASCII word: a cased letter, none of the other case.
fn ascii_upper(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_uppercase()) && !s.bytes().any(|b| b.is_ascii_lowercase())
}

fn ascii_lower(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_lowercase()) && !s.bytes().any(|b| b.is_ascii_uppercase())
}

const DOTTED: &str = r"[A-Za-z_$][\w$-]*(?:(?:\.|::|/)[\w$\[\]/-]+)+(?:@\d+|:\d+(?=\s))?";
const JAVA: &str = r"(?:[a-z_][\w$]*\.)+[A-Z][\w$]*(?:\.[a-z_][\w$]*)?";
const NAME: &str = r"[A-Za-z_$][\w$.:/-]*?";
const SOURCE: &str = r"[\w./-]+\.(?:java|go|py|cc|cpp|cxx|c|h|hpp|rs|rb|js|ts|cs|scala|kt|php|ex|exs|erl|swift|m):\d+(?=[\]:\s,)-]|$)";
const INNER_SOURCE: &str = r"[\w./-]+:\d+(?=\s*$)";

struct Rx {
    word: PyRegex,
    square: PyRegex,
    round: PyRegex,
    curly: PyRegex,
    angle: PyRegex,
    logger_sep: PyRegex,
    java_class: PyRegex,
    name_colon: PyRegex,
    glued_name: PyRegex,
    dotnet_logger: PyRegex,
    component: PyRegex,
    number: PyRegex,
    hash_pid: PyRegex,
    uptime: PyRegex,
    source: PyRegex,
    source_full: PyRegex,
    inner_source: PyRegex,
    inner_source_full: PyRegex,
    separator: PyRegex,
    syslog_head: PyRegex,
    pid_tid: PyRegex,
    erlang_pid: PyRegex,
    pino: PyRegex,
    module_level: PyRegex,
    trailing_name: PyRegex,
    prefixed_level: PyRegex,
    bare_logger_sep: PyRegex,
    tab_name: PyRegex,
    thread_suffix: PyRegex,
    process_name: PyRegex,
    headerish: PyRegex,
}

static RX: LazyLock<Rx> = LazyLock::new(|| Rx {
    word: compile(r"(?:([\w-]+)\.)?(Fatal error|Parse error|[A-Za-z]+|D[1-5])(?=[\s:\]|,/)>\[]|$)", false),
    square: compile(r"\[((?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]", false),
    round: compile(r"\(([^()\n]*)\)", false),
    curly: compile(r"\{([^{}\n]*)\}", false),
    angle: compile(r"<([^<>\n]*)>", false),
    logger_sep: compile(&format!(r"({DOTTED})(\s*:(?=\s)|\s+-\s|\s*\||:(?=[A-Za-z_])|(?=\s+\[))"), false),
    java_class: compile(&format!(r"({JAVA})(?=\s)(?:[ \t]+[a-z_]\w*\n)?"), false),
    name_colon: compile(&format!(r"({NAME})(\s*:)(?=\s|$)"), false),
    glued_name: compile(r"([^\s:]+):(?=\S|\s)", false),
    dotnet_logger: compile(&format!(r"({DOTTED})\[\d+\](?=\s*\n)"), false),
    component: compile(r"([A-Z][A-Z_]+)(?=\s+\[)", false),
    number: compile(r"(\d{1,10})(?:#(\d{1,10})|:([A-Z])(?=\s))?(?=[\s:\]]|$)", false),
    hash_pid: compile(r"#(\d{1,10})(?=[\s\]]|$)", false),
    uptime: compile(r"\d+\.\d+s?(?=[\s:\]]|$)", false),
    source: compile(SOURCE, false),
    source_full: compile(SOURCE, true),
    inner_source: compile(INNER_SOURCE, false),
    inner_source_full: compile(INNER_SOURCE, true),
    separator: compile(r"(-{1,3}|\||—)(?=\s|$)|\|", false),
    syslog_head: compile(r"([\w.-]+) ([^\s:\[\]]+?)(?:\[(\d{1,10})\])?: ", false),
    pid_tid: compile(r"pid (\d{1,10})(?::tid (\d{1,20}))?", true),
    erlang_pid: compile(r"\d+\.\d+\.\d+", true),
    pino: compile(r"(?:([\w.-]+)/)?(\d{1,10})", true),
    module_level: compile(r"([\w.-]+):([A-Za-z]+)", true),
    trailing_name: compile(r"[\w$.:-]+\s*$", false),
    prefixed_level: compile(r"[A-Z]{2,6} (Fatal error|Parse error|[A-Za-z]+)(?=:)", false),
    bare_logger_sep: compile(r"([\w$.-]+)\s+-\s", false),
    tab_name: compile(r"([\w$.:/-]+)\t(?=[\w./-]+:\d+\t)", false),
    // log4j's %t:%C{1}@%L; searched, not anchored (`re.sub`).
    thread_suffix: PyRegex::build(|ascii| crate::pyre::translate(r":[\w$]+@\d+$", ascii)),
    process_name: compile(r"/([\w.-]+)", false),
    headerish: compile(
        &format!(
            r"[ \t]*(?:\[|\{{[\w./-]+:\d+\}}|-{{1,3}}\s|\||{DOTTED}(?:\s*:\s|\s+-\s|\s*\|)|{JAVA}\s|\d+\s+(?:\d|\[|[A-Z]\s)|[\w./-]+\.[a-z]{{1,5}}:\d+[\]:\s])"
        ),
        false,
    ),
});

/// A field's value: the recogniser writes numbers and names.
#[derive(Clone, Debug)]
enum Val {
    Int(i64),
    Str(String),
}

/// The header's fields in the reference's dict order.
#[derive(Clone, Debug, Default)]
struct Found(Vec<(&'static str, Val)>);

impl Found {
    fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| *k == key)
    }

    fn set(&mut self, key: &'static str, v: Val) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = v,
            None => self.0.push((key, v)),
        }
    }

    fn set_default(&mut self, key: &'static str, v: Val) {
        if !self.has(key) {
            self.0.push((key, v));
        }
    }

    fn pop(&mut self, key: &str) -> Option<Val> {
        let i = self.0.iter().position(|(k, _)| *k == key)?;
        Some(self.0.remove(i).1)
    }
}

/// `_State`.
#[derive(Clone, Debug)]
struct St {
    time_ns: Option<i64>,
    zoned: bool,
    level: Option<&'static str>,
    fields: Found,
    /// The kind of the last token read.
    last: &'static str,
    tokens: usize,
    /// The level is padded to a column: a name column follows.
    level_pad: bool,
    letter_level: bool,
    /// A ':'-delimited header (LEVEL:name:...).
    glued: bool,
    /// Redis's pid:role token was read.
    role: bool,
    only_brackets: bool,
    bracket_end: i64,
}

impl Default for St {
    fn default() -> Self {
        St {
            time_ns: None,
            zoned: false,
            level: None,
            fields: Found::default(),
            last: "",
            tokens: 0,
            level_pad: false,
            letter_level: false,
            glued: false,
            role: false,
            only_brackets: true,
            bracket_end: -10,
        }
    }
}

/// A token's end and whether it said the header ends there.
type Step = Option<(usize, bool)>;

/// `int()` of a run of decimal digits matched by `\d`: past 64 bits only the reference holds it.
fn py_int(s: &str) -> R<i64> {
    Ok(int(s).ok_or(Delegate::BigInt)?)
}

struct Scanner<'a, 'b> {
    t: &'b Line<'a>,
    now_ns: i64,
}

impl Scanner<'_, '_> {
    fn at(&self, i: usize) -> Option<char> {
        self.t.at(i)
    }

    fn m(&self, rx: &PyRegex, pos: usize, stop: usize) -> R<Option<Match>> {
        Ok(self.t.matches(rx, pos, stop)?)
    }

    fn g(&self, m: &Match, i: usize) -> Option<&str> {
        m.group(self.t, i)
    }

    fn skip(&self, mut pos: usize, stop: usize) -> usize {
        while pos < stop && matches!(self.at(pos), Some(' ' | '\t')) {
            pos += 1;
        }
        pos
    }

    fn stamp(&self, pos: usize) -> R<Option<Stamp>> {
        Ok(read_stamp(self.t, pos, self.now_ns)?)
    }

    /// `_level_word`.
    fn level_word(&self, word: &str, end: usize, bracketed: bool) -> Option<&'static str> {
        let low = word.to_ascii_lowercase();
        let level = level_of(&low)?;
        let weak = matches!(low.as_str(), "log" | "note" | "system" | "config" | "fail" | "panic" | "alert"
            | "deprecated" | "silly" | "blat" | "verbose" | "fine" | "finer" | "finest" | "trac");
        if weak && !(ascii_upper(word) || bracketed || self.at(end) == Some(':')) {
            return None;
        }
        Some(level)
    }

    /// Whether more header starts at `pos` (a lookahead that reads nothing into `st`).
    fn headerish(&self, pos: usize, st: &St, stop: usize) -> R<bool> {
        let q = self.skip(pos, stop);
        if q >= stop {
            return Ok(true);
        }
        if self.m(&RX.headerish, q, stop)?.is_some() {
            return Ok(true);
        }
        if st.time_ns.is_none() && self.stamp(q)?.is_some() {
            return Ok(true);
        }
        let Some(m) = self.m(&RX.word, q, stop)? else { return Ok(false) };
        let w = self.g(&m, 2).unwrap_or("");
        Ok(!m.has(1) && w.chars().count() > 1 && self.level_word(w, m.end(), false).is_some())
    }

    /// Read header tokens from `pos`: where the header ends, whether a token said it ends there.
    fn scan(&self, st: &mut St, mut pos: usize, stop: usize, inner: bool) -> R<(usize, bool)> {
        loop {
            let q = self.skip(pos, stop);
            if q >= stop || q >= HEAD_LIMIT {
                return Ok((q, false));
            }
            let Some((end, last)) = self.step(st, q, stop, inner)? else { return Ok((pos, false)) };
            pos = end;
            st.tokens += 1;
            if last {
                return Ok((pos, true));
            }
        }
    }

    fn step(&self, st: &mut St, q: usize, stop: usize, inner: bool) -> R<Step> {
        let Some(c) = self.at(q) else { return Ok(None) };
        // A time, once.
        if st.time_ns.is_none() {
            if let Some(stamp) = self.stamp(q)? {
                if stamp.end <= stop {
                    st.time_ns = Some(stamp.ns);
                    st.zoned = stamp.zoned;
                    if stamp.level.is_some() && st.level.is_none() {
                        st.level = stamp.level;
                        st.letter_level = true;
                    }
                    let mut end = stamp.end;
                    if matches!(self.at(end), Some(':' | ',')) {
                        end += 1;
                    }
                    note(st, "time");
                    return Ok(Some((end, false)));
                }
            }
        }
        if matches!(c, '[' | '(' | '{' | '<') {
            return self.bracket(st, q, stop);
        }
        // Syslog's host and program after a zoned time (rsyslog, journald).
        if st.last == "time" && st.zoned && st.tokens == 1 && !inner {
            if let Some(m) = self.m(&RX.syslog_head, q, stop)? {
                st.fields.set("host.hostname", Val::Str(self.g(&m, 1).unwrap_or("").to_owned()));
                st.fields.set("process.name", Val::Str(self.g(&m, 2).unwrap_or("").to_owned()));
                if let Some(pid) = self.g(&m, 3).filter(|s| !s.is_empty()) {
                    st.fields.set("process.pid", Val::Int(py_int(pid)?));
                }
                return Ok(Some((m.end(), true)));
            }
        }
        if is_digit(c) {
            return self.number(st, q, stop);
        }
        if c == '#' {
            if let Some(m) = self.m(&RX.hash_pid, q, stop)? {
                st.fields.set_default("process.pid", Val::Int(py_int(self.g(&m, 1).unwrap_or(""))?));
                note(st, "num");
                return Ok(Some((m.end(), false)));
            }
        }
        if st.role && st.level.is_none() && self.at(q + 1) == Some(' ') {
            if let Some(level) = symbol_level(c) {
                st.level = Some(level);
                note(st, "level");
                return Ok(Some((q + 1, false)));
            }
        }
        if is_alpha(c) || c == '_' || c == '$' {
            if let Some(step) = self.word(st, q, stop, inner)? {
                return Ok(Some(step));
            }
        }
        if let Some(m) = self.m(&RX.separator, q, stop)? {
            let end = m.end();
            if st.level.is_some() && self.g(&m, 1) == Some("-") && !inner {
                return Ok(Some((end, true)));
            }
            note(st, "sep");
            return Ok(Some((end, false)));
        }
        if c == ':' && matches!(self.at(q + 1), None | Some(' ' | '\t')) {
            return Ok(Some((q + 1, true)));
        }
        Ok(None)
    }

    fn number(&self, st: &mut St, q: usize, stop: usize) -> R<Step> {
        if let Some(m) = self.m(&RX.uptime, q, stop)? {
            let e = m.end();
            let colon = self.at(e) == Some(':');
            if colon || e == stop {
                note(st, "uptime");
                return Ok(Some((e + usize::from(colon), false)));
            }
        }
        if let Some(m) = self.m(&RX.source, q, stop)? {
            return Ok(Some(self.source(st, m.end())));
        }
        let Some(m) = self.m(&RX.number, q, stop)? else { return Ok(None) };
        let n = py_int(self.g(&m, 1).unwrap_or(""))?;
        let end = m.end();
        if let Some(tid) = self.g(&m, 2) {
            // pid#tid
            st.fields.set("process.pid", Val::Int(n));
            st.fields.set("process.thread.id", Val::Int(py_int(tid)?));
            note(st, "num");
            if self.at(end) == Some(':') {
                return Ok(Some((end + 1, true)));
            }
            return Ok(Some((end, false)));
        }
        if m.has(3) {
            // pid:role
            st.fields.set("process.pid", Val::Int(n));
            st.role = true;
            note(st, "num");
            return Ok(Some((end, false)));
        }
        // A number alone in a bracket, or one more header follows.
        if end != stop && !self.headerish(end, st, stop)? && !self.level_follows(end, stop)? {
            return Ok(None);
        }
        if st.last == "num" && st.fields.has("process.thread.id") && !st.fields.has("process.pid") {
            let tid = st.fields.pop("process.thread.id").unwrap_or(Val::Int(0));
            st.fields.set("process.pid", tid);
            st.fields.set("process.thread.id", Val::Int(n));
        } else if st.level.is_none() && st.last != "num" {
            st.fields.set("process.thread.id", Val::Int(n));
        } else if !st.fields.has("process.pid") {
            st.fields.set("process.pid", Val::Int(n));
        } else {
            st.fields.set("process.thread.id", Val::Int(n));
        }
        note(st, "num");
        Ok(Some((end, false)))
    }

    fn level_follows(&self, pos: usize, stop: usize) -> R<bool> {
        let q = self.skip(pos, stop);
        let Some(m) = self.m(&RX.word, q, stop)? else { return Ok(false) };
        if m.has(1) {
            return Ok(false);
        }
        let w = self.g(&m, 2).unwrap_or("");
        if w.chars().count() == 1 {
            let e = m.end();
            return Ok(w.chars().next().and_then(letter_level).is_some()
                && self.at(e) == Some(' ')
                && self.at(e + 1).is_some_and(is_upper));
        }
        Ok(self.level_word(w, m.end(), false).is_some())
    }

    fn source(&self, st: &mut St, end: usize) -> (usize, bool) {
        note(st, "source");
        if matches!(self.at(end), Some(']' | ':')) {
            return (end + 1, true);
        }
        (end, false)
    }

    fn word(&self, st: &mut St, mut q: usize, stop: usize, inner: bool) -> R<Step> {
        let rx = &*RX;
        if st.tokens > 0 {
            if let Some(m) = self.m(&rx.source, q, stop)? {
                return Ok(Some(self.source(st, m.end())));
            }
            if (st.last == "time" || st.last == "bracket") && st.level.is_none() {
                // "PHP Warning:": a program, then the level
                if let Some(m) = self.m(&rx.prefixed_level, q, stop)? {
                    if self.level_word(self.g(&m, 1).unwrap_or(""), m.end_of(1), false).is_some() {
                        q = m.start(1);
                    }
                }
            }
        }
        if let Some(m) = self.m(&rx.word, q, stop)? {
            let prefix = self.g(&m, 1);
            let w = self.g(&m, 2).unwrap_or("");
            let end = m.end();
            let mut level = self.level_at(st, q, w, end, stop, inner)?;
            if level.is_some() && prefix.is_some() && self.at(end) != Some(':') {
                level = None; // name.LEVEL only before ':' (Monolog)
            }
            if let Some(level) = level {
                if st.level.is_none() || (Some(level) == st.level && self.headerish(end, st, stop)?) {
                    st.level = Some(level);
                    st.letter_level = w.chars().count() <= 2;
                    if let Some(prefix) = prefix {
                        st.fields.set("log.logger", Val::Str(prefix.to_owned()));
                    }
                    note(st, "level");
                    let after = self.at(end);
                    if after == Some('/') {
                        if let Some(n) = self.m(&rx.process_name, end, stop)? {
                            st.fields.set("process.name", Val::Str(self.g(&n, 1).unwrap_or("").to_owned()));
                            return Ok(Some((n.end(), false)));
                        }
                    }
                    if after == Some(',') {
                        return Ok(Some((end + 1, false)));
                    }
                    if after == Some(':') {
                        if matches!(self.at(end + 1), None | Some(' ' | '\t' | '\n')) && !inner {
                            let d0 = self.skip(end + 1, stop);
                            if let Some(d) = self.m(&rx.dotnet_logger, d0, stop)? {
                                st.fields.set("log.logger", Val::Str(self.g(&d, 1).unwrap_or("").to_owned()));
                                return Ok(Some((d.end(), true)));
                            }
                            return Ok(Some((end + 1, true)));
                        }
                        st.glued = true;
                        return Ok(Some((end + 1, false)));
                    }
                    st.level_pad = matches!((self.at(end), self.at(end + 1)), (Some(' '), Some(' ' | '\t')))
                        || self.at(end) == Some('\t');
                    return Ok(Some((end, false)));
                }
            }
        }
        if st.level.is_none() && st.time_ns.is_none() && st.fields.0.is_empty() {
            return Ok(None); // a logger or a thread starts no header
        }
        // Loggers.
        if let Some(m) = self.m(&rx.dotnet_logger, q, stop)? {
            if st.last == "level" {
                st.fields.set("log.logger", Val::Str(self.g(&m, 1).unwrap_or("").to_owned()));
                return Ok(Some((m.end(), true)));
            }
        }
        if !st.fields.has("log.logger") {
            if let Some(m) = self.m(&rx.logger_sep, q, stop)? {
                st.fields.set("log.logger", Val::Str(self.g(&m, 1).unwrap_or("").to_owned()));
                let sep2 = self.g(&m, 2).unwrap_or("");
                let sep = strip(sep2);
                note(st, "logger");
                let end = m.end();
                if sep == ":" {
                    if sep2 == ":" {
                        // glued: LEVEL:logger:thread: (Python's basicConfig, Jetty)
                        st.glued = true;
                        return Ok(Some((end, false)));
                    }
                    return Ok(Some((end, true)));
                }
                if sep == "-" {
                    return Ok(Some((end, st.level.is_some())));
                }
                return Ok(Some((end, false)));
            }
        }
        if st.last == "sep" && !st.fields.has("log.logger") {
            if let Some(m) = self.m(&rx.bare_logger_sep, q, stop)? {
                st.fields.set("log.logger", Val::Str(self.g(&m, 1).unwrap_or("").to_owned()));
                note(st, "logger");
                return Ok(Some((m.end(), st.level.is_some())));
            }
        }
        if st.level_pad && st.last == "level" && !st.fields.has("log.logger") {
            if let Some(m) = self.m(&rx.tab_name, q, stop)? {
                st.fields.set("log.logger", Val::Str(self.g(&m, 1).unwrap_or("").to_owned()));
                note(st, "logger");
                return Ok(Some((m.end(), false)));
            }
        }
        if st.glued && (st.last == "logger" || st.last == "level") {
            if let Some(g) = self.m(&rx.glued_name, q, stop)? {
                let name = self.g(&g, 1).unwrap_or("");
                if !name.contains(' ') {
                    let key = if st.fields.has("log.logger") { "process.thread.name" } else { "log.logger" };
                    st.fields.set(key, Val::Str(name.to_owned()));
                    note(st, "logger");
                    let end = g.end();
                    if matches!(self.at(end), None | Some(' ' | '\t')) {
                        return Ok(Some((end, true)));
                    }
                    return Ok(Some((end, false)));
                }
            }
        }
        if st.level.is_some() && !st.fields.has("log.logger") {
            if let Some(m) = self.m(&rx.java_class, q, stop)? {
                st.fields.set("log.logger", Val::Str(self.g(&m, 1).unwrap_or("").to_owned()));
                note(st, "logger");
                return Ok(Some((m.end(), false)));
            }
            if let Some(m) = self.m(&rx.name_colon, q, stop)? {
                let name = self.g(&m, 1).unwrap_or("");
                if st.level_pad || st.letter_level || st.last == "sep" || name.contains("::") || name.contains('.')
                    || name.contains('/')
                {
                    st.fields.set("log.logger", Val::Str(name.to_owned()));
                    return Ok(Some((m.end(), true)));
                }
            }
            if st.letter_level && st.last == "level" {
                if let Some(m) = self.m(&rx.component, q, stop)? {
                    st.fields.set("log.logger", Val::Str(self.g(&m, 1).unwrap_or("").to_owned()));
                    note(st, "logger");
                    return Ok(Some((m.end(), false)));
                }
            }
        }
        if !st.fields.has("log.logger") && st.last == "time" && st.level.is_none() {
            // java.util.logging: time, class, method, then the level
            if let Some(m) = self.m(&rx.java_class, q, stop)? {
                st.fields.set("log.logger", Val::Str(self.g(&m, 1).unwrap_or("").to_owned()));
                note(st, "logger");
                return Ok(Some((m.end(), false)));
            }
        }
        if inner && st.tokens > 0 {
            if let Some(m) = self.m(&rx.inner_source, q, stop)? {
                note(st, "source");
                return Ok(Some((m.end(), false)));
            }
            if let Some(m) = self.m(&rx.trailing_name, q, stop)? {
                if st.level.is_some() && !st.fields.has("log.logger") {
                    st.fields.set("log.logger", Val::Str(strip(self.g(&m, 0).unwrap_or("")).to_owned()));
                    note(st, "logger");
                    return Ok(Some((m.end(), false)));
                }
            }
        }
        Ok(None)
    }

    fn level_at(&self, st: &St, q: usize, w: &str, end: usize, stop: usize, inner: bool) -> R<Option<&'static str>> {
        let first = w.chars().next().unwrap_or(' ');
        let rest = &w[first.len_utf8()..];
        if w.chars().count() == 1 || (first == 'D' && !rest.is_empty() && rest.chars().all(is_digit)) {
            let Some(letter) = letter_level(first) else { return Ok(None) };
            let after = self.at(end);
            if after == Some(',') {
                // Ruby's Logger: "E, ["
                return Ok((q == 0 || inner).then_some(letter));
            }
            if after != Some(' ') && !(after.is_none() && inner) {
                return Ok(None);
            }
            let nxt = self.skip(end, stop);
            if (q == 0 || st.tokens == 0) && inner && self.stamp(nxt)?.is_some() {
                return Ok(Some(letter)); // "[I 261129 10:04:00 ...]"
            }
            if (st.last == "time" || st.last == "num") && nxt < stop && self.at(nxt).is_some_and(is_upper) {
                return Ok(Some(letter));
            }
            return Ok(None);
        }
        if first.is_ascii_uppercase() && ascii_lower(rest) && self.at(end) == Some(' ')
            && self.at(end + 1).is_some_and(is_lower)
        {
            return Ok(None); // a sentence's first word ("Error connecting to ..."), not a level column
        }
        let bracketed = self.t.before(q) == Some('[') && self.at(end) == Some(']');
        Ok(self.level_word(w, end, bracketed))
    }

    fn bracket(&self, st: &mut St, q: usize, stop: usize) -> R<Step> {
        let rx = &*RX;
        let opener = self.at(q).unwrap_or(' ');
        let pattern = match opener {
            '[' => &rx.square,
            '(' => &rx.round,
            '{' => &rx.curly,
            _ => &rx.angle,
        };
        let Some(m) = self.m(pattern, q, stop)? else { return Ok(None) };
        let close = m.end();
        let body = self.g(&m, 1).unwrap_or("");
        let content = strip(body);
        let run = q as i64 - st.bracket_end <= 1 && st.bracket_end > 0;
        // The bracket holds header tokens only: read them.
        if !content.is_empty() && matches!(opener, '[' | '(' | '<') && !content.chars().all(is_digit) {
            let mut trial = st.clone();
            trial.last = "";
            trial.tokens = 0;
            let (end, _) = self.scan(&mut trial, q + 1, close - 1, true)?;
            if self.skip(end, close - 1) >= close - 1 && trial.tokens > 0 {
                let (was_only, had_level) = (st.only_brackets, st.level.is_some());
                *st = trial;
                st.only_brackets = was_only;
                if !had_level && st.level.is_some() {
                    st.level_pad = self.at(close) == Some(' ') && matches!(self.at(close + 1), Some(' ' | '\t'));
                }
                st.bracket_end = close as i64;
                note(st, "bracket");
                return Ok(Some((close, false)));
            }
        }
        let line = Line::new(content);
        let full = |rx: &PyRegex| -> R<Option<Match>> { Ok(line.matches(rx, 0, line.len())?) };
        if opener == '<' {
            if full(&rx.erlang_pid)?.is_some() {
                st.fields.set("process.thread.name", Val::Str(self.t.slice(q, close).to_owned()));
                return Ok(Some(took(st, close)));
            }
            return Ok(None);
        }
        if opener == '{' {
            if full(&rx.inner_source_full)?.is_some() || run {
                return Ok(Some(took(st, close)));
            }
            return Ok(None);
        }
        if opener == '(' {
            if let Some(p) = full(&rx.pino)? {
                if st.level.is_some() || self.at(close) == Some(':') {
                    if let Some(name) = p.group(&line, 1).filter(|s| !s.is_empty()) {
                        st.fields.set("log.logger", Val::Str(name.to_owned()));
                    }
                    st.fields.set_default("process.pid", Val::Int(py_int(p.group(&line, 2).unwrap_or(""))?));
                    if self.at(close) == Some(':') {
                        return Ok(Some((close + 1, true)));
                    }
                    return Ok(Some(took(st, close)));
                }
            }
            return Ok(None);
        }
        let chars = line.len();
        if !content.is_empty() && content.chars().all(is_digit) && chars <= 10 {
            if st.last == "level" && self.t.before(q).is_some_and(is_alpha) {
                return Ok(Some(took(st, close))); // logrus's LEVEL[0012]: seconds since start
            }
            // int() raises ValueError on digits that are not decimal (superscripts): the reference gives no header.
            let n = int(content).ok_or(Stop::Value)?;
            let key = if st.fields.has("process.pid") { "process.thread.id" } else { "process.pid" };
            st.fields.set(key, Val::Int(n));
            return Ok(Some(took(st, close)));
        }
        if let Some(p) = full(&rx.pid_tid)? {
            st.fields.set("process.pid", Val::Int(py_int(p.group(&line, 1).unwrap_or(""))?));
            if let Some(tid) = p.group(&line, 2).filter(|s| !s.is_empty()) {
                st.fields.set("process.thread.id", Val::Int(py_int(tid)?));
            }
            return Ok(Some(took(st, close)));
        }
        if st.level.is_none() {
            if let Some(p) = full(&rx.module_level)? {
                if let Some(level) = level_of(&p.group(&line, 2).unwrap_or("").to_ascii_lowercase()) {
                    st.level = Some(level);
                    st.fields.set("log.logger", Val::Str(p.group(&line, 1).unwrap_or("").to_owned()));
                    return Ok(Some(took(st, close)));
                }
            }
        }
        if content.is_empty() || chars > 96 {
            return Ok(None);
        }
        if full(&rx.source_full)?.is_some() {
            return Ok(Some(took(st, close)));
        }
        let simple = !content.contains(' ');
        if !(run || (simple && (st.last == "logger" || self.headerish(close, st, stop)?))) {
            return Ok(None);
        }
        if simple && st.only_brackets && st.level.is_some() && !st.fields.has("log.logger") {
            st.fields.set("log.logger", Val::Str(content.to_owned()));
        } else if simple {
            let name = match rx.thread_suffix.captures(content).map_err(|_| Delegate::RegexLimit)? {
                Some(c) => {
                    let whole = c.get(0).map_or(content.len()..content.len(), |x| x.range());
                    format!("{}{}", &content[..whole.start], &content[whole.end..])
                }
                None => content.to_owned(),
            };
            st.fields.set("process.thread.name", Val::Str(name));
        }
        Ok(Some(took(st, close)))
    }
}

fn note(st: &mut St, kind: &'static str) {
    st.last = kind;
    if kind != "bracket" {
        st.only_brackets = false;
    }
}

fn took(st: &mut St, close: usize) -> (usize, bool) {
    st.bracket_end = close as i64;
    note(st, "bracket");
    (close, false)
}

/// A recognised header: `Header` in header.py.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub message: String,
    pub time_ns: Option<i64>,
    pub level: Option<&'static str>,
    pub fields: Fields,
}

/// The header's time, level and fields and the message after it; None when the line starts with no header:
/// `recognise` in header.py. Err when only the reference can decide (a number past 64 bits, the regex engine's
/// backtracking limit, a receive time before the epoch).
pub fn recognise(line: &str, now_ns: i64) -> Result<Option<Header>, Delegate> {
    let t = Line::new(line);
    let scanner = Scanner { t: &t, now_ns };
    let mut st = St::default();
    let end = match scanner.scan(&mut st, 0, t.len(), false) {
        Ok((end, _)) => end,
        Err(Stop::Value) => return Ok(None),
        Err(Stop::Core(d)) => return Err(d),
    };
    if st.time_ns.is_none() && st.level.is_none() {
        return Ok(find_stamp(&t, now_ns, HEAD_LIMIT)?
            .map(|s| Header { message: line.to_owned(), time_ns: Some(s.ns), level: None, fields: Fields::new() }));
    }
    let message = t.slice(end, t.len()).trim_start_matches([' ', '\t', '\r', '\n']);
    let mut fields = Fields::new();
    for (k, v) in st.fields.0 {
        fields.0.push((k.to_owned(), match v {
            Val::Int(n) => Value::Int(n),
            Val::Str(s) => Value::Str(s),
        }));
    }
    let message = if message.is_empty() { line } else { message };
    Ok(Some(Header { message: message.to_owned(), time_ns: st.time_ns, level: st.level, fields }))
}

#[cfg(test)]
mod tests {
    use super::{may_have_header, recognise};
    use crate::parsers::Value;

    const NOW: i64 = 1_764_072_000_000_000_000; // 2025-11-25T12:00:00Z

    #[test]
    fn a_header_read_token_by_token() {
        let h = recognise("2025-11-25 10:00:00,123 ERROR [main] com.example.Foo: boom", NOW).unwrap().unwrap();
        assert_eq!((h.message.as_str(), h.time_ns, h.level), ("boom", Some(1_764_064_800_123_000_000), Some("error")));
        assert_eq!(h.fields.0, vec![("process.thread.name".to_owned(), Value::Str("main".into())),
                                    ("log.logger".to_owned(), Value::Str("com.example.Foo".into()))]);
        let k = recognise("I1125 10:15:00.5 7 main.go:42] x", NOW).unwrap().unwrap();
        assert_eq!((k.message.as_str(), k.level), ("x", Some("info")));
        assert_eq!(k.fields.0, vec![("process.pid".to_owned(), Value::Int(7))]);
        assert_eq!(recognise("no header here", NOW).unwrap(), None);
    }

    #[test]
    fn positions_are_code_points() {
        // The level starts at character 126 (byte 228): read; at character 136: past the limit, the message.
        let e = |n: usize| "\u{e9}".repeat(n);
        let near = format!("2025-11-25 10:00:00 [{}] [{}] INFO x", e(60), e(40));
        let h = recognise(&near, NOW).unwrap().unwrap();
        assert_eq!((h.message.as_str(), h.level), ("x", Some("info")));
        assert_eq!(h.fields.0, vec![("process.thread.name".to_owned(), Value::Str(e(40)))]);
        let far = format!("2025-11-25 10:00:00 [{}] [{}] INFO x", e(60), e(50));
        let h = recognise(&far, NOW).unwrap().unwrap();
        assert_eq!((h.message.as_str(), h.level), ("INFO x", None));
    }

    #[test]
    fn what_only_the_reference_decides() {
        assert_eq!(recognise("[pid 1:tid 99999999999999999999] INFO x", NOW), Err(crate::Delegate::BigInt));
        assert_eq!(recognise("2025-11-25 10:00:00 [\u{b2}] x", NOW), Ok(None)); // int() refuses a superscript
    }

    #[test]
    fn the_start_of_a_header() {
        for line in ["warn: disk", "app.INFO: x", "[LOG] x", "Nov 29 x", "I1129 10", "E, [x]", "\u{e9}.WARN: x",
                     "INFO  [main] x", "WARNING:root:x", "12:00 x", "1"] {
            assert!(may_have_header(line), "{line:?}");
        }
        for line in ["x 1", "E Tag: x", "\"a\": [core:log ] b", "{\"a\": 1", "plain full line", "an error in between",
                     "e tag: x warnings", "\u{fffd}{\"a\":1.5}", "Q{\"a\":1}", "", "0{}", "12\"x\""] {
            assert!(!may_have_header(line), "{line:?}");
        }
    }
}

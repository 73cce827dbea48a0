//! Plain-text lines that start with a timestamp, then a level and the emitting component:
//! `processor/parsers/text.py`, with its patterns kept verbatim.

use super::{Fields, Value};
use crate::pyre::{compile, int, is_space};
use crate::timeparse::{month, to_ns, year_of};
use crate::Delegate;
use crate::pyre::PyRegex;
use fancy_regex::Captures;
use std::sync::LazyLock;

const DAY_NS: i64 = 86_400 * 1_000_000_000;
const LEVELS: &str = "TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRITICAL|CRIT|FATAL|SEVERE|ALERT|EMERG|EMERGENCY";

struct Patterns {
    iso: PyRegex,
    ctime: PyRegex,
    compact: PyRegex,
    slashed: PyRegex,
    syslog: PyRegex,
    header: PyRegex,
    syslog_head: PyRegex,
    more: PyRegex,
    more_name: PyRegex,
    more_padded: PyRegex,
}

/// Python's re.IGNORECASE for ASCII letters: each letter, its other case and the non-ASCII letters Python also
/// folds onto it (found by trying every code point).
fn ignore_case(pattern: &str) -> String {
    let mut out = String::new();
    let mut in_class = false;
    let mut escaped = false;
    for c in pattern.chars() {
        if escaped {
            out.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                out.push(c);
            }
            '[' => {
                in_class = true;
                out.push(c);
            }
            ']' => {
                in_class = false;
                out.push(c);
            }
            // Inside a class only A-Z/a-z ranges occur: add the extra folds once.
            'z' if in_class => out.push_str("z\u{130}\u{131}\u{17f}\u{212a}"),
            c if c.is_ascii_alphabetic() && !in_class && !escaped => {
                let lo = c.to_ascii_lowercase();
                let extra = match lo {
                    'i' => "\u{130}\u{131}",
                    's' => "\u{17f}",
                    'k' => "\u{212a}",
                    _ => "",
                };
                out.push_str(&format!("[{}{}{}]", lo, lo.to_ascii_uppercase(), extra));
            }
            _ => out.push(c),
        }
    }
    out
}

static P: LazyLock<Patterns> = LazyLock::new(|| {
    let logger = r"[A-Za-z_$][\w$]*(?:\.[\w$]+)+(?:@\d+)?";
    let nested = r"(?:[^\[\]]|\[[^\[\]]*\])*";
    let header = String::new()
        + r"\s*(?:-\s+)?"
        + r"(?:(?P<num>\d{1,10})\s+(?=\[?(?:" + LEVELS + r")\b))?"
        + r"(?:\[(?P<thread0>" + nested + r")\]\s+(?=\[?(?:" + LEVELS + r")\b))?"
        + r"\[?(?P<level>" + LEVELS + r")\]?(?::|\s+|$)"
        + r"\s*(?:\[(?P<thread>" + nested + r")\]\s*(?=-\s|" + logger + r"(?::\s|\s+-\s+)))?"
        + r"(?:-\s+)?"
        + r"(?:(?P<logger>" + logger + r")(?::\s|\s+-\s+))?";
    // Group names and escapes hold no letters to fold: fold only the parts outside `(?P<...>` and `\x`.
    Patterns {
        iso: compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s?(Z|[+-]\d{2}:?\d{2})?", false)
            .lead(4..=4, b'-'),
        ctime: compile(concat!(r"\[?(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})",
                               r"(?:\.(\d{1,9}))? (\d{4})\]?"), false),
        compact: compile(r"(\d{2})(\d{2})(\d{2}) (\d{2})(\d{2})(\d{2})\b", false).lead(6..=6, b' '),
        slashed: compile(r"(\d{2,4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?", false)
            .lead(2..=4, b'/'),
        syslog: compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?", false),
        header: PyRegex::build(|ascii| fold_outside_names(&header, ascii)),
        syslog_head: compile(r" (?P<host>[^\s:\[\]]+) (?P<program>[^\s:\[]+?)(?:\[(?P<pid>\d+)\])?: ", false),
        more: compile(concat!(r"\d+#\d+:\s|\d+\s+(?:-{2,3}\s|\d+\s|\[)|-{2,3}\s|\[[^\]\s]+\]|<[\d.]+>|",
                              r"[\w./-]+\.[A-Za-z]\w{0,4}:\d+\s|(?:[a-z_][\w$]*\.)+[A-Z][\w$]*\s|\S+\t"), false),
        more_name: compile(r"[A-Za-z_$][\w$]*(?:(?:::|/)[\w$]+)+\s*:\s", false),
        more_padded: compile(r"[A-Za-z_$][\w$.]*\s*:\s", false),
    }
});

/// Translate the header's Python pattern, then fold case on its letters except in group names and escapes.
fn fold_outside_names(pattern: &str, ascii: bool) -> String {
    let translated = format!("^(?:{})", crate::pyre::translate(pattern, ascii));
    // Split off `(?P<name>` and `\x{..}` / `\X` tokens, fold the rest.
    let mut out = String::new();
    let mut rest = translated.as_str();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("(?P<") {
            let end = after.find('>').expect("group name ends");
            out.push_str("(?P<");
            out.push_str(&after[..=end]);
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix("\\x{") {
            let end = after.find('}').expect("escape ends");
            out.push_str("\\x{");
            out.push_str(&after[..=end]);
            rest = &after[end + 1..];
        } else if rest.starts_with('\\') {
            let n = rest[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
            out.push_str(&rest[..n]);
            rest = &rest[n..];
        } else {
            let n = rest.find(['\\', '(']).map_or(rest.len(), |i| if i == 0 { 1 } else { i });
            out.push_str(&ignore_case(&rest[..n]));
            rest = &rest[n..];
        }
    }
    out
}

/// Whether the header pattern can match at all: it needs a level word, and every level word holds one of these.
/// Only ASCII text is judged (Python's case folding adds non-ASCII letters); other text always may.
fn may_hold_level(rest: &str) -> bool {
    const STEMS: [&str; 11] = ["trace", "debug", "info", "notice", "warn", "err", "crit", "fatal", "severe", "alert",
                               "emerg"];
    if !rest.is_ascii() {
        return true;
    }
    let low = rest.to_ascii_lowercase();
    STEMS.iter().any(|s| low.contains(s))
}

pub fn normal_level(word: &str) -> String {
    let low = word.to_lowercase();
    match low.as_str() {
        "warning" => "warn".into(),
        "err" => "error".into(),
        "crit" => "critical".into(),
        "severe" => "error".into(),
        "emerg" => "emergency".into(),
        _ => low,
    }
}

fn g<'t>(m: &Captures<'t, str>, i: usize) -> &'t str {
    m.get(i).map_or("", |x| x.as_str())
}

fn n(m: &Captures<'_, str>, i: usize) -> i64 {
    int(g(m, i)).unwrap_or(i64::MIN) // always digits of bounded length: never the default
}

fn yearless(now_ns: i64, mon: i64, day: i64, hh: i64, mm: i64, ss: i64, frac: &str) -> Result<Option<i64>, Delegate> {
    let year = year_of(now_ns).ok_or(Delegate::ReceiveTime)?;
    let Some(ns) = to_ns(year, mon, day, hh, mm, ss, frac, 0) else { return Ok(None) };
    if ns.checked_sub(now_ns).is_none_or(|d| d > DAY_NS) {
        return Ok(to_ns(year - 1, mon, day, hh, mm, ss, frac, 0));
    }
    Ok(Some(ns))
}

/// A timestamp at the start of `text`: (ns or None, byte index after it, whether it was syslog's layout).
pub fn parse_time(text: &str, now_ns: i64) -> Result<(Option<i64>, usize, bool), Delegate> {
    let p = &*P;
    let lim = |_| Delegate::RegexLimit;
    let c = text.chars().next();
    // Python tries the layouts by the first character; the first layout that matches decides, even on a bad date.
    // The three numeric layouts start with a decimal digit (any script): other lines skip them.
    let digit_first = c.is_some_and(|c| c.is_ascii_digit() || (!c.is_ascii() && crate::pyre::digit(c).is_some()));
    if !digit_first {
        return parse_named_time(text, c, now_ns);
    }
    if let Some(m) = p.iso.captures(text).map_err(lim)? {
        let tz = g(&m, 8);
        let mut offset = 0;
        if !tz.is_empty() && tz != "Z" {
            let digits: String = tz[1..].chars().filter(|&c| c != ':').collect();
            let split = digits.char_indices().nth(2).map_or(digits.len(), |(i, _)| i);
            let o = int(&digits[..split]).unwrap_or(0) * 60 + int(&digits[split..]).unwrap_or(0);
            offset = if tz.starts_with('-') { -o } else { o };
        }
        let ns = to_ns(n(&m, 1), n(&m, 2), n(&m, 3), n(&m, 4), n(&m, 5), n(&m, 6), g(&m, 7), offset);
        return Ok(found(ns, &m, false));
    }
    if let Some(m) = p.slashed.captures(text).map_err(lim)? {
        let y = g(&m, 1);
        let year = n(&m, 1) + if y.chars().count() == 2 { 2000 } else { 0 };
        let ns = to_ns(year, n(&m, 2), n(&m, 3), n(&m, 4), n(&m, 5), n(&m, 6), g(&m, 7), 0);
        return Ok(found(ns, &m, false));
    }
    if let Some(m) = p.compact.captures(text).map_err(lim)? {
        let ns = to_ns(2000 + n(&m, 1), n(&m, 2), n(&m, 3), n(&m, 4), n(&m, 5), n(&m, 6), "", 0);
        return Ok(found(ns, &m, false));
    }
    Ok((None, 0, false))
}

/// The layouts that start with a name or a bracket (ctime, syslog's).
fn parse_named_time(text: &str, c: Option<char>, now_ns: i64) -> Result<(Option<i64>, usize, bool), Delegate> {
    let p = &*P;
    let lim = |_| Delegate::RegexLimit;
    if matches!(c, Some('[' | 'M' | 'T' | 'W' | 'F' | 'S')) {
        if let Some(m) = p.ctime.captures(text).map_err(lim)? {
            if let Some(mon) = month(g(&m, 1)) {
                let ns = to_ns(n(&m, 7), i64::from(mon), n(&m, 2), n(&m, 3), n(&m, 4), n(&m, 5), g(&m, 6), 0);
                return Ok(found(ns, &m, false));
            }
        }
    }
    if c.is_some_and(|c| c.is_ascii_uppercase()) {
        if let Some(m) = p.syslog.captures(text).map_err(lim)? {
            if let Some(mon) = month(g(&m, 1)) {
                let ns = yearless(now_ns, i64::from(mon), n(&m, 2), n(&m, 3), n(&m, 4), n(&m, 5), g(&m, 6))?;
                return Ok(found(ns, &m, true));
            }
        }
    }
    Ok((None, 0, false))
}

fn found(ns: Option<i64>, m: &Captures<'_, str>, syslog: bool) -> (Option<i64>, usize, bool) {
    match ns {
        Some(ns) => (Some(ns), m.get(0).map_or(0, |x| x.end()), syslog),
        None => (None, 0, false),
    }
}

pub struct TextParse {
    pub message: String,
    pub time_ns: Option<i64>,
    pub level: Option<String>,
    pub fields: Fields,
}

/// Whether the known header read the whole header: `_settled` in text.py.
fn settled(p: &Patterns, line: &str, end: usize, logger: bool) -> Result<bool, Delegate> {
    if logger {
        return Ok(true); // the known header read as far as the logger
    }
    let rest = &line[end..];
    let limit = |_| Delegate::RegexLimit;
    Ok(!(p.more.is_match(rest).map_err(limit)? || p.more_name.is_match(rest).map_err(limit)?
        || (line[..end].ends_with("  ") && p.more_padded.is_match(rest).map_err(limit)?)))
}

/// The line's timestamp, level, emitter and message, or None when it does not start with a timestamp; Err(Header)
/// when the known layouts read only part of the header (the Python reference's recogniser reads those lines).
pub fn parse_text(line: &str, now_ns: i64) -> Result<Option<TextParse>, Delegate> {
    let (time_ns, end, syslog) = parse_time(line, now_ns)?;
    if time_ns.is_none() {
        return Ok(None);
    }
    let p = &*P;
    let mut fields = Fields::new();
    let rest = &line[end..];
    if syslog {
        if let Some(m) = p.syslog_head.captures(rest).map_err(|_| Delegate::RegexLimit)? {
            fields.set("host.hostname", Value::Str(m["host"].to_owned()));
            fields.set("process.name", Value::Str(m["program"].to_owned()));
            if let Some(pid) = m.name("pid") {
                fields.set("process.pid", Value::Int(int(pid.as_str()).ok_or(Delegate::BigInt)?));
            }
            let message = rest[m.get(0).map_or(0, |x| x.end())..].to_owned();
            return Ok(Some(TextParse { message, time_ns, level: None, fields }));
        }
        let message = rest.trim_start_matches(is_space).to_owned();
        return Ok(Some(TextParse { message, time_ns, level: None, fields }));
    }
    let header = if may_hold_level(rest) { p.header.captures(rest).map_err(|_| Delegate::RegexLimit)? } else { None };
    let Some(m) = header else {
        return Err(Delegate::Header); // the time alone was read: the header recogniser reads the line
    };
    let head_end = m.get(0).map_or(0, |x| x.end());
    if !settled(p, line, end + head_end, m.name("logger").is_some_and(|x| !x.as_str().is_empty()))? {
        return Err(Delegate::Header);
    }
    if let Some(num) = m.name("num").filter(|x| !x.as_str().is_empty()) {
        fields.set("process.thread.id", Value::Int(int(num.as_str()).ok_or(Delegate::BigInt)?));
    }
    let thread = m.name("thread").map(|x| x.as_str()).filter(|s| !s.is_empty())
        .or_else(|| m.name("thread0").map(|x| x.as_str()));
    if let Some(thread) = thread.filter(|s| !s.is_empty()) {
        fields.set("process.thread.name", Value::Str(thread.to_owned()));
    }
    if let Some(logger) = m.name("logger").filter(|x| !x.as_str().is_empty()) {
        fields.set("log.logger", Value::Str(logger.as_str().to_owned()));
    }
    let level = Some(normal_level(&m["level"]));
    let message = rest[m.get(0).map_or(0, |x| x.end())..].to_owned();
    Ok(Some(TextParse { message, time_ns, level, fields }))
}

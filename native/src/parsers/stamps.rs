//! Timestamps in the layouts loggers, servers, runtimes and operating systems write by default, read at a position:
//! `processor/parsers/stamps.py`, its patterns kept verbatim (the families are listed there).
//!
//! Positions are Python's: code points, not bytes (`Line` maps one to the other), so a stamp's end and the header's
//! 128-character limit count what the reference counts.

use super::pyctype;
use crate::pyre::{compile, int, is_space, PyRegex};
use crate::timeparse::{civil_from_days, month, to_ns, year_of};
use crate::Delegate;
use std::sync::LazyLock;

const SEC_NS: i64 = 1_000_000_000;
const DAY_NS: i64 = 86_400 * SEC_NS;
const HOUR_NS: i64 = 3_600 * SEC_NS;
// Epoch numbers count only this close to the receive time (a count of requests is not a date).
const EPOCH_PAST_NS: i128 = 10 * 365 * DAY_NS as i128;
const EPOCH_AHEAD_NS: i128 = DAY_NS as i128;

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let cp = c as u32;
    let i = table.partition_point(|&(a, _)| a <= cp);
    i > 0 && cp <= table[i - 1].1
}

/// `str.isalpha` of one character.
pub fn is_alpha(c: char) -> bool {
    if c.is_ascii() { c.is_ascii_alphabetic() } else { in_table(pyctype::ALPHA, c) }
}

/// `str.isalnum` of one character.
pub fn is_alnum(c: char) -> bool {
    if c.is_ascii() { c.is_ascii_alphanumeric() } else { in_table(pyctype::ALNUM, c) }
}

/// `str.isdigit` of one character (decimal digits and the other digits: superscripts, circled, ...).
pub fn is_digit(c: char) -> bool {
    if c.is_ascii() { c.is_ascii_digit() } else { in_table(pyctype::DIGIT, c) }
}

/// `str.isupper` of one character.
pub fn is_upper(c: char) -> bool {
    if c.is_ascii() { c.is_ascii_uppercase() } else { in_table(pyctype::UPPER, c) }
}

/// `str.islower` of one character.
pub fn is_lower(c: char) -> bool {
    if c.is_ascii() { c.is_ascii_lowercase() } else { in_table(pyctype::LOWER, c) }
}

/// A line with Python's indexes: code point positions, and the byte offset of each for slicing and regexes.
pub struct Line<'a> {
    pub s: &'a str,
    pub chars: Vec<char>,
    /// The byte offset of each character and of the end; empty for an ASCII line (positions are bytes).
    offs: Vec<usize>,
}

/// A match's groups as code point spans of the line.
pub struct Match {
    spans: Vec<Option<(usize, usize)>>,
}

impl Match {
    pub fn end(&self) -> usize {
        self.spans[0].map_or(0, |s| s.1)
    }

    pub fn start(&self, i: usize) -> usize {
        self.spans[i].map_or(0, |s| s.0)
    }

    pub fn end_of(&self, i: usize) -> usize {
        self.spans[i].map_or(0, |s| s.1)
    }

    pub fn has(&self, i: usize) -> bool {
        self.spans[i].is_some()
    }

    /// Group `i`'s text, or None when it did not take part.
    pub fn group<'a>(&self, line: &Line<'a>, i: usize) -> Option<&'a str> {
        self.spans[i].map(|(a, b)| line.slice(a, b))
    }
}

impl<'a> Line<'a> {
    pub fn new(s: &'a str) -> Self {
        let chars: Vec<char> = s.chars().collect();
        let offs = if s.is_ascii() {
            Vec::new()
        } else {
            s.char_indices().map(|(i, _)| i).chain(std::iter::once(s.len())).collect()
        };
        Line { s, chars, offs }
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// `text[i:i+1]`: the character at `i`, None past the end.
    pub fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// `text[i - 1:i]` for `i > 0`.
    pub fn before(&self, i: usize) -> Option<char> {
        i.checked_sub(1).and_then(|j| self.at(j))
    }

    fn byte(&self, i: usize) -> usize {
        let i = i.min(self.len());
        if self.offs.is_empty() { i } else { self.offs[i] }
    }

    fn pos_of(&self, b: usize) -> usize {
        if self.offs.is_empty() { b } else { self.offs.partition_point(|&o| o < b) }
    }

    /// `text[a:b]`.
    pub fn slice(&self, a: usize, b: usize) -> &'a str {
        let (a, b) = (self.byte(a), self.byte(b));
        if a >= b { "" } else { &self.s[a..b] }
    }

    /// `rx.match(text, pos, stop)`: the regex anchored at `pos`, the text ending at `stop`.
    pub fn matches(&self, rx: &PyRegex, pos: usize, stop: usize) -> Result<Option<Match>, Delegate> {
        let stop = stop.min(self.len());
        if pos > stop {
            return Ok(None);
        }
        let base = self.byte(pos);
        let hay = &self.s[base..self.byte(stop)];
        let Some(caps) = rx.captures(hay).map_err(|_| Delegate::RegexLimit)? else { return Ok(None) };
        let spans = (0..caps.len())
            .map(|i| caps.get(i).map(|m| (self.pos_of(base + m.start()), self.pos_of(base + m.end()))))
            .collect();
        Ok(Some(Match { spans }))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub ns: i64,
    pub end: usize,
    /// klog's letter.
    pub level: Option<&'static str>,
    /// The stamp wrote its zone (rsyslog's and journald's ISO stamps always do).
    pub zoned: bool,
}

const MON: &str = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?";
const WDAY: &str = r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? +)?";
const FRAC: &str = r"(?:[.,](\d{1,9}))?";
const ZONE: &str = r"(?: ?((?:GMT|UTC)?[+-]\d\d(?::?\d\d)?|Z|UTC|GMT)(?![\w+-]))?";
const AMPM: &str = r"(?: ?([AaPp][Mm])\b)?";
const END: &str = r"(?!\d|:\d)";

struct Patterns {
    iso: PyRegex,
    iso_dots: PyRegex,
    ymd_slash: PyRegex,
    yy_slash: PyRegex,
    mdy: PyRegex,
    dmon: PyRegex,
    mond: PyRegex,
    md: PyRegex,
    yymmdd: PyRegex,
    klog: PyRegex,
    clock: PyRegex,
    epoch: PyRegex,
    dated: PyRegex,
}

static P: LazyLock<Patterns> = LazyLock::new(|| Patterns {
    iso: compile(&format!(r"(\d{{4}})-(\d\d)-(\d\d)(?:[T ]| {{2}})(\d\d):(\d\d)(?::(\d\d))?{FRAC}{ZONE}{END}"), false),
    iso_dots: compile(&format!(r"(\d{{4}})-(\d\d)-(\d\d)-(\d\d)\.(\d\d)\.(\d\d){FRAC}{END}"), false),
    ymd_slash: compile(&format!(r"(\d{{4}})[/.](\d\d)[/.](\d\d)[ T](\d\d):(\d\d):(\d\d){FRAC}{ZONE}{END}"), false),
    yy_slash: compile(&format!(r"(\d\d)/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d){FRAC}{END}"), false),
    mdy: compile(
        &format!(r"(\d{{1,2}})([/.])(\d{{1,2}})[/.](\d{{4}}),? +(\d{{1,2}}):(\d\d)(?::(\d\d))?{FRAC}{AMPM}{ZONE}{END}"),
        false,
    ),
    dmon: compile(&format!(r"{WDAY}(\d{{1,2}})[-/ ]{MON}[-/ ](\d{{4}})[ :](\d\d):(\d\d):(\d\d){FRAC}{ZONE}{END}"), false),
    mond: compile(
        &format!(
            r"{WDAY}{MON} +(\d{{1,2}}),?(?: (\d{{4}}))? +(\d{{1,2}}):(\d\d):(\d\d){FRAC}{AMPM}(?: ((?:GMT|UTC)?[+-]\d\d:?\d\d|Z|UTC|GMT)(?: \([^)]{{1,64}}\))?)?(?: (\d{{4}}))?{END}"
        ),
        false,
    ),
    md: compile(&format!(r"(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d){FRAC}{END}"), false),
    yymmdd: compile(&format!(r"(\d\d)(\d\d)(\d\d) +(\d\d):?(\d\d):?(\d\d){FRAC}{END}"), false),
    klog: compile(&format!(r"([IWEFD])(\d{{4}})?(\d\d)(\d\d) (\d\d):(\d\d):(\d\d){FRAC}{END}"), false),
    clock: compile(&format!(r"(\d{{1,2}}):(\d\d)(?::(\d\d){FRAC})?{AMPM}{END}"), false),
    epoch: compile(r"(\d{10}|\d{13})(?:\.(\d{1,9}))?(?=$|[\s\]:,|)])", false),
    dated: compile(r"\d{4}[-/.]\d\d[-/.]\d\d|\d{1,2}[-/ ][A-Z][a-z]{2}[-/ ]\d{4}|[A-Z][a-z]{2}", false),
});

/// Why a ported step gives nothing where the reference raises: ValueError (caught by `read_stamp`, and by the header
/// recogniser, which then gives no header), or what the core cannot decide.
pub(super) enum Stop {
    Value,
    Core(Delegate),
}

impl From<Delegate> for Stop {
    fn from(d: Delegate) -> Self {
        Stop::Core(d)
    }
}

pub(super) type R<T> = Result<T, Stop>;

fn num(s: &str) -> R<i64> {
    int(s).ok_or(Stop::Value) // at most 4 digits everywhere it is used
}

fn ns_of(year: i64, month: i64, day: i64, h: i64, mi: i64, s: i64, frac: &str, offset: i64) -> R<i64> {
    to_ns(year, month, day, h, mi, s, frac, offset).ok_or(Stop::Value)
}

/// `_offset`: the zone's minutes east of UTC.
fn offset(zone: Option<&str>) -> R<i64> {
    let Some(zone) = zone else { return Ok(0) };
    if matches!(zone, "Z" | "UTC" | "GMT") {
        return Ok(0);
    }
    let z = zone.strip_prefix("GMT").unwrap_or(zone);
    let z = z.strip_prefix("UTC").unwrap_or(z);
    let mut chars = z.chars();
    let sign = chars.next();
    let digits: Vec<char> = chars.filter(|&c| c != ':').collect();
    let part = |a: usize, b: usize| -> R<i64> { num(&digits[a..b.min(digits.len())].iter().collect::<String>()) };
    let minutes = part(0, 2)? * 60 + if digits.len() >= 4 { part(2, 4)? } else { 0 };
    Ok(if sign == Some('-') { -minutes } else { minutes })
}

/// `_hour`: a 12-hour clock's hour on the 24-hour one.
fn hour(h: &str, ampm: Option<&str>) -> R<i64> {
    let hour = num(h)?;
    match ampm {
        Some(ap) if !ap.is_empty() => {
            if hour > 12 || hour == 0 {
                return Err(Stop::Value);
            }
            Ok(hour % 12 + if ap.starts_with(['P', 'p']) { 12 } else { 0 })
        }
        _ => Ok(hour),
    }
}

/// `_yearless`: the receive time's year, or the year before for a date more than a day ahead.
fn yearless(now_ns: i64, month: i64, day: i64, hh: i64, mm: i64, ss: i64, frac: &str) -> R<i64> {
    let year = year_of(now_ns).ok_or(Delegate::ReceiveTime)?;
    let ns = ns_of(year, month, day, hh, mm, ss, frac, 0)?;
    if i128::from(ns) - i128::from(now_ns) > i128::from(DAY_NS) {
        return ns_of(year - 1, month, day, hh, mm, ss, frac, 0); // a December line read in January
    }
    Ok(ns)
}

/// `_dateless`: the receive day, or the day before for a time more than an hour ahead.
fn dateless(now_ns: i64, hh: i64, mm: i64, ss: i64, frac: &str) -> R<i64> {
    if now_ns < 0 {
        return Err(Delegate::ReceiveTime.into());
    }
    let (y, m, d) = civil_from_days(now_ns.div_euclid(SEC_NS).div_euclid(86_400));
    let ns = ns_of(y, m, d, hh, mm, ss, frac, 0)?;
    if i128::from(ns) - i128::from(now_ns) > i128::from(HOUR_NS) {
        return Ok(ns - DAY_NS); // written before midnight, read after
    }
    Ok(ns)
}

fn stamp(ns: i64, end: usize) -> Option<Stamp> {
    Some(Stamp { ns, end, level: None, zoned: false })
}

/// `_read`.
fn read(t: &Line, pos: usize, now_ns: i64) -> R<Option<Stamp>> {
    let p = &*P;
    let Some(c) = t.at(pos) else { return Ok(None) };
    let stop = t.len();
    let g = |m: &Match, i: usize| m.group(t, i);
    let n = |m: &Match, i: usize| num(m.group(t, i).unwrap_or(""));
    let n0 = |m: &Match, i: usize| m.group(t, i).map_or(Ok(0), num);
    let frac = |m: &Match, i: usize| m.group(t, i).unwrap_or("");
    if is_digit(c) {
        // What each pattern needs in its first characters, checked before it runs (most tokens are no time): the
        // run of decimal digits at `pos` and the character after one, two or four of them.
        let mut run = 0;
        while run < 10 && t.at(pos + run).is_some_and(|d| crate::pyre::digit(d).is_some()) {
            run += 1;
        }
        let after = |k: usize, set: &str| run >= k && t.at(pos + k).is_some_and(|x| set.contains(x));
        let year_dash = after(4, "-");
        if year_dash {
            if let Some(m) = t.matches(&p.iso, pos, stop)? {
                let zone = g(&m, 8);
                let o = offset(zone)?;
                let ns = ns_of(n(&m, 1)?, n(&m, 2)?, n(&m, 3)?, n(&m, 4)?, n(&m, 5)?, n0(&m, 6)?, frac(&m, 7), o)?;
                return Ok(Some(Stamp { ns, end: m.end(), level: None, zoned: zone.is_some() }));
            }
            if let Some(m) = t.matches(&p.iso_dots, pos, stop)? {
                let ns = ns_of(n(&m, 1)?, n(&m, 2)?, n(&m, 3)?, n(&m, 4)?, n(&m, 5)?, n(&m, 6)?, frac(&m, 7), 0)?;
                return Ok(stamp(ns, m.end()));
            }
        }
        if let Some(m) = if after(4, "/.") { t.matches(&p.ymd_slash, pos, stop)? } else { None } {
            let o = offset(g(&m, 8))?;
            let ns = ns_of(n(&m, 1)?, n(&m, 2)?, n(&m, 3)?, n(&m, 4)?, n(&m, 5)?, n(&m, 6)?, frac(&m, 7), o)?;
            return Ok(stamp(ns, m.end()));
        }
        if let Some(m) = if after(2, "/") { t.matches(&p.yy_slash, pos, stop)? } else { None } {
            let ns = ns_of(2000 + n(&m, 1)?, n(&m, 2)?, n(&m, 3)?, n(&m, 4)?, n(&m, 5)?, n(&m, 6)?, frac(&m, 7), 0)?;
            return Ok(stamp(ns, m.end()));
        }
        if let Some(m) = if after(1, "/.") || after(2, "/.") { t.matches(&p.mdy, pos, stop)? } else { None } {
            // Dots are the European order; slashes the US one unless the first number cannot be a month.
            let (a, b) = (n(&m, 1)?, n(&m, 3)?);
            let (month, day) = if g(&m, 2) == Some(".") || a > 12 { (b, a) } else { (a, b) };
            let h = hour(g(&m, 5).unwrap_or(""), g(&m, 9))?;
            let ns = ns_of(n(&m, 4)?, month, day, h, n(&m, 6)?, n0(&m, 7)?, frac(&m, 8), offset(g(&m, 10))?)?;
            return Ok(stamp(ns, m.end()));
        }
        let dmon = after(1, "-/ ") || after(2, "-/ ");
        if let Some(m) = if dmon { t.matches(&p.dmon, pos, stop)? } else { None } {
            let mon = i64::from(month(g(&m, 2).unwrap_or("")).ok_or(Stop::Value)?);
            let ns = ns_of(n(&m, 3)?, mon, n(&m, 1)?, n(&m, 4)?, n(&m, 5)?, n(&m, 6)?, frac(&m, 7), offset(g(&m, 8))?)?;
            return Ok(stamp(ns, m.end()));
        }
        if let Some(m) = if after(2, "-") { t.matches(&p.md, pos, stop)? } else { None } {
            let ns = yearless(now_ns, n(&m, 1)?, n(&m, 2)?, n(&m, 3)?, n(&m, 4)?, n(&m, 5)?, frac(&m, 6))?;
            return Ok(stamp(ns, m.end()));
        }
        if let Some(m) = if run >= 6 { t.matches(&p.yymmdd, pos, stop)? } else { None } {
            let ns = ns_of(2000 + n(&m, 1)?, n(&m, 2)?, n(&m, 3)?, n(&m, 4)?, n(&m, 5)?, n(&m, 6)?, frac(&m, 7), 0)?;
            return Ok(stamp(ns, m.end()));
        }
        if let Some(m) = if run >= 10 { t.matches(&p.epoch, pos, stop)? } else { None } {
            let whole = g(&m, 1).unwrap_or("");
            let scale: i128 = if whole.chars().count() == 10 { 1_000_000_000 } else { 1_000_000 };
            let mut ns = i128::from(num(whole)?) * scale;
            if let Some(f) = g(&m, 2) {
                let f: String = f.chars().chain("000000000".chars()).take(9).collect();
                ns += i128::from(num(&f)?);
            }
            let now = i128::from(now_ns);
            if now - EPOCH_PAST_NS <= ns && ns <= now + EPOCH_AHEAD_NS {
                return Ok(stamp(i64::try_from(ns).map_err(|_| Delegate::BigInt)?, m.end()));
            }
            return Ok(None);
        }
        if let Some(m) = if after(1, ":") || after(2, ":") { t.matches(&p.clock, pos, stop)? } else { None } {
            if m.has(3) || g(&m, 5).is_some_and(|s| !s.is_empty()) {
                let h = hour(g(&m, 1).unwrap_or(""), g(&m, 5))?;
                let ns = dateless(now_ns, h, n(&m, 2)?, n0(&m, 3)?, frac(&m, 4))?;
                return Ok(stamp(ns, m.end()));
            }
        }
        return Ok(None);
    }
    // klog's letter and a digit, or a day or month name (`_WDAY`, `_MON`): what the patterns below start with.
    let klog = "IWEFD".contains(c) && t.at(pos + 1).is_some_and(|d| crate::pyre::digit(d).is_some());
    if is_upper(c) && (klog || NAMES.contains(&t.slice(pos, pos + 3))) {
        if let Some(m) = if klog { t.matches(&p.klog, pos, stop)? } else { None } {
            let f = frac(&m, 8);
            let ns = if m.has(2) {
                ns_of(n(&m, 2)?, n(&m, 3)?, n(&m, 4)?, n(&m, 5)?, n(&m, 6)?, n(&m, 7)?, f, 0)?
            } else {
                yearless(now_ns, n(&m, 3)?, n(&m, 4)?, n(&m, 5)?, n(&m, 6)?, n(&m, 7)?, f)?
            };
            let level = match g(&m, 1) {
                Some("I") => "info",
                Some("W") => "warn",
                Some("E") => "error",
                Some("F") => "fatal",
                _ => "debug",
            };
            return Ok(Some(Stamp { ns, end: m.end(), level: Some(level), zoned: false }));
        }
        if let Some(m) = t.matches(&p.mond, pos, stop)? {
            let mon = i64::from(month(g(&m, 1).unwrap_or("")).ok_or(Stop::Value)?);
            let year = g(&m, 3).or(g(&m, 10));
            let h = hour(g(&m, 4).unwrap_or(""), g(&m, 8))?;
            let zone = g(&m, 9);
            let ns = match year {
                Some(y) => ns_of(num(y)?, mon, n(&m, 2)?, h, n(&m, 5)?, n(&m, 6)?, frac(&m, 7), offset(zone)?)?,
                None => {
                    let local = yearless(now_ns, mon, n(&m, 2)?, h, n(&m, 5)?, n(&m, 6)?, frac(&m, 7))?;
                    // Unchecked in the reference: a zone can carry a yearless time before the epoch.
                    local.checked_sub(offset(zone)? * 60 * SEC_NS).ok_or(Delegate::BigInt)?
                }
            };
            return Ok(stamp(ns, m.end()));
        }
        if let Some(m) = t.matches(&p.dmon, pos, stop)? {
            let mon = i64::from(month(g(&m, 2).unwrap_or("")).ok_or(Stop::Value)?);
            let ns = ns_of(n(&m, 3)?, mon, n(&m, 1)?, n(&m, 4)?, n(&m, 5)?, n(&m, 6)?, frac(&m, 7), offset(g(&m, 8))?)?;
            return Ok(stamp(ns, m.end()));
        }
    }
    Ok(None)
}

/// The timestamp starting exactly at `pos`, or None: `read_stamp`.
pub fn read_stamp(t: &Line, pos: usize, now_ns: i64) -> Result<Option<Stamp>, Delegate> {
    if t.before(pos).is_some_and(|p| is_alnum(p) || p == '.' || p == ':') {
        return Ok(None); // inside a word or a number
    }
    match read(t, pos, now_ns) {
        Ok(s) => Ok(s),
        Err(Stop::Value) => Ok(None),
        Err(Stop::Core(d)) => Err(d),
    }
}

const NAMES: [&str; 19] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Python's `\w` of one character.
fn word_char(c: char) -> bool {
    c == '_' || is_alnum(c)
}

/// `_CANDIDATE` at `pos` with the text ending at `stop`: not after `\w . :`, a digit or a day or month name.
fn candidate(t: &Line, pos: usize, stop: usize) -> bool {
    if t.before(pos).is_some_and(|p| word_char(p) || p == '.' || p == ':') {
        return false;
    }
    let Some(c) = t.at(pos) else { return false };
    if crate::pyre::digit(c).is_some() {
        return true;
    }
    pos + 3 <= stop
        && NAMES.contains(&t.slice(pos, pos + 3))
        && (pos + 3 == stop || !t.at(pos + 3).is_some_and(word_char))
}

/// The first timestamp with a full date (year, or month name and day) before `stop`: `find_stamp`.
pub fn find_stamp(t: &Line, now_ns: i64, stop: usize) -> Result<Option<Stamp>, Delegate> {
    let stop = stop.min(t.len());
    for pos in 0..stop {
        if !candidate(t, pos, stop) {
            continue;
        }
        if let Some(s) = read_stamp(t, pos, now_ns)? {
            if dated(t, pos, &s)? {
                return Ok(Some(s));
            }
        }
    }
    Ok(None)
}

/// Away from the header only a stamp with a written date counts: a bare clock or number is too often something
/// else (a duration, a count).
fn dated(t: &Line, pos: usize, s: &Stamp) -> Result<bool, Delegate> {
    if t.matches(&P.dated, pos, t.len())?.is_some() {
        return Ok(true);
    }
    Ok(t.at(pos).is_some_and(is_digit) && t.slice(pos, s.end).chars().take(6).any(|c| c == '/'))
}

/// `str.strip()`.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

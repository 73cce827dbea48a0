//! Syslog messages, RFC 5424 and RFC 3164: `logjet/formats/syslog.py`, on bytes, with its patterns kept verbatim
//! (Python's bytes patterns are ASCII-only, as `(?-u)` makes them here), three of them as matchers written by hand
//! (`head_5424`, `ts_3164`, `tag`), each held to its compiled pattern by a proptest.
//!
//! Both ends read syslog: the processor unwraps a `<PRI>` envelope (`parse`), and the collector's syslog listener
//! makes its entries here (`drain`: the message, its time, flags and attrs, the reason of a malformed one, as
//! `parse` in `logjet/formats/syslog.py` gives them, then the wire records through `output`).

use crate::output::{count_flags, records, Entry, Flagged, Limits, Record, FLAG_TRUNCATED};
use crate::parsers::{Fields, Value};
use crate::timeparse::{month, rfc3339_ns, to_ns, year_of};
use crate::transform::{dumps_str, dumps_str_pairs};
use crate::Delegate;
use regex::bytes::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

const FACILITIES: [&str; 24] = ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7"];
const SEVERITIES: [&str; 8] = ["emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"];
const DAY_NS: i64 = 86_400 * 1_000_000_000;

fn re(pattern: &str) -> Regex {
    Regex::new(&format!("(?-u)^(?:{pattern})")).unwrap_or_else(|e| panic!("{pattern:?}: {e}"))
}

struct Patterns {
    pri: Regex,
    iso_ts: Regex,
    sd_element: Regex,
    sd_param: Regex,
}

static P: LazyLock<Patterns> = LazyLock::new(|| Patterns {
    pri: re(r"<(\d{1,3})>"),
    iso_ts: re(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) ?"),
    sd_element: re(r#"\[([^\s=\]"]+)((?: [^\s=\]"]+="(?:[^"\\]|\\.)*")*)\]"#),
    sd_param: Regex::new(r#"(?-u) ([^\s=\]"]+)="((?:[^"\\]|\\.)*)""#).expect("sd param"),
});

// The three header patterns the Python module matches most often, as hand-written matchers: each pattern below is
// deterministic (every repetition is followed by a byte it cannot take), so the greedy reading is the regex's
// reading, and a matcher is a scan without captures, several times faster than the regex engine's capturing search
// (the `matchers_read_as_the_patterns` proptest holds each to its pattern, compiled).

/// `\s` of a bytes pattern: ASCII whitespace.
fn space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn digit(r: &[u8], i: usize) -> bool {
    r.get(i).is_some_and(u8::is_ascii_digit)
}

fn run(r: &[u8], from: usize, class: impl Fn(u8) -> bool) -> usize {
    r.get(from..).map_or(0, |tail| tail.iter().take_while(|&&b| class(b)).count())
}

/// `(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?`: the version and the five header fields, and the end.
fn head_5424(r: &[u8]) -> Option<([&[u8]; 6], usize)> {
    let mut fields: [&[u8]; 6] = [b""; 6];
    let n = run(r, 0, |b| b.is_ascii_digit());
    if !(1..=2).contains(&n) || r.get(n) != Some(&b' ') {
        return None;
    }
    fields[0] = &r[..n];
    let mut p = n + 1;
    for (i, field) in fields.iter_mut().enumerate().skip(1) {
        let k = run(r, p, |b| !space(b));
        if k == 0 {
            return None;
        }
        *field = &r[p..p + k];
        p += k;
        if r.get(p) == Some(&b' ') {
            p += 1;
        } else if i < 5 {
            return None;
        }
    }
    Some((fields, p))
}

/// `([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?: (\d{4}))? ?`
struct Ts3164<'a> {
    month: &'a [u8],
    day: &'a [u8],
    hms: [&'a [u8]; 3],
    frac: Option<&'a [u8]>,
    year: Option<&'a [u8]>,
    end: usize,
}

fn ts_3164(r: &[u8]) -> Option<Ts3164<'_>> {
    if !(r.len() >= 4 && r[0].is_ascii_uppercase() && r[1].is_ascii_lowercase() && r[2].is_ascii_lowercase()
        && r[3] == b' ') {
        return None;
    }
    let mut p = 4;
    if r.get(p) == Some(&b' ') {
        p += 1;
    }
    let n = run(r, p, |b| b.is_ascii_digit());
    if !(1..=2).contains(&n) || r.get(p + n) != Some(&b' ') {
        return None;
    }
    let day = &r[p..p + n];
    p += n + 1;
    let two = |at: usize| digit(r, at) && digit(r, at + 1);
    if !(two(p) && r.get(p + 2) == Some(&b':') && two(p + 3) && r.get(p + 5) == Some(&b':') && two(p + 6)) {
        return None;
    }
    let hms = [&r[p..p + 2], &r[p + 3..p + 5], &r[p + 6..p + 8]];
    p += 8;
    let mut frac = None;
    if r.get(p) == Some(&b'.') && digit(r, p + 1) {
        let k = run(r, p + 1, |b| b.is_ascii_digit()).min(9);
        frac = Some(&r[p + 1..p + 1 + k]);
        p += 1 + k;
    }
    let mut year = None;
    if r.get(p) == Some(&b' ') && (1..=4).all(|i| digit(r, p + i)) {
        year = Some(&r[p + 1..p + 5]);
        p += 5;
    }
    if r.get(p) == Some(&b' ') {
        p += 1;
    }
    Some(Ts3164 { month: &r[..3], day, hms, frac, year, end: p })
}

/// A tag, its pid and where the match ends.
type Tag<'a> = (&'a [u8], Option<&'a [u8]>, usize);

/// `([^\s\[\]:]{1,128})(?:\[([^\]\s]{1,128})\])?: ?` (`after_host` false) or the same ending `(?:: ?| )` (true).
fn tag(r: &[u8], after_host: bool) -> Option<Tag<'_>> {
    let n = run(r, 0, |b| !space(b) && !matches!(b, b'[' | b']' | b':'));
    if !(1..=128).contains(&n) {
        return None;
    }
    let mut p = n;
    let mut pid = None;
    if r.get(p) == Some(&b'[') {
        let k = run(r, p + 1, |b| !space(b) && b != b']');
        if !((1..=128).contains(&k) && r.get(p + 1 + k) == Some(&b']')) {
            return None;
        }
        pid = Some(&r[p + 1..p + 1 + k]);
        p += k + 2;
    }
    match r.get(p) {
        Some(b':') => {
            p += 1;
            if r.get(p) == Some(&b' ') {
                p += 1;
            }
        }
        Some(b' ') if after_host => p += 1,
        _ => return None,
    }
    Some((&r[..n], pid, p))
}

pub struct Parsed {
    pub time_ns: Option<i64>,
    pub message: String,
    pub attrs: Fields,
}

/// Not syslog: the line is read as content (the reason does not reach the document on this path).
pub struct Malformed;

/// Why a message is not syslog, in the words of `logjet/formats/syslog.py` (the collector's `error.message`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason<'a> {
    NoPri,
    Priority(i64),
    Incomplete5424,
    Version(&'a [u8]),
    Time5424,
    StructuredData,
    Time3164,
    NoHeader,
}

impl Reason<'_> {
    pub fn text(&self) -> Cow<'static, str> {
        match self {
            Reason::NoPri => "no <PRI> at the start".into(),
            Reason::Priority(pri) => format!("priority {pri} out of range").into(),
            Reason::Incomplete5424 => "RFC 5424 header incomplete".into(),
            Reason::Version(v) => format!("unsupported RFC 5424 version {}", ascii(v)).into(),
            Reason::Time5424 => "RFC 5424 timestamp is not RFC 3339".into(),
            Reason::StructuredData => "RFC 5424 structured data malformed".into(),
            Reason::Time3164 => "RFC 3164 timestamp invalid".into(),
            Reason::NoHeader => "neither an RFC 5424 nor an RFC 3164 header after the priority".into(),
        }
    }
}

/// A syslog message read: its header's fields and its text, borrowed from the message.
#[derive(Debug)]
pub struct Header<'a> {
    pub pri: i64,
    /// RFC 5424 (`log.syslog.version` 1); RFC 3164 otherwise.
    pub rfc5424: bool,
    pub time_ns: Option<i64>,
    pub hostname: Option<&'a [u8]>,
    pub appname: Option<&'a [u8]>,
    pub procid: Option<&'a [u8]>,
    pub msgid: Option<&'a [u8]>,
    /// The structured data's elements as orjson writes them.
    pub structured_data: Option<String>,
    pub message: &'a [u8],
}

impl Header<'_> {
    fn named(&self) -> [(&'static str, Option<&[u8]>); 4] {
        [("log.syslog.hostname", self.hostname), ("log.syslog.appname", self.appname),
         ("log.syslog.procid", self.procid), ("log.syslog.msgid", self.msgid)]
    }

    /// The attrs, in the reference's order (its dict's insertion order).
    pub fn attrs(&self) -> Fields {
        let mut a = pri_attrs(self.pri);
        if self.rfc5424 {
            a.set("log.syslog.version", Value::Int(1));
        }
        for (key, value) in self.named() {
            if let Some(v) = value {
                a.set(key, Value::Str(lossy(v)));
            }
        }
        if let Some(sd) = &self.structured_data {
            a.set("log.syslog.structured_data", Value::Str(sd.clone()));
        }
        a
    }

    /// The attrs as the JSON object orjson writes for them.
    pub fn write_attrs(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&PRI_JSON[self.pri as usize]);
        if self.rfc5424 {
            out.extend_from_slice(br#","log.syslog.version":1"#);
        }
        for (key, value) in self.named() {
            if let Some(v) = value {
                out.push(b',');
                dumps_str(out, key);
                out.push(b':');
                dumps_str(out, &String::from_utf8_lossy(v));
            }
        }
        if let Some(sd) = &self.structured_data {
            out.extend_from_slice(br#","log.syslog.structured_data":"#);
            dumps_str(out, sd);
        }
        out.push(b'}');
    }
}

fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// `bytes.decode("ascii", "replace")`.
fn ascii(raw: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(raw) {
        Ok(s) if s.is_ascii() => Cow::Borrowed(s),
        _ => Cow::Owned(raw.iter().map(|&b| if b.is_ascii() { b as char } else { '\u{fffd}' }).collect()),
    }
}

fn ascii_int(raw: &[u8]) -> i64 {
    raw.iter().fold(0, |n, &b| n * 10 + i64::from(b - b'0'))
}

fn pri_attrs(pri: i64) -> Fields {
    let (facility, severity) = (pri / 8, pri % 8);
    let mut a = Fields::new();
    a.set("log.syslog.priority", Value::Int(pri));
    a.set("log.syslog.facility.code", Value::Int(facility));
    a.set("log.syslog.facility.name", Value::Str(FACILITIES[facility as usize].into()));
    a.set("log.syslog.severity.code", Value::Int(severity));
    a.set("log.syslog.severity.name", Value::Str(SEVERITIES[severity as usize].into()));
    a
}

/// Per priority, the start of its attrs object (`{"log.syslog.priority":13,...,"log.syslog.severity.name":"notice"`),
/// written once: every message repeats one of these.
static PRI_JSON: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    (0..192).map(|pri: usize| {
        let (facility, severity) = (pri / 8, pri % 8);
        let mut out = format!(r#"{{"log.syslog.priority":{pri},"log.syslog.facility.code":{facility},"log.syslog.facility.name":"#)
            .into_bytes();
        dumps_str(&mut out, FACILITIES[facility]);
        out.extend_from_slice(format!(r#","log.syslog.severity.code":{severity},"log.syslog.severity.name":"#).as_bytes());
        dumps_str(&mut out, SEVERITIES[severity]);
        out
    }).collect()
});

fn sd_unescape(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'\\' && i + 1 < v.len() && matches!(v[i + 1], b'"' | b'\\' | b']') {
            out.push(v[i + 1]);
            i += 2;
        } else {
            out.push(v[i]);
            i += 1;
        }
    }
    out
}

type Elements = Vec<(String, Vec<(String, String)>)>;

fn set<V>(items: &mut Vec<(String, V)>, key: String, value: V) {
    match items.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => items.push((key, value)),
    }
}

fn structured_data(raw: &[u8]) -> Option<(Elements, &[u8])> {
    if raw.starts_with(b"-") {
        return Some((Vec::new(), &raw[1..]));
    }
    let mut out = Elements::new();
    let mut pos = 0;
    while pos < raw.len() && raw[pos] == b'[' {
        let m = P.sd_element.captures(&raw[pos..])?;
        let mut params = Vec::new();
        for p in P.sd_param.captures_iter(&m[2]) {
            let v = &p[2];
            let v = if v.contains(&b'\\') { lossy(&sd_unescape(v)) } else { lossy(v) };
            set(&mut params, lossy(&p[1]), v);
        }
        set(&mut out, lossy(&m[1]), params);
        pos += m.get(0).map_or(0, |x| x.end());
    }
    (pos != 0).then_some((out, &raw[pos..]))
}

/// orjson's encoding of the elements (a JSON object of objects of strings, in insertion order).
fn dumps(elements: &Elements) -> String {
    let mut out = vec![b'{'];
    for (i, (id, params)) in elements.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        dumps_str(&mut out, id);
        out.push(b':');
        dumps_str_pairs(&mut out, params);
    }
    out.push(b'}');
    String::from_utf8(out).expect("JSON of strs is UTF-8")
}

type Read<'a> = Result<Result<Header<'a>, Reason<'a>>, Delegate>;

fn parse_5424(pri: i64, rest: &[u8]) -> Read<'_> {
    let Some((m, end)) = head_5424(rest) else { return Ok(Err(Reason::Incomplete5424)) };
    if m[0] != b"1" {
        return Ok(Err(Reason::Version(m[0])));
    }
    let mut time_ns = None;
    if m[1] != b"-" {
        time_ns = rfc3339_ns(&ascii(m[1]))?;
        if time_ns.is_none() {
            return Ok(Err(Reason::Time5424));
        }
    }
    let Some((elements, mut msg)) = structured_data(&rest[end..]) else {
        return Ok(Err(Reason::StructuredData));
    };
    if msg.starts_with(b" ") {
        msg = &msg[1..];
    }
    if msg.starts_with(b"\xef\xbb\xbf") {
        msg = &msg[3..];
    }
    let field = |i: usize| Some(m[i]).filter(|v| *v != b"-");
    Ok(Ok(Header {
        pri,
        rfc5424: true,
        time_ns,
        hostname: field(2),
        appname: field(3),
        procid: field(4),
        msgid: field(5),
        structured_data: (!elements.is_empty()).then(|| dumps(&elements)),
        message: msg,
    }))
}

fn time_3164(m: &Ts3164<'_>, now_ns: i64) -> Result<Option<i64>, Delegate> {
    let Some(mon) = month(&ascii(m.month)) else { return Ok(None) };
    let frac = m.frac.map_or(Cow::Borrowed(""), ascii);
    let year = match m.year {
        Some(y) => ascii_int(y),
        None => year_of(now_ns).ok_or(Delegate::ReceiveTime)?, // the year of the receiving day
    };
    let (mon, day, hh, mm, ss) = (i64::from(mon), ascii_int(m.day), ascii_int(m.hms[0]), ascii_int(m.hms[1]),
                                  ascii_int(m.hms[2]));
    let Some(ns) = to_ns(year, mon, day, hh, mm, ss, &frac, 0) else { return Ok(None) };
    if m.year.is_none() && i128::from(ns) > i128::from(now_ns) + i128::from(DAY_NS) {
        // Python's reference raises here when the year before has no such day: it decides that line.
        return to_ns(year - 1, mon, day, hh, mm, ss, &frac, 0).map(Some).ok_or(Delegate::Raises);
    }
    Ok(Some(ns))
}

fn parse_3164(pri: i64, mut rest: &[u8], now_ns: i64) -> Read<'_> {
    let time_ns;
    if let Some(m) = ts_3164(rest) {
        time_ns = time_3164(&m, now_ns)?;
        if time_ns.is_none() {
            return Ok(Err(Reason::Time3164));
        }
        rest = &rest[m.end..];
    } else {
        let Some(iso) = P.iso_ts.captures(rest) else { return Ok(Err(Reason::NoHeader)) };
        time_ns = rfc3339_ns(&ascii(&iso[1]))?;
        rest = &rest[iso.get(0).map_or(0, |x| x.end())..];
    }
    let mut header = Header { pri, rfc5424: false, time_ns, hostname: None, appname: None, procid: None, msgid: None,
                              structured_data: None, message: b"" };
    // `tag` matches only with a `[` or `:` right after the name: Python's check of that byte always holds here.
    let mut found = tag(rest, false);
    if found.is_none() {
        match rest.iter().position(|&b| b == b' ') {
            Some(sp) if sp > 0 => {
                header.hostname = Some(&rest[..sp]);
                rest = &rest[sp + 1..];
                found = tag(rest, true);
            }
            _ => found = None,
        }
    }
    if let Some((app, pid, end)) = found {
        header.appname = Some(app);
        header.procid = pid;
        rest = &rest[end..];
    }
    header.message = rest;
    Ok(Ok(header))
}

/// The message without the newlines, carriage returns and NULs senders leave at its end.
pub fn trim(mut raw: &[u8]) -> &[u8] {
    while let Some((b'\n' | b'\r' | b'\0', head)) = raw.split_last() {
        raw = head;
    }
    raw
}

/// Read one syslog message (without its framing): its header, or why it is not syslog.
pub fn header(raw: &[u8], now_ns: i64) -> Read<'_> {
    let raw = trim(raw);
    let Some(m) = P.pri.captures(raw) else { return Ok(Err(Reason::NoPri)) };
    let pri = ascii_int(&m[1]);
    if pri > 191 {
        return Ok(Err(Reason::Priority(pri)));
    }
    let rest = &raw[m.get(0).map_or(0, |x| x.end())..];
    if rest.first().is_some_and(u8::is_ascii_digit) && rest.get(1) == Some(&b' ') {
        parse_5424(pri, rest)
    } else {
        parse_3164(pri, rest, now_ns)
    }
}

/// Parse one syslog message (without its framing).
pub fn parse(raw: &[u8], now_ns: i64) -> Result<Result<Parsed, Malformed>, Delegate> {
    Ok(match header(raw, now_ns)? {
        Ok(h) => Ok(Parsed { time_ns: h.time_ns, message: lossy(h.message), attrs: h.attrs() }),
        Err(_) => Err(Malformed),
    })
}

// -- the collector: `SyslogListener.drain` -------------------------------------------------------------------------

/// One message as a listener received it; `peer` indexes the drain's sources.
pub struct Received<'a> {
    pub raw: &'a [u8],
    pub peer: usize,
    pub recv_ns: i64,
    /// Cut at `max_message_bytes` by the listener.
    pub truncated: bool,
}

/// What the core made of one message: read, or left to the Python reference (a `Delegate`, or a panic here).
pub enum Outcome<'a> {
    Read(Result<Header<'a>, Reason<'a>>),
    Delegated,
}

/// Read one message for the collector; a panic becomes a message the reference reads.
pub fn read(raw: &[u8], now_ns: i64) -> Outcome<'_> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| header(raw, now_ns))) {
        Ok(Ok(read)) => Outcome::Read(read),
        Ok(Err(_)) | Err(_) => Outcome::Delegated,
    }
}

/// The Python reference's `Parsed` for a message the core delegated, its attrs already as orjson's JSON object (empty
/// when there are none).
#[derive(Debug, Default)]
pub struct Fallback {
    pub time_ns: Option<i64>,
    pub message: String,
    pub flags: Vec<String>,
    pub attrs: Vec<u8>,
}

const FLAG_MALFORMED: &str = "malformed";
const FLAG_INVALID_UTF8: &str = "invalid_utf8";

/// Per source (`peer` indexes them), its entries of the drained messages, as `SyslogListener.drain` makes them:
/// `seq` counts every message from `seq`, whatever its source; `fallbacks` holds the reference's answer for each
/// delegated message. The attrs objects are written to `attrs`, which the entries' ranges index.
pub fn entries<'a>(msgs: &[Received<'a>], outcomes: Vec<Outcome<'a>>, fallbacks: Vec<Option<Fallback>>, seq: i64,
                   sources: usize, attrs: &mut Vec<u8>) -> Vec<Vec<Entry<'a>>> {
    let mut out: Vec<Vec<Entry<'a>>> = (0..sources).map(|_| Vec::new()).collect();
    for (i, ((m, outcome), fallback)) in msgs.iter().zip(outcomes).zip(fallbacks).enumerate() {
        let mut flags: Vec<Cow<'static, str>> = Vec::new();
        if m.truncated {
            flags.push(Cow::Borrowed(FLAG_TRUNCATED));
        }
        let at = attrs.len();
        let (time_ns, message) = match (outcome, fallback) {
            (Outcome::Read(Ok(h)), _) => {
                let message = String::from_utf8_lossy(h.message);
                if matches!(message, Cow::Owned(_)) {
                    flags.push(Cow::Borrowed(FLAG_INVALID_UTF8));
                }
                h.write_attrs(attrs);
                (h.time_ns, message)
            }
            (Outcome::Read(Err(reason)), _) => {
                let message = String::from_utf8_lossy(trim(m.raw));
                flags.push(Cow::Borrowed(FLAG_MALFORMED));
                if matches!(message, Cow::Owned(_)) {
                    flags.push(Cow::Borrowed(FLAG_INVALID_UTF8));
                }
                attrs.extend_from_slice(br#"{"error.message":"#);
                dumps_str(attrs, &format!("unparsed syslog message: {}", reason.text()));
                attrs.push(b'}');
                (None, message)
            }
            (Outcome::Delegated, fallback) => {
                let f = fallback.unwrap_or_default();
                flags.extend(f.flags.into_iter().map(Cow::Owned));
                attrs.extend_from_slice(&f.attrs);
                (f.time_ns, Cow::Owned(f.message))
            }
        };
        out[m.peer].push(Entry {
            seq: seq + i as i64,
            // `p.time_ns or recv_ns`: a time of 0 (the epoch itself) is taken as none, as Python's `or` does.
            time_ns: time_ns.filter(|t| *t != 0).unwrap_or(m.recv_ns),
            message,
            flags,
            attrs: at..attrs.len(),
        });
    }
    out
}

/// Buffers a drain reuses from call to call (fresh memory costs a page fault per page, batch after batch).
#[derive(Default)]
pub struct Scratch {
    pub attrs: Vec<u8>,
    pub encoded: Vec<u8>,
}

/// `SyslogListener.drain` after the parse: the records `Output.ship` sends, each with its source's index (in the
/// order of `prefixes`, each its records' prefix; one source's records together, sources in that order), their runs
/// indexing `scratch.encoded`; and the flags counted as `Output.ship` counts them.
pub fn drain<'a>(msgs: &[Received<'a>], outcomes: Vec<Outcome<'a>>, fallbacks: Vec<Option<Fallback>>, seq: i64,
                 prefixes: &[Vec<u8>], limits: &Limits, scratch: &mut Scratch)
    -> (Vec<(usize, Record)>, Flagged) {
    scratch.attrs.clear();
    scratch.encoded.clear();
    let mut flagged = Vec::new();
    let mut out = Vec::new();
    let per_source = entries(msgs, outcomes, fallbacks, seq, prefixes.len(), &mut scratch.attrs);
    let mut records_of = Vec::new();
    for (source, (batch, prefix)) in per_source.iter().zip(prefixes).enumerate() {
        count_flags(batch, &mut flagged);
        records(prefix, batch, &scratch.attrs, limits, &mut scratch.encoded, &mut records_of);
        out.extend(records_of.drain(..).map(|r| (source, r)));
    }
    (out, flagged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spans(c: &regex::bytes::Captures<'_>) -> Vec<Option<Vec<u8>>> {
        c.iter().skip(1).map(|g| g.map(|g| g.as_bytes().to_vec())).collect()
    }

    fn bytes_near_the_patterns() -> impl Strategy<Value = Vec<u8>> {
        let pieces = prop_oneof![
            Just(b" ".to_vec()), Just(b"  ".to_vec()), Just(b":".to_vec()), Just(b"[".to_vec()), Just(b"]".to_vec()),
            Just(b"\t".to_vec()), Just(b".".to_vec()), Just(b"-".to_vec()), Just(b"Nov".to_vec()), Just(b"nOv".to_vec()),
            "[0-9]{1,5}".prop_map(String::into_bytes), "[a-zA-Z_]{1,6}".prop_map(String::into_bytes),
            Just(vec![b'a'; 127]), Just(vec![b'a'; 129]), Just(vec![b'7'; 130]), Just(b"\xc3\xa9".to_vec()),
            proptest::collection::vec(any::<u8>(), 1..4),
        ];
        proptest::collection::vec(pieces, 0..14).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn matchers_read_as_the_patterns(raw in bytes_near_the_patterns(), prefix in prop_oneof![
            Just(b"".to_vec()), Just(b"Nov 25 14:02:07".to_vec()), Just(b"Jan  5 00:00:00.".to_vec()),
            Just(b"1 ".to_vec()), Just(b"app".to_vec()), Just(b"app[".to_vec())]) {
            let r = [prefix, raw].concat();
            let head = re(r"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?");
            let ts = re(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?: (\d{4}))? ?");
            let tag_re = re(r"([^\s\[\]:]{1,128})(?:\[([^\]\s]{1,128})\])?: ?");
            let after_host = re(r"([^\s\[\]:]{1,128})(?:\[([^\]\s]{1,128})\])?(?:: ?| )");
            prop_assert_eq!(head.captures(&r).map(|c| (spans(&c), c.get(0).map_or(0, |m| m.end()))),
                            head_5424(&r).map(|(f, end)| (f.iter().map(|x| Some(x.to_vec())).collect(), end)));
            prop_assert_eq!(ts.captures(&r).map(|c| (spans(&c), c.get(0).map_or(0, |m| m.end()))),
                            ts_3164(&r).map(|t| (vec![Some(t.month.to_vec()), Some(t.day.to_vec()),
                                                      Some(t.hms[0].to_vec()), Some(t.hms[1].to_vec()),
                                                      Some(t.hms[2].to_vec()), t.frac.map(<[u8]>::to_vec),
                                                      t.year.map(<[u8]>::to_vec)], t.end)));
            for (pattern, host) in [(&tag_re, false), (&after_host, true)] {
                prop_assert_eq!(pattern.captures(&r).map(|c| (spans(&c), c.get(0).map_or(0, |m| m.end()))),
                                tag(&r, host).map(|(a, p, end)| (vec![Some(a.to_vec()), p.map(<[u8]>::to_vec)], end)));
            }
        }
    }

    #[test]
    fn malformed_messages_say_why_in_the_references_words() {
        let cases: [(&[u8], &str); 7] = [
            (b"plain", "no <PRI> at the start"),
            (b"<192>x", "priority 192 out of range"),
            (b"<13>1 x", "RFC 5424 header incomplete"),
            (b"<13>2 - - - - - -", "unsupported RFC 5424 version 2"),
            (b"<13>1 yesterday h a p m -", "RFC 5424 timestamp is not RFC 3339"),
            (b"<13>1 - h a p m [x", "RFC 5424 structured data malformed"),
            (b"<13>hello", "neither an RFC 5424 nor an RFC 3164 header after the priority"),
        ];
        for (raw, why) in cases {
            match header(raw, 0) {
                Ok(Err(reason)) => assert_eq!(reason.text(), why),
                _ => panic!("{raw:?} read as syslog"),
            }
        }
    }

    #[test]
    fn attrs_json_is_the_fields_in_order() {
        let raw = b"<165>1 2003-10-11T22:14:15.003Z host app 12 ID7 [a b=\"1\"] hi";
        let Ok(Ok(h)) = header(raw, 0) else { panic!("not read") };
        let mut json = Vec::new();
        h.write_attrs(&mut json);
        let keys: Vec<String> = h.attrs().0.into_iter().map(|(k, _)| k).collect();
        let text = String::from_utf8(json).unwrap();
        let mut at = 0;
        for k in keys {
            let found = text[at..].find(&format!("\"{k}\":")).expect(&k);
            at += found;
        }
        assert!(text.starts_with(r#"{"log.syslog.priority":165,"log.syslog.facility.code":20,"#), "{text}");
        assert!(text.ends_with(r#","log.syslog.structured_data":"{\"a\":{\"b\":\"1\"}}"}"#), "{text}");
    }
}

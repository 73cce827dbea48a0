//! Syslog messages, RFC 5424 and RFC 3164: `logjet/formats/syslog.py`, on bytes, with its patterns kept verbatim
//! (Python's bytes patterns are ASCII-only, as `(?-u)` makes them here).

use crate::parsers::{Fields, Value};
use crate::timeparse::{month, rfc3339_ns, to_ns, year_of};
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
    head_5424: Regex,
    ts_3164: Regex,
    iso_ts: Regex,
    tag: Regex,
    tag_after_host: Regex,
    sd_element: Regex,
    sd_param: Regex,
}

static P: LazyLock<Patterns> = LazyLock::new(|| Patterns {
    pri: re(r"<(\d{1,3})>"),
    head_5424: re(r"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) ?"),
    ts_3164: re(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?: (\d{4}))? ?"),
    iso_ts: re(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) ?"),
    tag: re(r"([^\s\[\]:]{1,128})(?:\[([^\]\s]{1,128})\])?: ?"),
    tag_after_host: re(r"([^\s\[\]:]{1,128})(?:\[([^\]\s]{1,128})\])?(?:: ?| )"),
    sd_element: re(r#"\[([^\s=\]"]+)((?: [^\s=\]"]+="(?:[^"\\]|\\.)*")*)\]"#),
    sd_param: Regex::new(r#"(?-u) ([^\s=\]"]+)="((?:[^"\\]|\\.)*)""#).expect("sd param"),
});

pub struct Parsed {
    pub time_ns: Option<i64>,
    pub message: String,
    pub attrs: Fields,
}

/// Not syslog: the line is read as content (the reason does not reach the document on this path).
pub struct Malformed;

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
    let s = |x: &str| serde_json::to_string(x).unwrap_or_default();
    let mut out = String::from("{");
    for (i, (id, params)) in elements.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&s(id));
        out.push_str(":{");
        for (j, (k, v)) in params.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(&s(k));
            out.push(':');
            out.push_str(&s(v));
        }
        out.push('}');
    }
    out.push('}');
    out
}

const KEYS_5424: [&str; 4] = ["log.syslog.hostname", "log.syslog.appname", "log.syslog.procid", "log.syslog.msgid"];

fn parse_5424(pri: i64, rest: &[u8]) -> Result<Result<Parsed, Malformed>, Delegate> {
    let Some(m) = P.head_5424.captures(rest) else { return Ok(Err(Malformed)) };
    if &m[1] != b"1" {
        return Ok(Err(Malformed));
    }
    let mut time_ns = None;
    if &m[2] != b"-" {
        time_ns = rfc3339_ns(&ascii(&m[2]))?;
        if time_ns.is_none() {
            return Ok(Err(Malformed));
        }
    }
    let Some((elements, mut msg)) = structured_data(&rest[m.get(0).map_or(0, |x| x.end())..]) else {
        return Ok(Err(Malformed));
    };
    if msg.starts_with(b" ") {
        msg = &msg[1..];
    }
    if msg.starts_with(b"\xef\xbb\xbf") {
        msg = &msg[3..];
    }
    let mut attrs = pri_attrs(pri);
    attrs.set("log.syslog.version", Value::Int(1));
    for (key, i) in KEYS_5424.iter().zip(3..=6) {
        if &m[i] != b"-" {
            attrs.set(key, Value::Str(lossy(&m[i])));
        }
    }
    if !elements.is_empty() {
        attrs.set("log.syslog.structured_data", Value::Str(dumps(&elements)));
    }
    Ok(Ok(Parsed { time_ns, message: lossy(msg), attrs }))
}

fn time_3164(m: &regex::bytes::Captures<'_>, now_ns: i64) -> Result<Option<i64>, Delegate> {
    let Some(mon) = month(&ascii(&m[1])) else { return Ok(None) };
    let frac = m.get(6).map_or(Cow::Borrowed(""), |f| ascii(f.as_bytes()));
    let year = match m.get(7) {
        Some(y) => ascii_int(y.as_bytes()),
        None => year_of(now_ns).ok_or(Delegate::ReceiveTime)?, // the year of the receiving day
    };
    let (mon, day, hh, mm, ss) = (i64::from(mon), ascii_int(&m[2]), ascii_int(&m[3]), ascii_int(&m[4]), ascii_int(&m[5]));
    let Some(ns) = to_ns(year, mon, day, hh, mm, ss, &frac, 0) else { return Ok(None) };
    if m.get(7).is_none() && i128::from(ns) > i128::from(now_ns) + i128::from(DAY_NS) {
        // Python's reference raises here when the year before has no such day: it decides that line.
        return to_ns(year - 1, mon, day, hh, mm, ss, &frac, 0).map(Some).ok_or(Delegate::Raises);
    }
    Ok(Some(ns))
}

fn parse_3164(pri: i64, mut rest: &[u8], now_ns: i64) -> Result<Result<Parsed, Malformed>, Delegate> {
    let time_ns;
    if let Some(m) = P.ts_3164.captures(rest) {
        time_ns = time_3164(&m, now_ns)?;
        if time_ns.is_none() {
            return Ok(Err(Malformed));
        }
        rest = &rest[m.get(0).map_or(0, |x| x.end())..];
    } else {
        let Some(iso) = P.iso_ts.captures(rest) else { return Ok(Err(Malformed)) };
        time_ns = rfc3339_ns(&ascii(&iso[1]))?;
        rest = &rest[iso.get(0).map_or(0, |x| x.end())..];
    }
    let mut attrs = pri_attrs(pri);
    let mut tag = P.tag.captures(rest);
    let tag_ok = tag.as_ref().is_some_and(|t| {
        let e = t.get(1).map_or(0, |x| x.end());
        matches!(rest.get(e), Some(b'[' | b':'))
    });
    if !tag_ok {
        match rest.iter().position(|&b| b == b' ') {
            Some(sp) if sp > 0 => {
                attrs.set("log.syslog.hostname", Value::Str(lossy(&rest[..sp])));
                rest = &rest[sp + 1..];
                tag = P.tag_after_host.captures(rest);
            }
            _ => tag = None,
        }
    }
    if let Some(t) = tag {
        attrs.set("log.syslog.appname", Value::Str(lossy(&t[1])));
        if let Some(pid) = t.get(2) {
            attrs.set("log.syslog.procid", Value::Str(lossy(pid.as_bytes())));
        }
        rest = &rest[t.get(0).map_or(0, |x| x.end())..];
    }
    Ok(Ok(Parsed { time_ns, message: lossy(rest), attrs }))
}

/// Parse one syslog message (without its framing).
pub fn parse(mut raw: &[u8], now_ns: i64) -> Result<Result<Parsed, Malformed>, Delegate> {
    while let Some((b'\n' | b'\r' | b'\0', head)) = raw.split_last() {
        raw = head;
    }
    let Some(m) = P.pri.captures(raw) else { return Ok(Err(Malformed)) };
    let pri = ascii_int(&m[1]);
    if pri > 191 {
        return Ok(Err(Malformed));
    }
    let rest = &raw[m.get(0).map_or(0, |x| x.end())..];
    if rest.first().is_some_and(u8::is_ascii_digit) && rest.get(1) == Some(&b' ') {
        parse_5424(pri, rest)
    } else {
        parse_3164(pri, rest, now_ns)
    }
}

//! What the processor reads out of an entry: `processor/parsers/__init__.py`. The envelopes (Docker json-file, CRI,
//! syslog `<PRI>`) are unwrapped here, the content read as JSON (`json`), an access log, text or logfmt; a line
//! that needs what the core does not do exactly like Python (unbounded integers, ...) is handed back to the Python
//! reference (`Delegate`).

pub mod access;
pub mod json;
pub mod logfmt;
pub mod header;
mod pyctype;
pub mod stamps;
pub mod text;
#[cfg(test)]
mod tests;

use crate::timeparse::rfc3339_ns;
use crate::{syslog, Delegate};
use crate::pyre::PyRegex;
use std::sync::LazyLock;

/// A value as the Python parsers produce them: an ECS field's (str or int; from a JSON line also a float or a
/// bool), or anything orjson reads, kept under `json`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer past `i64::MAX` and within `u64` (orjson reads it as an int).
    UInt(u64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    /// A JSON object: its keys in order, each once.
    Object(Vec<(String, Value)>),
}

/// Fields in insertion order, a later `set` of the same key replacing the value in place (a Python dict).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields(pub Vec<(String, Value)>);

impl Fields {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn set(&mut self, key: &str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }
}

/// One parsed entry: `processor.parsers.Parsed`.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub message: String,
    pub time_ns: Option<i64>,
    pub level: Option<String>,
    pub fields: Fields,
    /// The other keys of a JSON line, or the other pairs of a logfmt line (`Parsed.json`).
    pub json: Option<Vec<(String, Value)>>,
}

impl Parsed {
    fn plain(message: String) -> Self {
        Parsed { message, time_ns: None, level: None, fields: Fields::new(), json: None }
    }
}

const KV_MESSAGE: [&str; 2] = ["msg", "message"];
const KV_LEVEL: [&str; 3] = ["level", "lvl", "severity"];
const KV_TIME: [&str; 4] = ["ts", "time", "t", "timestamp"];

static CRI: LazyLock<PyRegex> =
    LazyLock::new(|| crate::pyre::compile(r"(\d{4}-\d\d-\d\dT\S+) (stdout|stderr) ([PF]) ?", false).lead(4..=4, b'-'));

fn pop(pairs: &mut Vec<(String, String)>, key: &str) -> Option<String> {
    let i = pairs.iter().position(|(k, _)| k == key)?;
    Some(pairs.remove(i).1)
}

fn content(line: &str, now_ns: i64) -> Result<Parsed, Delegate> {
    if line.starts_with('{') {
        if let Some(parsed) = json::parse_json(line, now_ns)? {
            return Ok(parsed);
        }
    }
    not_json(line, now_ns)
}

/// `_content` after the JSON parser said no.
fn not_json(line: &str, now_ns: i64) -> Result<Parsed, Delegate> {
    if let Some((ns, fields)) = access::parse_access(line)? {
        return Ok(Parsed { message: line.to_owned(), time_ns: Some(ns), level: None, fields, json: None });
    }
    // Err(Header): the known layouts read a time but not the whole header; the recogniser reads the line.
    let partial = match text::parse_text(line, now_ns) {
        Ok(Some(t)) => {
            return Ok(Parsed { message: t.message, time_ns: t.time_ns, level: t.level, fields: t.fields, json: None })
        }
        Ok(None) => false,
        Err(Delegate::Header) => true,
        Err(why) => return Err(why),
    };
    if !partial && line.contains('=') {
        if let Some(mut pairs) = logfmt::parse_logfmt(line)? {
            let message = KV_MESSAGE.iter().find_map(|k| pop(&mut pairs, k)).unwrap_or_else(|| line.to_owned());
            let level = KV_LEVEL.iter().find_map(|k| pop(&mut pairs, k));
            let mut time_ns = None;
            for key in KV_TIME {
                if let Some(i) = pairs.iter().position(|(k, _)| k == key) {
                    let (ns, _, _) = text::parse_time(&pairs[i].1, now_ns)?;
                    if ns.is_some() {
                        time_ns = ns;
                        pairs.remove(i);
                        break;
                    }
                }
            }
            let level = level.filter(|l| !l.is_empty()).map(|l| text::normal_level(&l));
            let json = (!pairs.is_empty()).then(|| pairs.into_iter().map(|(k, v)| (k, Value::Str(v))).collect());
            return Ok(Parsed { message, time_ns, level, fields: Fields::new(), json });
        }
    }
    // No known layout read the whole header: the recogniser does (processor/parsers/header.py's rules).
    if partial || header::may_have_header(line) {
        match header::recognise(line, now_ns)? {
            Some(h) => {
                let level = h.level.map(str::to_owned);
                return Ok(Parsed { message: h.message, time_ns: h.time_ns, level, fields: h.fields, json: None });
            }
            // The reference then keeps what the known layouts read, which the text parser does not return.
            None if partial => return Err(Delegate::Header),
            None => {}
        }
    }
    Ok(Parsed::plain(line.to_owned()))
}

/// The envelope's fields first, the content's over them; the content's own time wins.
fn with(mut inner: Parsed, mut fields: Fields, time_ns: Option<i64>) -> Parsed {
    for (k, v) in std::mem::take(&mut inner.fields.0) {
        fields.set(&k, v);
    }
    inner.fields = fields;
    if inner.time_ns.is_none() {
        inner.time_ns = time_ns;
    }
    inner
}

fn docker(line: &str, now_ns: i64) -> Result<Parsed, Delegate> {
    let obj = match json::loads(line) {
        Some(Value::Object(obj)) => obj,
        _ => return not_json(line, now_ns), // the content parser would read it as JSON, and fail the same
    };
    let get = |key: &str| obj.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let (Some(Value::Str(log)), Some(Value::Str(stream))) = (get("log"), get("stream")) else {
        return json::from_object(line, obj, now_ns);
    };
    if (stream != "stdout" && stream != "stderr") || obj.len() > 4 {
        return json::from_object(line, obj, now_ns);
    }
    let time_ns = match get("time") {
        Some(Value::Str(stamp)) => rfc3339_ns(stamp)?,
        _ => None,
    };
    let mut fields = Fields::new();
    fields.set("log.iostream", Value::Str(stream.clone()));
    if !log.ends_with('\n') {
        fields.set("log.flags", Value::Str("partial".into())); // a 16 KiB piece the shipper did not join
    }
    let inner = content(log.trim_end_matches(['\r', '\n']), now_ns)?;
    Ok(with(inner, fields, time_ns))
}

const SYSLOG_LEVEL: [(&str, &str); 8] = [("emergency", "emergency"), ("alert", "alert"), ("critical", "critical"),
    ("error", "error"), ("warning", "warn"), ("notice", "notice"), ("informational", "info"), ("debug", "debug")];

/// The syslog header's fields, and its host, program and pid under their ECS names as well: `_syslog_fields`.
fn syslog_fields(mut attrs: Fields) -> Fields {
    let get = |attrs: &Fields, key: &str| attrs.0.iter().find(|(k, _)| k == key).and_then(|(_, v)| match v {
        Value::Str(s) => Some(s.clone()),
        _ => None,
    });
    if let Some(host) = get(&attrs, "log.syslog.hostname") {
        attrs.set("host.hostname", Value::Str(host));
    }
    if let Some(app) = get(&attrs, "log.syslog.appname") {
        attrs.set("process.name", Value::Str(app));
    }
    // PROCID is any printable text (RFC 5424 6.2.6); only a plain number is a pid.
    if let Some(procid) = get(&attrs, "log.syslog.procid") {
        if !procid.is_empty() && procid.len() <= 18 && procid.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(pid) = procid.parse::<i64>() {
                attrs.set("process.pid", Value::Int(pid));
            }
        }
    }
    attrs
}

/// Parse one message; Err only when the line is the Python reference's to parse.
pub fn parse_line(line: &str, now_ns: i64) -> Result<Parsed, Delegate> {
    let mut chars = line.chars();
    let c = chars.next();
    if c == Some('{') && line.starts_with("{\"log\":") {
        return docker(line, now_ns);
    } else if c == Some('<') && chars.next().is_some_and(|d| d.is_ascii_digit()) {
        // Python tries syslog only after a digit; a line that is not syslog is read as content either way.
        if let Ok(p) = syslog::parse(line.as_bytes(), now_ns)? {
            let mut inner = if p.message.starts_with('{') { content(&p.message, now_ns)? } else { Parsed::plain(p.message) };
            if inner.level.is_none() {
                inner.level = p.attrs.0.iter().find(|(k, _)| k == "log.syslog.severity.name").and_then(|(_, v)| match v {
                    Value::Str(s) => SYSLOG_LEVEL.iter().find(|(k, _)| k == s).map(|(_, l)| (*l).to_owned()),
                    _ => None,
                });
            }
            return Ok(with(inner, syslog_fields(p.attrs), p.time_ns));
        }
    } else if let Some(m) = match c {
        // A CRI line starts with a decimal digit (any script): other lines skip the regex.
        Some(c) if c.is_ascii_digit() || (!c.is_ascii() && crate::pyre::digit(c).is_some()) => {
            CRI.captures(line).map_err(|_| Delegate::RegexLimit)?
        }
        _ => None,
    } {
        let mut fields = Fields::new();
        fields.set("log.iostream", Value::Str(m[2].to_owned()));
        if &m[3] == "P" {
            fields.set("log.flags", Value::Str("partial".into()));
        }
        let time_ns = rfc3339_ns(&m[1])?;
        let inner = content(&line[m.get(0).map_or(0, |x| x.end())..], now_ns)?;
        return Ok(with(inner, fields, time_ns));
    }
    content(line, now_ns)
}

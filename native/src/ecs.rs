//! An entry and its parse mapped to an Elastic Common Schema document: `processor/ecs.py`, key order included (the
//! document is written in insertion order, as orjson writes a dict).
//!
//! Trust, as in Python: what the source carries is written first and never overwritten; what the content says fills
//! only the places left free, never the scope roots, and the rest goes under `json` with its dotted key.

use crate::parsers::{Parsed, Value};
use crate::wire::{entry_id, Entry, Source};
use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;

pub type Object = Vec<(String, Value)>;

const RESERVED: [&str; 6] = ["@timestamp", "message", "data_stream", "logjet", "json", "_id"];
const RESERVED_PATHS: [&str; 5] = ["event.id", "event.ingested", "event.created", "event.original", "event.hash"];
pub const SCOPE_ROOTS: [&str; 3] = ["kubernetes", "container", "labels"];
const SYSLOG_LEVEL: [(&str, &str); 8] = [("emergency", "emergency"), ("alert", "alert"), ("critical", "critical"),
    ("error", "error"), ("warning", "warn"), ("notice", "notice"), ("informational", "info"), ("debug", "debug")];

/// What the settings give every document of a batch.
pub struct Settings {
    pub dataset: String,
    pub namespace: String,
    pub ingested: String,
    pub keep_original: bool,
    pub patterns: bool,
}

fn get<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    obj.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// `obj[key] = value`: a key already there keeps its place.
pub fn set(obj: &mut Object, key: &str, value: Value) {
    match obj.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => obj.push((key.to_owned(), value)),
    }
}

/// The object at `obj[key]`, made (or put in place of a null) when absent; None when something else is there.
fn child<'a>(obj: &'a mut Object, key: &str) -> Option<&'a mut Object> {
    let i = match obj.iter().position(|(k, _)| k == key) {
        Some(i) => i,
        None => {
            obj.push((key.to_owned(), Value::Object(Vec::new())));
            obj.len() - 1
        }
    };
    if matches!(obj[i].1, Value::Null) {
        obj[i].1 = Value::Object(Vec::new());
    }
    match &mut obj[i].1 {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

/// `_path`: the key's parts, or None when it cannot be nested.
fn path(key: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.len() == 1 || RESERVED.contains(&parts[0]) || RESERVED_PATHS.contains(&key) || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some(parts)
}

fn content_path(key: &str) -> Option<Vec<&str>> {
    path(key).filter(|p| !SCOPE_ROOTS.contains(&p[0]))
}

fn label(doc: &mut Object, key: &str, value: Value) {
    if let Some(labels) = child(doc, "labels") {
        set(labels, &key.replace('.', "_"), value);
    }
}

/// Whether the walk down `parts` meets something other than an object (or null) before the last part.
fn blocked(doc: &Object, parts: &[&str]) -> bool {
    let mut node = doc;
    for part in &parts[..parts.len() - 1] {
        match get(node, part) {
            None | Some(Value::Null) => return false,
            Some(Value::Object(o)) => node = o,
            Some(_) => return true,
        }
    }
    false
}

/// The object that holds the last part (the objects on the way made); only after `blocked` said no.
fn holder<'a>(doc: &'a mut Object, parts: &[&str]) -> &'a mut Object {
    let mut node = doc;
    for part in &parts[..parts.len() - 1] {
        node = child(node, part).expect("checked by blocked()");
    }
    node
}

/// `_merge`: a source's tags nested into `base`; undotted keys, reserved roots and clashes go under `labels`.
fn merge_source(base: &mut Object, tags: &[(String, String)]) {
    for (key, value) in tags {
        let value = Value::Str(value.clone());
        let Some(parts) = path(key) else {
            label(base, key, value);
            continue;
        };
        if blocked(base, &parts) {
            label(base, key, value);
            continue;
        }
        let last = parts[parts.len() - 1];
        let node = holder(base, &parts);
        if matches!(get(node, last), Some(Value::Object(_))) {
            label(base, key, value);
        } else {
            set(node, last, value);
        }
    }
}

/// `source_fields`: what every document of the source carries.
pub fn source_fields(source: &Source) -> Object {
    let mut base = Object::new();
    let s = |x: &str| Value::Str(x.to_owned());
    if !source.host.is_empty() {
        base.push(("host".into(), Value::Object(vec![("name".into(), s(&source.host))])));
    }
    if !source.collector.is_empty() {
        base.push(("agent".into(), Value::Object(vec![("id".into(), s(&source.collector)), ("type".into(), s("logjet"))])));
    }
    if let Some(p) = source.path.as_deref().filter(|p| !p.is_empty()) {
        base.push(("log".into(), Value::Object(vec![("file".into(), Value::Object(vec![("path".into(), s(p))]))])));
    }
    merge_source(&mut base, &source.tags);
    base
}

fn scalar(v: &Value) -> bool {
    !matches!(v, Value::List(_) | Value::Object(_))
}

/// `_merge_content`: content's fields into the free places of `doc`; the rest into `claims`.
fn merge_content(doc: &mut Object, fields: &[(String, Value)], claims: &mut Object) {
    for (key, value) in fields {
        if scalar(value) {
            if let Some(parts) = content_path(key) {
                if !blocked(doc, &parts) {
                    let last = parts[parts.len() - 1];
                    let node = holder(doc, &parts);
                    if get(node, last).is_none() {
                        node.push((last.to_owned(), value.clone()));
                        continue;
                    }
                }
            }
        }
        set(claims, key, value.clone());
    }
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

thread_local! {
    // The last second formatted: the entries of a batch are mostly within the same few seconds.
    static SECOND: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
}

/// `format_ns`: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC).
pub fn format_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let mut out = String::with_capacity(30);
    SECOND.with_borrow_mut(|(last, prefix)| {
        if *last != secs {
            *prefix = format_second(secs);
            *last = secs;
        }
        out.push_str(prefix);
    });
    out.push('.');
    let mut digits = [b'0'; 9];
    let mut n = nanos;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.push_str(std::str::from_utf8(&digits).expect("ASCII digits"));
    out.push('Z');
    out
}

/// `time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))`.
fn format_second(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60)
}

/// `content_hash`: BLAKE2b (8 bytes) of the entry's text, as hex.
pub fn content_hash(message: &str) -> String {
    let mut h = Blake2bVar::new(8).expect("8 is a valid BLAKE2b output size");
    h.update(message.as_bytes());
    let mut digest = [0u8; 8];
    h.finalize_variable(&mut digest).expect("the buffer has the output size");
    hex(&digest)
}

/// `to_document` and what `Transform` adds to it (`logjet.pattern`, `event.hash`): the id and the document.
pub fn to_document(source: &Source, base: &Object, entry: &Entry, parsed: Parsed, settings: &Settings, hash: &str)
    -> (String, Object) {
    let seq = entry.seq;
    let doc_id = entry_id(&source.id, seq);
    let mut level = parsed.level;
    if level.is_none() && !entry.attrs.is_empty() {
        level = match get(&entry.attrs, "log.syslog.severity.name") {
            Some(Value::Str(sev)) => SYSLOG_LEVEL.iter().find(|(k, _)| k == sev).map(|(_, l)| (*l).to_owned()),
            _ => None,
        };
    }
    let mut log = vec![("offset".to_owned(), Value::Int(seq))];
    if let Some(level) = level.filter(|l| !l.is_empty()) {
        log.push(("level".into(), Value::Str(level)));
    }
    let created = format_ns(entry.time_ns);
    let event = vec![("id".to_owned(), Value::Str(doc_id.clone())), ("ingested".into(), Value::Str(settings.ingested.clone())),
                     ("created".into(), Value::Str(created.clone()))];
    let stream = vec![("type".to_owned(), Value::Str("logs".into())), ("dataset".into(), Value::Str(settings.dataset.clone())),
                      ("namespace".into(), Value::Str(settings.namespace.clone()))];
    let logjet = vec![("source".to_owned(), Value::Object(vec![("id".into(), Value::Str(source.id.clone())),
                                                                ("kind".into(), Value::Str(source.kind.clone()))])),
                      ("seq".into(), Value::Int(seq))];
    let timestamp = parsed.time_ns.map_or(created, format_ns);
    let mut doc: Object = vec![("@timestamp".into(), Value::Str(timestamp)), ("message".into(), Value::Str(parsed.message)),
                               ("event".into(), Value::Object(event)), ("log".into(), Value::Object(log)),
                               ("data_stream".into(), Value::Object(stream)), ("logjet".into(), Value::Object(logjet))];
    for (key, value) in base {
        match doc.iter_mut().find(|(k, _)| k == key) {
            // log, event: this entry's own objects take the source's keys (dict.update)
            Some((_, Value::Object(own))) => {
                if let Value::Object(theirs) = value {
                    for (k, v) in theirs {
                        set(own, k, v.clone());
                    }
                }
            }
            Some(_) => {} // not reached: a source's top-level values are objects, the document's too
            None => doc.push((key.clone(), value.clone())),
        }
    }
    let mut claims = Object::new();
    if !entry.attrs.is_empty() {
        merge_content(&mut doc, &entry.attrs, &mut claims);
    }
    if !entry.flags.is_empty() {
        let flags = Value::List(entry.flags.iter().map(|f| Value::Str(f.clone())).collect());
        if let Some(lj) = child(&mut doc, "logjet") {
            lj.push(("flags".into(), flags));
        }
    }
    if !parsed.fields.0.is_empty() {
        merge_content(&mut doc, &parsed.fields.0, &mut claims);
    }
    let mut extra = parsed.json;
    if !claims.is_empty() {
        match &mut extra {
            None => extra = Some(claims),
            Some(extra) => {
                for (k, v) in claims {
                    if get(extra, &k).is_none() {
                        extra.push((k, v));
                    }
                }
            }
        }
    }
    if let Some(extra) = extra.filter(|e| !e.is_empty()) {
        set(&mut doc, "json", Value::Object(extra));
    }
    let message = match get(&doc, "message") {
        Some(Value::Str(m)) if settings.patterns => Some(m.clone()),
        _ => None,
    };
    if let Some(lj) = child(&mut doc, "logjet") {
        if let Some(message) = message {
            let (id, template) = crate::patterns::pattern(&message);
            set(lj, "pattern", Value::Object(vec![("id".into(), Value::Str(id)), ("template".into(), Value::Str(template))]));
        }
    }
    if let Some(event) = child(&mut doc, "event") {
        if settings.keep_original {
            set(event, "original", Value::Str(entry.message.clone()));
        }
        set(event, "hash", Value::Str(hash.to_owned()));
    }
    (doc_id, doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(format_ns(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(format_ns(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_ns(1_709_251_199_123_456_789), "2024-02-29T23:59:59.123456789Z");
    }

    #[test]
    fn hashes_as_python() {
        assert_eq!(content_hash("hé"), "be7ee3111dc0484d"); // processor.transform.content_hash("hé")
    }

    #[test]
    fn tags_clash_into_labels() {
        let src = Source { id: "s".into(), kind: "k".into(), host: "h".into(), collector: String::new(), path: None,
                           tags: vec![("host.name".into(), "x".into()), ("host".into(), "y".into()),
                                      ("host.name.first".into(), "z".into()), ("a.b".into(), "1".into()),
                                      ("a".into(), "2".into()), ("a.b.c".into(), "3".into())] };
        let base = source_fields(&src);
        let s = |x: &str| Value::Str(x.into());
        assert_eq!(base, vec![
            ("host".into(), Value::Object(vec![("name".into(), s("x"))])),
            ("labels".into(), Value::Object(vec![("host".into(), s("y")), ("host_name_first".into(), s("z")),
                                                 ("a".into(), s("2")), ("a_b_c".into(), s("3"))])),
            ("a".into(), Value::Object(vec![("b".into(), s("1"))])),
        ]);
    }
}

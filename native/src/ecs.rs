//! An entry and its parse mapped to an Elastic Common Schema document: `processor/ecs.py`, key order included (the
//! document is written in insertion order, as orjson writes a dict).
//!
//! Trust, as in Python: what the source carries is written first and never overwritten; what the content says fills
//! only the places left free, never the scope roots, and the rest goes under `json` with its dotted key.

use crate::parsers::{Parsed, Value};
use crate::wire::{Entry, Source};
use std::borrow::Cow;

pub type Object = Vec<(String, Value)>;

/// A document's value that borrows: what the record, its parse, the source's fields and the settings hold is
/// pointed to, not copied, and keys are mostly static or parts of the record's own keys. Built per entry, written
/// once, dropped.
#[derive(Debug, PartialEq)]
pub enum Node<'a> {
    Null,
    Int(i64),
    Str(Cow<'a, str>),
    /// A value of the source's fields, an attr or the parse, written as it is.
    Val(&'a Value),
    List(Vec<Node<'a>>),
    Obj(Tree<'a>),
}

/// An object of the document: keys in insertion order, each once (a Python dict).
pub type Tree<'a> = Vec<(Cow<'a, str>, Node<'a>)>;

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
    if !key.contains('.') {
        return None; // one part: no list made for the most common keys
    }
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

/// What a key of a document's object holds, as the merges look at it.
enum Found<'x, 'a> {
    Absent,
    Null,
    Tree(&'x Tree<'a>),
    Pairs(&'x [(String, Value)]),
    Other,
}

fn classify_value(v: &Value) -> Found<'_, '_> {
    match v {
        Value::Null => Found::Null,
        Value::Object(pairs) => Found::Pairs(pairs),
        _ => Found::Other,
    }
}

fn classify<'x, 'a>(n: &'x Node<'a>) -> Found<'x, 'a> {
    match n {
        Node::Null => Found::Null,
        Node::Obj(t) => Found::Tree(t),
        Node::Val(v) => classify_value(v),
        _ => Found::Other,
    }
}

fn find<'x, 'a>(obj: &'x Tree<'a>, key: &str) -> Found<'x, 'a> {
    obj.iter().find(|(k, _)| k.as_ref() == key).map_or(Found::Absent, |(_, n)| classify(n))
}

/// `obj[key] = value` on a document's object: a key already there keeps its place.
fn set_in<'a>(obj: &mut Tree<'a>, key: Cow<'a, str>, value: Node<'a>) {
    match obj.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => obj.push((key, value)),
    }
}

/// The object at `obj[key]` (made, or put in place of a null, when absent; a borrowed object of the source's
/// fields turned into one that can take keys); None when something else is there.
fn child_in<'x, 'a>(obj: &'x mut Tree<'a>, key: &'a str) -> Option<&'x mut Tree<'a>> {
    let i = match obj.iter().position(|(k, _)| k.as_ref() == key) {
        Some(i) => i,
        None => {
            obj.push((Cow::Borrowed(key), Node::Obj(Vec::new())));
            obj.len() - 1
        }
    };
    let slot = &mut obj[i].1;
    match slot {
        Node::Null | Node::Val(Value::Null) => *slot = Node::Obj(Vec::new()),
        Node::Val(Value::Object(pairs)) => {
            *slot = Node::Obj(pairs.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Node::Val(v))).collect());
        }
        _ => {}
    }
    match slot {
        Node::Obj(t) => Some(t),
        _ => None,
    }
}

/// `blocked` on a document.
fn blocked_in(doc: &Tree<'_>, parts: &[&str]) -> bool {
    let mut node = Found::Tree(doc);
    for part in &parts[..parts.len() - 1] {
        let next = match node {
            Found::Tree(t) => find(t, part),
            Found::Pairs(p) => p.iter().find(|(k, _)| k == part).map_or(Found::Absent, |(_, v)| classify_value(v)),
            _ => unreachable!("only objects are walked into"),
        };
        match next {
            Found::Absent | Found::Null => return false,
            Found::Tree(_) | Found::Pairs(_) => node = next,
            Found::Other => return true,
        }
    }
    false
}

/// `holder` on a document.
fn holder_in<'x, 'a>(doc: &'x mut Tree<'a>, parts: &[&'a str]) -> &'x mut Tree<'a> {
    let mut node = doc;
    for part in &parts[..parts.len() - 1] {
        node = child_in(node, part).expect("checked by blocked_in()");
    }
    node
}

/// `_merge_content`: content's fields into the free places of `doc`; the rest into `claims`.
fn merge_content<'a>(doc: &mut Tree<'a>, fields: &'a [(String, Value)], claims: &mut Tree<'a>) {
    for (key, value) in fields {
        if scalar(value) {
            if let Some(parts) = content_path(key) {
                if !blocked_in(doc, &parts) {
                    let last = parts[parts.len() - 1];
                    let node = holder_in(doc, &parts);
                    if matches!(find(node, last), Found::Absent) {
                        node.push((Cow::Borrowed(last), Node::Val(value)));
                        continue;
                    }
                }
            }
        }
        set_in(claims, Cow::Borrowed(key), Node::Val(value));
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

/// `format_ns`: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC), `time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))`
/// and the nanoseconds. Digits written by hand: two per entry, `format!` cost a twentieth of the core's time.
pub fn format_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let sod = secs.rem_euclid(86_400);
    // Every i64 of nanoseconds falls in the years 1677 to 2262: four digits.
    let (y, m, d) = crate::timeparse::civil_from_days(secs.div_euclid(86_400));
    let mut out = *b"0000-00-00T00:00:00.000000000Z";
    let mut put = |end: usize, mut n: i64, width: usize| {
        for i in (end - width..end).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(4, y, 4);
    put(7, m, 2);
    put(10, d, 2);
    put(13, sod / 3600, 2);
    put(16, sod / 60 % 60, 2);
    put(19, sod % 60, 2);
    put(29, ns.rem_euclid(1_000_000_000), 9);
    String::from_utf8(out.to_vec()).expect("ASCII digits")
}

/// `content_hash`: BLAKE2b (8 bytes) of the entry's text, as hex.
pub fn content_hash(message: &str) -> String {
    hex(blake2b_simd::Params::new().hash_length(8).hash(message.as_bytes()).as_bytes())
}

/// `to_document` and what `Transform` adds to it (`logjet.pattern`, `event.hash`), for the entry whose id is
/// `doc_id`: the document, borrowing from its inputs.
pub fn to_document<'a>(source: &'a Source, base: &'a Object, entry: &'a Entry<'_>, parsed: &'a Parsed,
                       settings: &'a Settings, hash: &'a str, doc_id: &'a str) -> Tree<'a> {
    let seq = entry.seq;
    let s = |x: &'a str| Node::Str(Cow::Borrowed(x));
    let k = Cow::Borrowed;
    let mut level: Option<&'a str> = parsed.level.as_deref();
    if level.is_none() && !entry.attrs.is_empty() {
        level = match entry.attrs.iter().find(|(k, _)| k == "log.syslog.severity.name") {
            Some((_, Value::Str(sev))) => SYSLOG_LEVEL.iter().find(|(k, _)| k == sev).map(|(_, l)| *l),
            _ => None,
        };
    }
    let mut log = Vec::with_capacity(4);
    log.push((k("offset"), Node::Int(seq)));
    if let Some(level) = level.filter(|l| !l.is_empty()) {
        log.push((k("level"), s(level)));
    }
    let created = format_ns(entry.time_ns);
    let timestamp = parsed.time_ns.map_or_else(|| created.clone(), format_ns);
    let mut event = Vec::with_capacity(6);
    event.extend([(k("id"), s(doc_id)), (k("ingested"), s(&settings.ingested)),
                  (k("created"), Node::Str(Cow::Owned(created)))]);
    let stream = vec![(k("type"), s("logs")), (k("dataset"), s(&settings.dataset)),
                      (k("namespace"), s(&settings.namespace))];
    let mut logjet = Vec::with_capacity(4);
    logjet.extend([(k("source"), Node::Obj(vec![(k("id"), s(&source.id)), (k("kind"), s(&source.kind))])),
                   (k("seq"), Node::Int(seq))]);
    let mut doc: Tree<'a> = Vec::with_capacity(8 + base.len());
    doc.extend([(k("@timestamp"), Node::Str(Cow::Owned(timestamp))), (k("message"), s(&parsed.message)),
                (k("event"), Node::Obj(event)), (k("log"), Node::Obj(log)), (k("data_stream"), Node::Obj(stream)),
                (k("logjet"), Node::Obj(logjet))]);
    for (key, value) in base {
        match doc.iter_mut().find(|(k, _)| k.as_ref() == key) {
            // log, event: this entry's own objects take the source's keys (dict.update)
            Some((_, Node::Obj(own))) => {
                if let Value::Object(theirs) = value {
                    for (k, v) in theirs {
                        set_in(own, Cow::Borrowed(k), Node::Val(v));
                    }
                }
            }
            Some(_) => {} // not reached: a source's top-level values are objects, the document's too
            None => doc.push((Cow::Borrowed(key), Node::Val(value))),
        }
    }
    let mut claims = Tree::new();
    if !entry.attrs.is_empty() {
        merge_content(&mut doc, &entry.attrs, &mut claims);
    }
    if !entry.flags.is_empty() {
        let flags = Node::List(entry.flags.iter().map(|f| s(f)).collect());
        if let Some(lj) = child_in(&mut doc, "logjet") {
            lj.push((k("flags"), flags));
        }
    }
    if !parsed.fields.0.is_empty() {
        merge_content(&mut doc, &parsed.fields.0, &mut claims);
    }
    let mut extra: Option<Tree<'a>> = parsed.json.as_ref()
        .map(|j| j.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Node::Val(v))).collect());
    if !claims.is_empty() {
        match &mut extra {
            None => extra = Some(claims),
            Some(extra) => {
                for (k, v) in claims {
                    if matches!(find(extra, &k), Found::Absent) {
                        extra.push((k, v));
                    }
                }
            }
        }
    }
    if let Some(extra) = extra.filter(|e| !e.is_empty()) {
        set_in(&mut doc, k("json"), Node::Obj(extra));
    }
    let message: Option<&str> = match doc.iter().find(|(k, _)| k.as_ref() == "message") {
        Some((_, Node::Str(m))) if settings.patterns => Some(m.as_ref()),
        _ => None,
    };
    let pattern = message.map(crate::patterns::pattern);
    if let Some(lj) = child_in(&mut doc, "logjet") {
        if let Some((id, template)) = pattern {
            set_in(lj, k("pattern"), Node::Obj(vec![(k("id"), Node::Str(Cow::Owned(id))),
                                                    (k("template"), Node::Str(Cow::Owned(template)))]));
        }
    }
    if let Some(event) = child_in(&mut doc, "event") {
        if settings.keep_original {
            set_in(event, k("original"), s(&entry.message));
        }
        set_in(event, k("hash"), s(hash));
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(format_ns(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(format_ns(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_ns(1_709_251_199_123_456_789), "2024-02-29T23:59:59.123456789Z");
        assert_eq!(format_ns(i64::MIN), "1677-09-21T00:12:43.145224192Z");
        assert_eq!(format_ns(i64::MAX), "2262-04-11T23:47:16.854775807Z");
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

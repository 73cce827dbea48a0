//! The wire format, version 1, read the way `logjet/wire.py` `decode_record` reads it: a logjet record's JSON value
//! (`{"v":1,"source":{...},"entries":[[seq,time_ns,message,flags?,attrs?],...]}`) or a third party's bytes.
//!
//! The core decodes the records it can decode exactly as Python does. A logjet record that breaks the format, or
//! holds anything Python would read differently from here (an integer past 64 bits, a tag that is not a string,
//! `"v": 1.0`, a lone surrogate escape...), is not decoded (`None`): the caller hands the whole record back to the
//! Python reference, which raises the `WireFormatError` with its reason or decodes what it accepts.

use crate::parsers::Value;
use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;
use serde_json::Value as J;

/// `logjet.wire.Source`.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub id: String,
    pub kind: String,
    pub host: String,
    pub collector: String,
    pub path: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// `logjet.wire.Entry`.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub seq: i64,
    pub time_ns: i64,
    pub message: String,
    pub flags: Vec<String>,
    /// Absent and empty are the same to the ECS mapping (`if attrs`).
    pub attrs: Vec<(String, Value)>,
}

pub const FLAG_INVALID_UTF8: &str = "invalid_utf8";

/// An integer as msgspec and `type(x) is int` accept it: JSON integer syntax, within 64 bits signed.
fn int(v: &J) -> Option<i64> {
    match v {
        J::Number(n) => {
            let text = n.as_str();
            if text.contains(['.', 'e', 'E']) { None } else { text.parse::<i64>().ok() }
        }
        _ => None,
    }
}

/// An optional string field of the source: `str(raw.get(key, ""))`, read here only when it is a string already.
fn text_or_empty(raw: &serde_json::Map<String, J>, key: &str) -> Option<String> {
    match raw.get(key) {
        None => Some(String::new()),
        Some(J::String(s)) => Some(s.clone()),
        Some(_) => None, // str() of a number, a bool or null: Python's words for it
    }
}

fn truthy(v: &J) -> bool {
    match v {
        J::Null => false,
        J::Bool(b) => *b,
        J::Number(n) => n.as_str().parse::<f64>().map_or(true, |f| f != 0.0),
        J::String(s) => !s.is_empty(),
        J::Array(a) => !a.is_empty(),
        J::Object(o) => !o.is_empty(),
    }
}

fn source(raw: &J) -> Option<Source> {
    let J::Object(raw) = raw else { return None };
    let (Some(J::String(id)), Some(J::String(kind))) = (raw.get("id"), raw.get("kind")) else { return None };
    let mut tags = Vec::new();
    if let Some(t) = raw.get("tags").filter(|t| truthy(t)) {
        let J::Object(t) = t else { return None };
        for (k, v) in t {
            let J::String(v) = v else { return None };
            tags.push((k.clone(), v.clone()));
        }
    }
    Some(Source {
        id: id.clone(),
        kind: kind.clone(),
        host: text_or_empty(raw, "host")?,
        collector: text_or_empty(raw, "collector")?,
        path: match raw.get("path") {
            Some(J::String(p)) => Some(p.clone()),
            _ => None,
        },
        tags,
    })
}

/// An attr's value as msgspec gives it (str, int, float, bool); None for what the core leaves to Python.
fn attr(v: &J) -> Option<Value> {
    Some(match v {
        J::String(s) => Value::Str(s.clone()),
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => {
            let text = n.as_str();
            if text.contains(['.', 'e', 'E']) {
                let f = text.parse::<f64>().ok()?;
                if !f.is_finite() {
                    return None;
                }
                Value::Float(f)
            } else {
                Value::Int(text.parse::<i64>().ok()?)
            }
        }
        _ => return None,
    })
}

fn entry(raw: J) -> Option<Entry> {
    let J::Array(mut raw) = raw else { return None };
    if !(3..=5).contains(&raw.len()) {
        return None;
    }
    let seq = int(&raw[0])?;
    let time_ns = int(&raw[1])?;
    let mut attrs = Vec::new();
    if raw.len() == 5 {
        let J::Object(a) = raw.pop()? else { return None };
        for (k, v) in a {
            if k.is_empty() {
                return None;
            }
            attrs.push((k, attr(&v)?));
        }
    }
    let mut flags = Vec::new();
    if raw.len() == 4 {
        let J::Array(f) = raw.pop()? else { return None };
        for flag in f {
            let J::String(flag) = flag else { return None };
            flags.push(flag);
        }
    }
    let J::String(message) = raw.pop()? else { return None };
    Some(Entry { seq, time_ns, message, flags, attrs })
}

/// A logjet record's value (its `logjet-wire` header said 1), or None: the Python reference decides it.
pub fn decode_logjet(value: &[u8]) -> Option<(Source, Vec<Entry>)> {
    let J::Object(mut doc) = serde_json::from_slice::<J>(value).ok()? else { return None };
    match doc.get("v") {
        Some(J::Number(n)) if n.as_str() == "1" => {}
        _ => return None,
    }
    let source = source(doc.get("source")?)?;
    let J::Array(entries) = doc.swap_remove("entries")? else { return None };
    if entries.is_empty() {
        return None;
    }
    let entries = entries.into_iter().map(entry).collect::<Option<Vec<_>>>()?;
    Some((source, entries))
}

/// `foreign_source_id`.
pub fn foreign_source_id(topic: &str, partition: i64, topic_id: &str) -> String {
    if topic_id.is_empty() { format!("kafka/{topic}/{partition}") } else { format!("kafka/{topic}/{topic_id}/{partition}") }
}

/// A third party's record: one entry, its text as UTF-8 (invalid bytes replaced, and flagged), a trailing newline
/// and the carriage returns before it stripped. None when the receive time does not fit 64 bits.
pub fn decode_foreign(value: &[u8], topic: &str, partition: i64, offset: i64, timestamp_ms: i64, topic_id: &str)
    -> Option<(Source, Vec<Entry>)> {
    let (mut text, flags) = match std::str::from_utf8(value) {
        Ok(t) => (t.to_owned(), Vec::new()),
        Err(_) => (String::from_utf8_lossy(value).into_owned(), vec![FLAG_INVALID_UTF8.to_owned()]),
    };
    if text.ends_with('\n') {
        text.pop();
        let kept = text.trim_end_matches('\r').len();
        text.truncate(kept);
    }
    let source = Source { id: foreign_source_id(topic, partition, topic_id), kind: "kafka".into(), host: String::new(),
                          collector: String::new(), path: None, tags: Vec::new() };
    let time_ns = timestamp_ms.checked_mul(1_000_000)?;
    Some((source, vec![Entry { seq: offset, time_ns, message: text, flags, attrs: Vec::new() }]))
}

/// `entry_id`: BLAKE2b (15 bytes) of `source_id NUL seq`, URL-safe base64.
pub fn entry_id(source_id: &str, seq: i64) -> String {
    let mut h = Blake2bVar::new(15).expect("15 is a valid BLAKE2b output size");
    h.update(source_id.as_bytes());
    h.update(b"\x00");
    h.update(itoa::Buffer::new().format(seq).as_bytes());
    let mut digest = [0u8; 15];
    h.finalize_variable(&mut digest).expect("the buffer has the output size");
    urlsafe_b64(&digest)
}

/// URL-safe base64 of a length divisible by 3 (no padding needed).
fn urlsafe_b64(bytes: &[u8; 15]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(20);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_record() {
        let v = br#"{"v":1,"source":{"id":"s","kind":"file","host":"h","path":"/p","tags":{"a.b":"c"}},
                     "entries":[[1,2,"m"],[3,4,"n",["truncated"],{"x":1.5,"y":true}]]}"#;
        let (src, entries) = decode_logjet(v).unwrap();
        assert_eq!(src.path.as_deref(), Some("/p"));
        assert_eq!(src.tags, vec![("a.b".into(), "c".into())]);
        assert_eq!(entries[1].flags, vec!["truncated".to_owned()]);
        assert_eq!(entries[1].attrs, vec![("x".into(), Value::Float(1.5)), ("y".into(), Value::Bool(true))]);
    }

    #[test]
    fn leaves_to_python_what_it_does_not_read_exactly() {
        for bad in [&br#"{"v":1.0,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m"]]}"#[..],
                    br#"{"v":1,"source":{"id":"s","kind":"k"},"entries":[]}"#,
                    br#"{"v":1,"source":{"id":"s","kind":"k","host":3},"entries":[[1,2,"m"]]}"#,
                    br#"{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"\ud800"]]}"#,
                    br#"{"v":1,"source":{"id":"s","kind":"k"},"entries":[[18446744073709551616,2,"m"]]}"#,
                    br#"{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m",[],{"":1}]]}"#,
                    br#"{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m",[],null]]}"#] {
            assert!(decode_logjet(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn foreign_records() {
        let (src, e) = decode_foreign(b"a\xffb\r\r\n", "t", 2, 7, 5, "").unwrap();
        assert_eq!(src.id, "kafka/t/2");
        assert_eq!(e[0].message, "a\u{fffd}b");
        assert_eq!(e[0].flags, vec!["invalid_utf8".to_owned()]);
        assert_eq!(e[0].time_ns, 5_000_000);
    }

    #[test]
    fn entry_ids_match_python() {
        // logjet.wire.entry_id("s", 1) and ("kafka/t/2", -7).
        assert_eq!(entry_id("s", 1), "l1JfcBFAgp30_nx4mxSl");
        assert_eq!(entry_id("kafka/t/2", -7), "SaGoNyMbdarzFycX0YQT");
    }
}

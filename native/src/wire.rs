//! The wire format, version 1, read the way `logjet/wire.py` `decode_record` reads it: a logjet record's JSON value
//! (`{"v":1,"source":{...},"entries":[[seq,time_ns,message,flags?,attrs?],...]}`) or a third party's bytes.
//!
//! The core decodes the records it can decode exactly as Python does. A logjet record that breaks the format, or
//! holds anything Python would read differently from here (an integer past 64 bits, a tag that is not a string,
//! `"v": 1.0`, a lone surrogate escape...), is not decoded (`None`): the caller hands the whole record back to the
//! Python reference, which raises the `WireFormatError` with its reason or decodes what it accepts.

use crate::parsers::Value;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value as J;
use std::borrow::Cow;

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

/// `logjet.wire.Entry`: its text borrowed from the record's value where it can be.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry<'a> {
    pub seq: i64,
    pub time_ns: i64,
    pub message: Cow<'a, str>,
    pub flags: Vec<Cow<'a, str>>,
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

/// A str of the record: borrowed where the JSON text holds it as it is, owned where it had escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// An integer field of an entry (`int`); anything else is an error.
fn int_field<'de, A: SeqAccess<'de>>(seq: &mut A) -> Result<i64, A::Error> {
    let n: serde_json::Number = seq.next_element()?.ok_or_else(|| de::Error::custom("short entry"))?;
    int(&J::Number(n)).ok_or_else(|| de::Error::custom("not a 64-bit integer"))
}

/// An entry: `[seq, time_ns, message, flags?, attrs?]`, read straight from the text (no `serde_json::Value` per
/// entry); every check of the `Value` reading kept, an error where it said None.
impl<'de> Deserialize<'de> for Entry<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entry<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an entry array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let short = || de::Error::custom("short entry");
                let seq_no = int_field(&mut seq)?;
                let time_ns = int_field(&mut seq)?;
                let message = seq.next_element::<Text<'de>>()?.ok_or_else(short)?.0;
                let mut flags = Vec::new();
                let mut attrs = Vec::new();
                if let Some(f) = seq.next_element::<Vec<Text<'de>>>()? {
                    flags = f.into_iter().map(|t| t.0).collect();
                    if let Some(a) = seq.next_element::<Attrs>()? {
                        attrs = a.0;
                        if seq.next_element::<IgnoredAny>()?.is_some() {
                            return Err(de::Error::custom("long entry"));
                        }
                    }
                }
                Ok(Entry { seq: seq_no, time_ns, message, flags, attrs })
            }
        }
        d.deserialize_seq(V)
    }
}

/// An entry's attrs: an object of non-empty keys and `attr` values; a repeated key keeps its first place and its
/// last value (as the `Value` map read it), checked after.
struct Attrs(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Attrs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attrs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an attrs object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut raw: Vec<(String, J)> = Vec::new();
                while let Some(k) = map.next_key::<Text<'de>>()? {
                    let v: J = map.next_value()?;
                    match raw.iter_mut().find(|(key, _)| *key == k.0) {
                        Some(slot) => slot.1 = v,
                        None => raw.push((k.0.into_owned(), v)),
                    }
                }
                let bad = || de::Error::custom("attr");
                let attrs = raw.into_iter()
                    .map(|(k, v)| if k.is_empty() { None } else { Some((k, attr(&v)?)) })
                    .collect::<Option<Vec<_>>>().ok_or_else(bad)?;
                Ok(Attrs(attrs))
            }
        }
        d.deserialize_map(V)
    }
}

/// A logjet record's envelope: `v` (exactly the integer 1), `source` (read as a `Value`, once per record, by
/// `source`), `entries` (non-empty); other keys skipped. A repeated envelope key is left to Python.
struct Envelope<'a> {
    source: Source,
    entries: Vec<Entry<'a>>,
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Envelope<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a logjet record")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut v, mut source, mut entries) = (None, None, None);
                let twice = || de::Error::custom("repeated key");
                while let Some(k) = map.next_key::<Text<'de>>()? {
                    match k.0.as_ref() {
                        "v" if v.is_none() => v = Some(map.next_value::<serde_json::Number>()?),
                        "source" if source.is_none() => source = Some(map.next_value::<J>()?),
                        "entries" if entries.is_none() => entries = Some(map.next_value::<Vec<Entry<'de>>>()?),
                        "v" | "source" | "entries" => return Err(twice()),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let missing = || de::Error::custom("not a logjet record");
                if v.as_ref().map(serde_json::Number::as_str) != Some("1") {
                    return Err(missing());
                }
                let source = source.as_ref().and_then(self::source).ok_or_else(missing)?;
                let entries = entries.filter(|e| !e.is_empty()).ok_or_else(missing)?;
                Ok(Envelope { source, entries })
            }
        }
        d.deserialize_map(V)
    }
}

/// A logjet record's value (its `logjet-wire` header said 1), or None: the Python reference decides it.
pub fn decode_logjet(value: &[u8]) -> Option<(Source, Vec<Entry<'_>>)> {
    let envelope: Envelope<'_> = serde_json::from_slice(value).ok()?;
    Some((envelope.source, envelope.entries))
}

/// `foreign_source_id`.
pub fn foreign_source_id(topic: &str, partition: i64, topic_id: &str) -> String {
    if topic_id.is_empty() { format!("kafka/{topic}/{partition}") } else { format!("kafka/{topic}/{topic_id}/{partition}") }
}

/// A third party's record: one entry, its text as UTF-8 (invalid bytes replaced, and flagged), a trailing newline
/// and the carriage returns before it stripped. None when the receive time does not fit 64 bits.
pub fn decode_foreign<'a>(value: &'a [u8], topic: &str, partition: i64, offset: i64, timestamp_ms: i64, topic_id: &str)
    -> Option<(Source, Vec<Entry<'a>>)> {
    // Without the trailing newline and the carriage returns before it.
    fn strip(t: &str) -> &str {
        t.strip_suffix('\n').map_or(t, |t| t.trim_end_matches('\r'))
    }
    let (text, flags) = match std::str::from_utf8(value) {
        Ok(t) => (Cow::Borrowed(strip(t)), Vec::new()),
        Err(_) => {
            let mut t = String::from_utf8_lossy(value).into_owned();
            t.truncate(strip(&t).len());
            (Cow::Owned(t), vec![Cow::Borrowed(FLAG_INVALID_UTF8)])
        }
    };
    let source = Source { id: foreign_source_id(topic, partition, topic_id), kind: "kafka".into(), host: String::new(),
                          collector: String::new(), path: None, tags: Vec::new() };
    let time_ns = timestamp_ms.checked_mul(1_000_000)?;
    Some((source, vec![Entry { seq: offset, time_ns, message: text, flags, attrs: Vec::new() }]))
}

/// `entry_id`: BLAKE2b (15 bytes) of `source_id NUL seq`, URL-safe base64.
pub fn entry_id(source_id: &str, seq: i64) -> String {
    let mut h = blake2b_simd::Params::new().hash_length(15).to_state();
    h.update(source_id.as_bytes());
    h.update(b"\x00");
    h.update(itoa::Buffer::new().format(seq).as_bytes());
    urlsafe_b64(h.finalize().as_bytes().try_into().expect("15 bytes"))
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
    fn entries_borrow_their_text_and_read_attrs_as_a_map() {
        let v = br#"{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"plain",["f"],{"a":1,"b":"x","a":true}],[3,4,"a\"q"]]}"#;
        let (_, entries) = decode_logjet(v).unwrap();
        assert!(matches!(entries[0].message, Cow::Borrowed("plain")));
        assert!(matches!(&entries[1].message, Cow::Owned(m) if m == "a\"q"));
        // A repeated attr keeps its first place and takes its last value, as a dict does.
        assert_eq!(entries[0].attrs, vec![("a".into(), Value::Bool(true)), ("b".into(), Value::Str("x".into()))]);
    }

    #[test]
    fn a_repeated_or_missing_envelope_key_is_left_to_python() {
        for bad in [&br#"{"v":1,"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m"]]}"#[..],
                    br#"{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m"]],"entries":[[1,2,"m"]]}"#,
                    br#"{"v":1,"source":{"id":"s","kind":"k"},"source":{"id":"s","kind":"k"},"entries":[[1,2,"m"]]}"#,
                    br#"{"source":{"id":"s","kind":"k"},"entries":[[1,2,"m"]]}"#,
                    br#"{"v":1,"entries":[[1,2,"m"]]}"#,
                    br#"{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m",[],{},6]]}"#,
                    br#"{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2]]}"#,
                    br#"{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1,2,"m",[3]]]}"#,
                    br#"{"v":1,"source":{"id":"s","kind":"k"},"entries":[[1.0,2,"m"]]}"#,
                    br#"[1]"#] {
            assert!(decode_logjet(bad).is_none(), "{}", String::from_utf8_lossy(bad));
        }
        let ok = br#"{"x":[{"y":null}],"v":1,"source":{"id":"s","kind":"k","other":[1]},"entries":[[1,2,"m",[]]]}"#;
        assert!(decode_logjet(ok).is_some());
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

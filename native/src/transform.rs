//! One consumed batch to encoded documents: `processor/transform.py` `Transform.__call__` for the records the core
//! decides whole (decode, parse, ECS mapping, `event.hash`, the id, the JSON body as `orjson.dumps` writes it).
//!
//! A record is decided whole or handed back whole (its index in `Batch::handed_back`): the Python reference then
//! does all of it, so its documents and dead letters are the reference's by construction. Handed back: a record the
//! wire decoder leaves to Python (every record that breaks the format, so every `wire_format` dead letter is
//! Python's), an entry the parser delegates or panics on, a document nested deeper than orjson writes, a panic
//! anywhere in the record.

use crate::bulk::Bulk;
use crate::ecs::{content_hash, source_fields, to_document, Node, Object, Settings, Tree};
use crate::parsers::{parse_line, Value};
use crate::user::Rules;
use crate::wire::{decode_foreign, decode_logjet, entry_id, Entry, Source};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What the worker has of one consumed record.
pub struct Record<'a> {
    pub value: Option<&'a [u8]>,
    /// The `logjet-wire` header's value: None for a third-party record.
    pub wire: Option<&'a [u8]>,
    pub topic: &'a str,
    pub partition: i64,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub topic_id: &'a str,
}

/// One document of `Batch::bulk`: where it came from (record index, entry index) and its `event.hash`.
pub struct Doc {
    pub record: u32,
    pub entry: u32,
    pub hash: String,
}

#[derive(Default)]
pub struct Batch {
    pub docs: Vec<Doc>,
    /// Every document as its bulk request lines, one after the other: the batch's bulk body in one buffer.
    pub bulk: Bulk,
    pub handed_back: Vec<usize>,
}

/// A document nested this deep or deeper is handed back: orjson refuses to write past 255 levels (`unencodable`),
/// and the Python path decides those, the limit kept with room to spare.
pub const MAX_DEPTH: usize = 200;

/// Why a record is handed back (for the tests; the caller needs only the index).
#[derive(Debug, PartialEq, Eq)]
pub enum HandBack {
    Wire,
    Parse,
    Depth,
    Panic,
    /// A user-defined parser may apply to it (`user.rs`): only the Python path runs those.
    User,
}

fn decode<'a>(r: &Record<'a>) -> Option<(Source, Vec<Entry<'a>>)> {
    match r.wire {
        None => decode_foreign(r.value.unwrap_or(b""), r.topic, r.partition, r.offset, r.timestamp_ms, r.topic_id),
        Some(b"1") => decode_logjet(r.value.filter(|v| !v.is_empty())?),
        Some(_) => None, // another version: Python names it
    }
}

/// The documents of one record, added to `out`; or why the record goes back to Python (`out` then holds part of
/// the record's documents: the caller drops them).
pub fn transform_record(index: usize, r: &Record<'_>, settings: &Settings, rules: &Rules, panic_on: Option<usize>,
                        out: &mut Batch) -> Result<(), HandBack> {
    let (source, entries) = decode(r).ok_or(HandBack::Wire)?;
    if panic_on == Some(index) {
        panic!("test hook: panic on record {index}");
    }
    if rules.claim(&source, &entries) {
        return Err(HandBack::User);
    }
    let base = source_fields(&source);
    out.docs.reserve(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let parsed = parse_line(&entry.message, entry.time_ns).map_err(|_| HandBack::Parse)?;
        let hash = content_hash(&entry.message);
        let id = entry_id(&source.id, entry.seq);
        let doc = to_document(&source, &base, entry, &parsed, settings, &hash, &id);
        out.bulk.begin(&id);
        dumps_tree(&mut out.bulk.buf, &doc, 1).ok_or(HandBack::Depth)?;
        out.bulk.end();
        drop(doc);
        out.docs.push(Doc { record: index as u32, entry: i as u32, hash });
    }
    Ok(())
}

/// mimalloc's `mi_option_purge_delay` (the same index in its v2 and v3 option enums; not exported as a constant).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keep the memory a batch frees for the next batch, as `processor/transform.py` `keep_freed_memory` does for glibc:
/// mimalloc gives freed pages back to the system 10 ms after they are freed, so each batch faulted its documents'
/// and bodies' memory in again (measured: 13,600 page faults and an eighth of the core's time in the kernel zeroing
/// pages for 5 batches of 300,000 entries). The worker's memory then stays at its largest batch's, which it reaches
/// anyway. Set once, before the first batch (mimalloc's options are not synchronised).
pub fn keep_freed_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: a plain store of a documented option; `Once` makes it happen once.
    ONCE.call_once(|| unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) });
}

/// Every record of the batch, in order; a panic for one record hands that record back. `buf` is a buffer to reuse
/// (the last batch's): a fresh one would be faulted in page by page, batch after batch.
pub fn transform_batch(records: &[Record<'_>], settings: &Settings, rules: &Rules, panic_on: Option<usize>,
                       buf: Vec<u8>) -> Batch {
    keep_freed_memory();
    let mut out = Batch { bulk: Bulk::reusing(buf), ..Batch::default() };
    // A document's bulk lines are about twice the entry's text and its ECS fields: room for most batches without
    // a copy.
    out.bulk.buf.reserve(records.iter().map(|r| r.value.map_or(0, <[u8]>::len)).sum::<usize>() * 3);
    for (i, r) in records.iter().enumerate() {
        let (docs, mark) = (out.docs.len(), out.bulk.mark());
        match catch_unwind(AssertUnwindSafe(|| transform_record(i, r, settings, rules, panic_on, &mut out))) {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => {
                out.docs.truncate(docs);
                out.bulk.truncate(mark);
                out.handed_back.push(i);
            }
        }
    }
    out
}

/// A str as orjson writes it: `"` and `\` escaped, control characters as `\b \t \n \f \r` or `\u00xx`, all else
/// (DEL and non-ASCII included) as UTF-8.
pub fn dumps_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time: most text has nothing to escape, so runs are copied whole.
        if let Some(word) = bytes.get(i..i + 8) {
            if !needs_escape(u64::from_le_bytes(word.try_into().expect("8 bytes"))) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if ESCAPED[b as usize] {
            out.extend_from_slice(&bytes[start..i]);
            escape(out, b);
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes is one `dumps_str` escapes (below 0x20, `"` or `\`): the classic "has a byte less
/// than n" and "has a zero byte" word tricks, exact as a yes/no.
#[inline]
fn needs_escape(w: u64) -> bool {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & HIGHS != 0
}

fn escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]),
    }
}

/// The bytes `dumps_str` escapes: control characters, `"` and `\`.
static ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// An object of strs as orjson writes a dict of them, in the pairs' order.
pub fn dumps_str_pairs(out: &mut Vec<u8>, pairs: &[(String, String)]) {
    out.push(b'{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        dumps_str(out, k);
        out.push(b':');
        dumps_str(out, v);
    }
    out.push(b'}');
}

/// A float as orjson writes it: the shortest digits that read back the same (as Python's repr), in positional
/// notation for decimal exponents from -5 to 15 (`1.0`, `0.00001`), in scientific notation otherwise (`1e+16`,
/// `1.5e-7`); NaN and infinities as null.
pub fn dumps_float(out: &mut Vec<u8>, f: f64) {
    if !f.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    // Shortest round-trip digits ("-1.2345e-7", "1e16", "0e0"), written on the stack: no String per float.
    let mut buf = [0u8; 32];
    let len = {
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        std::io::Write::write_fmt(&mut cursor, format_args!("{f:e}")).expect("a double's LowerExp fits 32 bytes");
        cursor.position() as usize
    };
    let sci = std::str::from_utf8(&buf[..len]).expect("LowerExp writes ASCII");
    let (mantissa, exp) = sci.split_once('e').expect("LowerExp writes an exponent");
    let exp: i32 = exp.parse().expect("LowerExp writes an integer exponent");
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let mut digit_buf = [0u8; 32];
    let mut n = 0;
    for b in mantissa.bytes().filter(|b| *b != b'.') {
        digit_buf[n] = b;
        n += 1;
    }
    let digits = std::str::from_utf8(&digit_buf[..n]).expect("ASCII digits");
    if negative {
        out.push(b'-');
    }
    if (-5..16).contains(&exp) {
        if exp < 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            out.extend_from_slice(digits.as_bytes());
        } else {
            let point = exp as usize + 1;
            if digits.len() <= point {
                out.extend_from_slice(digits.as_bytes());
                out.extend(std::iter::repeat_n(b'0', point - digits.len()));
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits.as_bytes()[..point]);
                out.push(b'.');
                out.extend_from_slice(&digits.as_bytes()[point..]);
            }
        }
    } else {
        out.extend_from_slice(mantissa.as_bytes());
        out.push(b'e');
        if exp > 0 {
            out.push(b'+');
        }
        out.extend_from_slice(itoa::Buffer::new().format(exp).as_bytes());
    }
}

/// A list as orjson writes it, each item by `item` (values and the borrowing document's nodes alike).
fn dumps_list<T>(out: &mut Vec<u8>, items: &[T], depth: usize,
                 item: fn(&mut Vec<u8>, &T, usize) -> Option<()>) -> Option<()> {
    if depth >= MAX_DEPTH {
        return None;
    }
    out.push(b'[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(out, x, depth + 1)?;
    }
    out.push(b']');
    Some(())
}

fn dumps_value(out: &mut Vec<u8>, v: &Value, depth: usize) -> Option<()> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::UInt(u) => out.extend_from_slice(itoa::Buffer::new().format(*u).as_bytes()),
        Value::Float(f) => dumps_float(out, *f),
        Value::Str(s) => dumps_str(out, s),
        Value::List(items) => dumps_list(out, items, depth, dumps_value)?,
        Value::Object(pairs) => dumps_object(out, pairs, depth + 1)?,
    }
    Some(())
}

/// An object as `orjson.dumps` writes a dict: keys in order, no spaces; None when nested deeper than `MAX_DEPTH`.
pub fn dumps_object(out: &mut Vec<u8>, pairs: &Object, depth: usize) -> Option<()> {
    if depth >= MAX_DEPTH {
        return None;
    }
    out.push(b'{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        dumps_str(out, k);
        out.push(b':');
        dumps_value(out, v, depth)?;
    }
    out.push(b'}');
    Some(())
}

fn dumps_node(out: &mut Vec<u8>, n: &Node<'_>, depth: usize) -> Option<()> {
    match n {
        Node::Null => out.extend_from_slice(b"null"),
        Node::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Node::Str(s) => dumps_str(out, s),
        Node::Val(v) => dumps_value(out, v, depth)?,
        Node::List(items) => dumps_list(out, items, depth, dumps_node)?,
        Node::Obj(pairs) => dumps_tree(out, pairs, depth + 1)?,
    }
    Some(())
}

/// A document as `orjson.dumps` writes it (`dumps_object`'s twin for the borrowing document).
pub fn dumps_tree(out: &mut Vec<u8>, pairs: &Tree<'_>, depth: usize) -> Option<()> {
    if depth >= MAX_DEPTH {
        return None;
    }
    out.push(b'{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        dumps_str(out, k);
        out.push(b':');
        dumps_node(out, v, depth)?;
    }
    out.push(b'}');
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn strings_read_back(s in any::<String>()) {
            let mut out = Vec::new();
            dumps_str(&mut out, &s);
            prop_assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), s);
            prop_assert!(!out[1..out.len() - 1].iter().any(|b| *b < 0x20));
        }

        #[test]
        fn strings_escape_as_byte_by_byte(s in "[\\x00-\\x7f\"\\\\é]{0,40}") {
            let mut fast = Vec::new();
            dumps_str(&mut fast, &s);
            let mut slow = vec![b'"'];
            for b in s.bytes() {
                if ESCAPED[b as usize] { escape(&mut slow, b) } else { slow.push(b) }
            }
            slow.push(b'"');
            prop_assert_eq!(fast, slow);
        }

        #[test]
        fn floats_read_back(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
            let text = float(f);
            prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), f.to_bits());
            let exp = format!("{f:e}").split_once('e').unwrap().1.parse::<i32>().unwrap();
            prop_assert_eq!(text.contains('e'), !(-5..16).contains(&exp), "{}", text);
        }

        #[test]
        fn foreign_records_any_bytes(v in proptest::collection::vec(any::<u8>(), 0..64)) {
            let (_, e) = crate::wire::decode_foreign(&v, "t", 0, 0, 0, "").unwrap();
            prop_assert!(!e[0].message.ends_with('\n'));
            prop_assert_eq!(e[0].flags.is_empty(), std::str::from_utf8(&v).is_ok());
        }

        #[test]
        fn any_tags_make_a_document(tags in proptest::collection::vec(
                ("(a|b|host|labels|log|event|message|json|kubernetes|\\.|id|offset){1,4}", "[a-z]{0,3}"), 0..6),
                attrs in proptest::collection::vec(("(a|b|host|labels|log|event|\\.|id|offset){1,4}", any::<i64>()), 0..6)) {
            let src = crate::wire::Source { id: "s".into(), kind: "k".into(), host: "h".into(), collector: "c".into(),
                                            path: Some("/p".into()), tags };
            let entry = Entry { seq: 1, time_ns: 0, message: "m".into(), flags: vec![],
                                attrs: attrs.into_iter().map(|(k, v)| (k, Value::Int(v))).collect() };
            let settings = Settings { dataset: "d".into(), namespace: "n".into(), ingested: "i".into(),
                                      keep_original: true, patterns: true };
            let base = source_fields(&src);
            let parsed = parse_line("m", 0).unwrap();
            let doc = to_document(&src, &base, &entry, &parsed, &settings, "h", "i");
            let mut out = Vec::new();
            dumps_tree(&mut out, &doc, 1).unwrap();
            let back: serde_json::Value = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(back["logjet"]["source"]["id"].as_str(), Some("s"));
            prop_assert_eq!(back["event"]["hash"].as_str(), Some("h"));
        }
    }

    fn float(f: f64) -> String {
        let mut out = Vec::new();
        dumps_float(&mut out, f);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_as_orjson_writes_them() {
        for (f, text) in [(1e16, "1e+16"), (1e-7, "1e-7"), (1.2345678901234568e17, "1.2345678901234568e+17"),
                          (0.1, "0.1"), (5e-324, "5e-324"), (-0.0, "-0.0"), (1.0, "1.0"), (1e15, "1000000000000000.0"),
                          (1e-5, "0.00001"), (1.2345e-5, "0.000012345"), (123.456, "123.456"), (f64::NAN, "null"),
                          (9876543210123450.0, "9876543210123450.0"), (1e-6, "1e-6"), (0.0, "0.0")] {
            assert_eq!(float(f), text, "{f:e}");
        }
    }

    #[test]
    fn strings_as_orjson_writes_them() {
        let mut out = Vec::new();
        dumps_str(&mut out, "\u{0}\u{1}\u{8}\t\n\u{c}\r\u{1f}\u{7f}\"\\ é\u{2028}😀");
        assert_eq!(String::from_utf8(out).unwrap(), "\"\\u0000\\u0001\\b\\t\\n\\f\\r\\u001f\u{7f}\\\"\\\\ é\u{2028}😀\"");
    }

    #[test]
    fn freed_memory_is_kept() {
        // The option index is mimalloc's purge delay: its default is 10 (ms) until set.
        let before = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        keep_freed_memory();
        assert!(before == 10 || before == -1, "option {MI_OPTION_PURGE_DELAY} is not the purge delay: {before}");
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }, -1);
    }

    #[test]
    fn a_panic_hands_the_record_back() {
        let settings = Settings { dataset: "d".into(), namespace: "n".into(), ingested: "i".into(),
                                  keep_original: false, patterns: true };
        let r = |v: &'static [u8]| Record { value: Some(v), wire: None, topic: "t", partition: 0, offset: 1,
                                            timestamp_ms: 1, topic_id: "" };
        let out = transform_batch(&[r(b"a"), r(b"b"), r(b"c")], &settings, &Rules::default(), Some(1), Vec::new());
        assert_eq!(out.handed_back, vec![1]);
        assert_eq!(out.docs.iter().map(|d| d.record).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(out.bulk.len(), 2);
        let bodies: Vec<serde_json::Value> = (0..2).map(|i| serde_json::from_slice(out.bulk.body(i)).unwrap()).collect();
        assert_eq!((bodies[0]["message"].as_str(), bodies[1]["message"].as_str()), (Some("a"), Some("c")));
    }
}

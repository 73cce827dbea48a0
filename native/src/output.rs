//! Entries of one source into wire records: `collectors/output.py` `Output.ship` and `_fit`, with the encoding of
//! `logjet/wire.py` `encode_batch` (orjson's bytes), for the collector inputs whose entries the core makes.
//!
//! The records are the ones the Python path sends for the same entries, byte for byte: the same split by
//! `batch_max_entries` and `batch_max_bytes` (counted in code points, as `len(str)`), the same halving until a record
//! fits `record_max_bytes`, the same cut of an entry too large alone (tests/unit/test_syslog_core.py).
//!
//! Each entry is encoded once, into one buffer, the entries separated by commas: a record of consecutive entries is
//! then one slice of it between the source's prefix and `]}`, and the sizes `_fit` compares are sums.

use crate::transform::{dumps_str, dumps_str_pairs};
use std::borrow::Cow;
use std::ops::Range;

pub const FLAG_TRUNCATED: &str = "truncated";

/// `Output`'s settings: `batch_max_entries`, `batch_max_bytes`, `record_max_bytes`.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: usize,
    pub max_bytes: usize,
    pub record_max_bytes: usize,
}

/// `logjet.wire.Entry`; its attrs object is written once, elsewhere (`attrs` ranges a buffer of attrs objects; an
/// empty range: no attrs).
#[derive(Debug)]
pub struct Entry<'a> {
    pub seq: i64,
    pub time_ns: i64,
    pub message: Cow<'a, str>,
    pub flags: Vec<Cow<'static, str>>,
    pub attrs: Range<usize>,
}

/// `{"v":1,"source":{...},"entries":[`: what every record of the source starts with (`Source.to_json`).
pub fn source_prefix(id: &str, kind: &str, host: &str, collector: &str, path: Option<&str>, tags: &[(String, String)])
    -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(br#"{"v":1,"source":{"id":"#);
    dumps_str(&mut out, id);
    out.extend_from_slice(br#","kind":"#);
    dumps_str(&mut out, kind);
    out.extend_from_slice(br#","host":"#);
    dumps_str(&mut out, host);
    out.extend_from_slice(br#","collector":"#);
    dumps_str(&mut out, collector);
    if let Some(path) = path {
        out.extend_from_slice(br#","path":"#);
        dumps_str(&mut out, path);
    }
    if !tags.is_empty() {
        out.extend_from_slice(br#","tags":"#);
        dumps_str_pairs(&mut out, tags);
    }
    out.extend_from_slice(br#"},"entries":["#);
    out
}

const SUFFIX: &[u8] = b"]}";

/// One entry as `encode_batch` writes it: `[seq,time_ns,message]`, then `flags` if there are flags or attrs, then
/// `attrs` if there are attrs.
fn encode(out: &mut Vec<u8>, e: &Entry<'_>, message: &str, flags: &[Cow<'static, str>], attrs: &[u8]) {
    let mut n = itoa::Buffer::new();
    out.push(b'[');
    out.extend_from_slice(n.format(e.seq).as_bytes());
    out.push(b',');
    out.extend_from_slice(n.format(e.time_ns).as_bytes());
    out.push(b',');
    dumps_str(out, message);
    if !flags.is_empty() || !attrs.is_empty() {
        out.push(b',');
        out.push(b'[');
        for (i, f) in flags.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            dumps_str(out, f);
        }
        out.push(b']');
    }
    if !attrs.is_empty() {
        out.push(b',');
        out.extend_from_slice(attrs);
    }
    out.push(b']');
}

/// One record's value: the prefix, a run of the encoded entries and `]}`; or a value of its own (an entry cut down).
#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    Run(Range<usize>),
    Own(Vec<u8>),
}

#[derive(Debug)]
pub struct Record {
    pub entries: usize,
    pub body: Body,
}

impl Record {
    /// Bytes of the value (`encoded`: the buffer `records` encoded the entries into).
    pub fn len(&self, prefix: &[u8]) -> usize {
        match &self.body {
            Body::Run(range) => prefix.len() + range.len() + SUFFIX.len(),
            Body::Own(v) => v.len(),
        }
    }

    /// Write the value into `out` (exactly `len` bytes).
    pub fn write(&self, prefix: &[u8], encoded: &[u8], out: &mut [u8]) {
        match &self.body {
            Body::Run(range) => {
                let (head, rest) = out.split_at_mut(prefix.len());
                head.copy_from_slice(prefix);
                let (mid, tail) = rest.split_at_mut(range.len());
                mid.copy_from_slice(&encoded[range.clone()]);
                tail.copy_from_slice(SUFFIX);
            }
            Body::Own(v) => out.copy_from_slice(v),
        }
    }
}

/// The records `Output.ship` sends for `entries` of the source whose records start with `prefix`, added to `out`;
/// the entries are encoded at the end of `encoded` (a buffer reused from call to call: fresh memory costs a page
/// fault per page), which the records' runs index. `attrs` holds the entries' attrs objects.
pub fn records(prefix: &[u8], entries: &[Entry<'_>], attrs: &[u8], limits: &Limits, encoded: &mut Vec<u8>,
               out: &mut Vec<Record>) {
    // spans[i]: entry i's bytes in `encoded` (a comma follows each).
    let mut spans = Vec::with_capacity(entries.len());
    let mut chunks = Vec::new();
    let (mut start, mut size) = (0usize, 0usize);
    for (i, e) in entries.iter().enumerate() {
        let at = encoded.len();
        encode(encoded, e, &e.message, &e.flags, &attrs[e.attrs.clone()]);
        spans.push(at..encoded.len());
        encoded.push(b',');
        let n = chars(&e.message);
        if i > start && (i - start >= limits.max_entries || size + n > limits.max_bytes) {
            chunks.push(start..i);
            start = i;
            size = 0;
        }
        size += n;
    }
    if start < entries.len() {
        chunks.push(start..entries.len());
    }
    for chunk in chunks {
        fit(prefix, entries, attrs, &spans, chunk, limits.record_max_bytes, out);
    }
}

/// `len(str)`: code points.
fn chars(s: &str) -> usize {
    if s.is_ascii() { s.len() } else { s.chars().count() }
}

/// `Output._fit`: the run as one record if it fits, else its halves, down to one entry, which is cut to fit.
fn fit(prefix: &[u8], entries: &[Entry<'_>], attrs: &[u8], spans: &[Range<usize>], run: Range<usize>, limit: usize,
       out: &mut Vec<Record>) {
    let bytes = spans[run.start].start..spans[run.end - 1].end;
    let size = prefix.len() + bytes.len() + SUFFIX.len();
    if size <= limit {
        out.push(Record { entries: run.len(), body: Body::Run(bytes) });
    } else if run.len() > 1 {
        let half = run.start + run.len() / 2;
        fit(prefix, entries, attrs, spans, run.start..half, limit, out);
        fit(prefix, entries, attrs, spans, half..run.end, limit, out);
    } else {
        let e = &entries[run.start];
        out.push(Record { entries: 1, body: Body::Own(cut_to_fit(prefix, e, &attrs[e.attrs.clone()], size, limit)) });
    }
}

/// One entry alone too large: its message cut in proportion, then by tenths until the record fits (or is empty),
/// flagged truncated.
fn cut_to_fit(prefix: &[u8], e: &Entry<'_>, attrs: &[u8], size: usize, limit: usize) -> Vec<u8> {
    let mut flags = e.flags.clone();
    if !flags.iter().any(|f| f == FLAG_TRUNCATED) {
        flags.insert(0, Cow::Borrowed(FLAG_TRUNCATED));
    }
    let length = chars(&e.message) as i128;
    // Python's floor division on its unbounded ints (the limit is at least 65536, so none of these is negative).
    let mut keep = (length * (limit as i128 - 4096)).div_euclid(size as i128);
    loop {
        let message = head(&e.message, keep);
        let mut value = Vec::with_capacity(prefix.len() + message.len() + attrs.len() + 64);
        value.extend_from_slice(prefix);
        encode(&mut value, e, message, &flags, attrs);
        value.extend_from_slice(SUFFIX);
        if value.len() <= limit || keep == 0 {
            return value;
        }
        keep = (keep * 9).div_euclid(10);
    }
}

/// `s[:n]` in code points, with Python's meaning of a negative `n` (that many fewer than all).
fn head(s: &str, n: i128) -> &str {
    let total = chars(s) as i128;
    let n = if n < 0 { (total + n).max(0) } else { n.min(total) } as usize;
    match s.char_indices().nth(n) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// Entries per flag (`entries_flagged`).
pub type Flagged = Vec<(Cow<'static, str>, u64)>;

/// `entries_flagged` per flag, as `Output.ship` counts them (before any cut).
pub fn count_flags(entries: &[Entry<'_>], counts: &mut Flagged) {
    for e in entries {
        for f in &e.flags {
            match counts.iter_mut().find(|(k, _)| k == f) {
                Some(slot) => slot.1 += 1,
                None => counts.push((f.clone(), 1)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(messages: &[&'static str]) -> Vec<Entry<'static>> {
        messages.iter().enumerate()
            .map(|(i, m)| Entry { seq: i as i64, time_ns: 5, message: Cow::Borrowed(m), flags: vec![], attrs: 0..0 })
            .collect()
    }

    fn run(prefix: &[u8], e: &[Entry<'_>], attrs: &[u8], limits: &Limits) -> Vec<(usize, Vec<u8>)> {
        let (mut encoded, mut out) = (b"left from before".to_vec(), Vec::new());
        records(prefix, e, attrs, limits, &mut encoded, &mut out);
        out.iter().map(|r| {
            let mut v = vec![0; r.len(prefix)];
            r.write(prefix, &encoded, &mut v);
            (r.entries, v)
        }).collect()
    }

    const LIMITS: Limits = Limits { max_entries: 10, max_bytes: 1 << 20, record_max_bytes: 65536 };

    #[test]
    fn a_record_is_orjsons_bytes() {
        let prefix = source_prefix("s:1", "syslog", "h", "c", None, &[("source.ip".into(), "1.2.3.4".into())]);
        let mut e = entries(&["a \"q\"\n", "b"]);
        e[1].attrs = 0..7;
        e[0].flags.push(Cow::Borrowed("malformed"));
        let r = run(&prefix, &e, br#"{"k":1}"#, &LIMITS);
        assert_eq!(r.len(), 1);
        let want = r#"{"v":1,"source":{"id":"s:1","kind":"syslog","host":"h","collector":"c","tags":{"source.ip":"1.2.3.4"}},"entries":[[0,5,"a \"q\"\n",["malformed"]],[1,5,"b",[],{"k":1}]]}"#;
        assert_eq!(String::from_utf8(r[0].1.clone()).unwrap(), want);
    }

    #[test]
    fn runs_split_by_count_and_code_points() {
        let prefix = source_prefix("s", "syslog", "", "", None, &[]);
        let limits = Limits { max_entries: 2, max_bytes: 3, record_max_bytes: 65536 };
        let r = run(&prefix, &entries(&["éé", "é", "x", "y", "z"]), b"", &limits);
        // "éé" and "é" are 3 code points together (6 bytes): one record, as `len(str)` counts them.
        assert_eq!(r.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![2, 2, 1]);
    }

    #[test]
    fn an_entry_too_large_alone_is_cut_and_flagged() {
        let prefix = source_prefix("s", "syslog", "", "", None, &[]);
        let big: &'static str = Box::leak("\"".repeat(40_000).into_boxed_str());
        let r = run(&prefix, &entries(&[big, "small"]), b"", &LIMITS);
        assert_eq!(r.len(), 2);
        assert!(r[0].1.len() <= 65536);
        assert!(String::from_utf8(r[0].1.clone()).unwrap().contains(r#"["truncated"]"#));
    }

    #[test]
    fn head_counts_code_points() {
        assert_eq!(head("aéb", 2), "aé");
        assert_eq!(head("aéb", 9), "aéb");
        assert_eq!(head("aéb", -1), "aé");
        assert_eq!(head("aéb", -9), "");
    }
}

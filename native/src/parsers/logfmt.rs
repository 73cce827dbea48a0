//! logfmt / key=value lines: `processor/parsers/logfmt.py`.

use crate::pyre::{compile, is_space};
use crate::Delegate;
use crate::pyre::PyRegex;
use std::collections::HashMap;
use std::sync::LazyLock;

static PAIR: LazyLock<PyRegex> = LazyLock::new(|| compile(r#"\s*([^\s="]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))"#, false));

/// Python's `re.sub(r"\\(.)", r"\1", s)`: a backslash and the character after it (not a newline) become that
/// character.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(&next) = it.peek() {
                if next != '\n' {
                    out.push(next);
                    it.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// The pairs of a line made only of key=value pairs (at least two), in first-seen order, or None.
pub fn parse_logfmt(line: &str) -> Result<Option<Vec<(String, String)>>, Delegate> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new(); // a repeated key keeps its place, takes the last value
    let mut pos = 0;
    while pos < line.len() {
        let Some(m) = PAIR.captures(&line[pos..]).map_err(|_| Delegate::RegexLimit)? else {
            if !line[pos..].trim_matches(is_space).is_empty() {
                return Ok(None);
            }
            break;
        };
        let value = match (m.get(2), m.get(3)) {
            (Some(q), _) if q.as_str().contains('\\') => unescape(q.as_str()),
            (Some(q), _) => q.as_str().to_owned(),
            (None, bare) => bare.map_or("", |b| b.as_str()).to_owned(),
        };
        let key = &m[1];
        match index.get(key) {
            Some(&i) => pairs[i].1 = value,
            None => {
                index.insert(key.to_owned(), pairs.len());
                pairs.push((key.to_owned(), value));
            }
        }
        pos += m.get(0).map_or(0, |x| x.end());
    }
    Ok((pairs.len() >= 2).then_some(pairs))
}

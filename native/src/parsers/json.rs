//! JSON content: `_parse_json` and `_ecs_keys` of `processor/parsers/__init__.py`, with orjson's reading of the
//! text. What orjson refuses is not JSON here either (the line then goes on to the other parsers, as in Python):
//! NaN and Infinity, a number too large for a double, a lone surrogate escape, a BOM, trailing commas or content,
//! nesting deeper than 1024. A duplicate key keeps its first position and its last value (a Python dict); an
//! integer outside 64 bits becomes a float, `-0` the integer 0, as orjson reads them.

use super::text::{normal_level, parse_time};
use super::{Fields, Parsed, Value};
use crate::Delegate;
use serde::Deserialize;

/// orjson's nesting limit: 1024 levels are read, one more is an error.
pub const MAX_DEPTH: usize = 1024;

const MESSAGE: [&str; 3] = ["message", "msg", "log"];
const LEVEL: [&str; 5] = ["level", "log.level", "severity", "lvl", "loglevel"];
const TIME: [&str; 4] = ["@timestamp", "timestamp", "time", "ts"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Keyword,
    Long,
}

/// `_LIFT`: the ECS fields an ECS-aware logger writes, lifted when the value has the kind the index maps them to.
const LIFT: [(&str, Kind); 20] = [
    ("service.name", Kind::Keyword), ("service.version", Kind::Keyword), ("service.environment", Kind::Keyword),
    ("service.id", Kind::Keyword), ("service.type", Kind::Keyword), ("service.node.name", Kind::Keyword),
    ("trace.id", Kind::Keyword), ("span.id", Kind::Keyword), ("transaction.id", Kind::Keyword),
    ("error.message", Kind::Keyword), ("error.type", Kind::Keyword), ("error.code", Kind::Keyword),
    ("error.id", Kind::Keyword), ("error.stack_trace", Kind::Keyword), ("log.logger", Kind::Keyword),
    ("log.origin.file.name", Kind::Keyword), ("log.origin.function", Kind::Keyword),
    ("process.thread.name", Kind::Keyword), ("log.origin.file.line", Kind::Long), ("process.pid", Kind::Long),
];

/// `_LIFT_PREFIXES`: the objects on the way to a lifted field.
const LIFT_PREFIXES: [&str; 11] = ["service", "service.node", "trace", "span", "transaction", "error", "log",
                                   "log.origin", "log.origin.file", "process", "process.thread"];

/// Whether orjson refuses the text for what serde_json lets through: nesting deeper than 1024 levels (brackets
/// inside strings do not count), or a number too large for a double anywhere, also in a value a later duplicate
/// key replaces (orjson reads every value; the map here keeps only the last). Other text is serde_json's to judge.
fn orjson_refuses(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let start = i - 1;
                while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                    i += 1;
                }
                let token = &text[start..i];
                if (token.len() > 300 || token.contains(['e', 'E'])) && token.parse::<f64>().is_ok_and(f64::is_infinite) {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// A number's text as orjson reads it: an integer within 64 bits stays one, anything else is a double, and a
/// double that overflows is an error (None).
fn number(text: &str) -> Option<Value> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Value::Int(i));
        }
        if let Ok(u) = text.parse::<u64>() {
            return Some(Value::UInt(u));
        }
    }
    let f = text.parse::<f64>().ok()?;
    f.is_finite().then_some(Value::Float(f))
}

fn convert(v: serde_json::Value) -> Option<Value> {
    Some(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => number(n.as_str())?,
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Array(a) => Value::List(a.into_iter().map(convert).collect::<Option<_>>()?),
        serde_json::Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| Some((k, convert(v)?))).collect::<Option<_>>()?)
        }
    })
}

/// `orjson.loads(text)`, or None where orjson raises.
pub fn loads(text: &str) -> Option<Value> {
    if orjson_refuses(text) {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit(); // the depth is bounded by `orjson_refuses` above
    let v = serde_json::Value::deserialize(&mut de).ok()?;
    de.end().ok()?;
    convert(v)
}

fn position(obj: &[(String, Value)], key: &str) -> Option<usize> {
    obj.iter().position(|(k, _)| k == key)
}

/// The first of `keys` whose value is a str, popped.
fn pop_str(obj: &mut Vec<(String, Value)>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| {
        let i = position(obj, k)?;
        matches!(obj[i].1, Value::Str(_)).then(|| match obj.remove(i).1 {
            Value::Str(s) => s,
            _ => unreachable!(),
        })
    })
}

fn fits(kind: Kind, v: &Value) -> bool {
    match kind {
        Kind::Keyword => matches!(v, Value::Str(_) | Value::Int(_) | Value::UInt(_) | Value::Float(_) | Value::Bool(_)),
        Kind::Long => matches!(v, Value::Int(_)),
    }
}

/// `_ecs_keys`: pop the lifted ECS fields out of `obj` (a JSON line's object, or one of its objects under
/// `prefix`) into `fields`; an object emptied on the way is dropped.
fn ecs_keys(obj: &mut Vec<(String, Value)>, prefix: &str, fields: &mut Fields) {
    // `prefix + key` compared in place: most keys are none of these, and a string built per key cost more than
    // the lookups.
    let is = |p: &str, key: &str| p.len() == prefix.len() + key.len() && p.starts_with(prefix) && p.ends_with(key);
    let mut i = 0;
    while i < obj.len() {
        let key = obj[i].0.as_str();
        if let Some(&(path, kind)) = LIFT.iter().find(|(p, _)| is(p, key)) {
            // A second spelling of a field already lifted stays in `json`.
            if !fields.0.iter().any(|(k, _)| k == path) && fits(kind, &obj[i].1) {
                let (_, v) = obj.remove(i);
                fields.0.push((path.to_owned(), v));
                continue;
            }
        } else if let Some(path) = LIFT_PREFIXES.iter().find(|p| is(p, key)) {
            if let Value::Object(child) = &mut obj[i].1 {
                let mut inner = String::with_capacity(path.len() + 1);
                inner.push_str(path);
                inner.push('.');
                ecs_keys(child, &inner, fields);
                if child.is_empty() {
                    obj.remove(i);
                    continue;
                }
            }
        }
        i += 1;
    }
}

/// `_parse_json` on a line already read as this object.
pub fn from_object(line: &str, mut obj: Vec<(String, Value)>, now_ns: i64) -> Result<Parsed, Delegate> {
    let message = pop_str(&mut obj, &MESSAGE).unwrap_or_else(|| line.to_owned());
    let level = pop_str(&mut obj, &LEVEL);
    let mut time_ns = None;
    for key in TIME {
        if let Some(i) = position(&obj, key) {
            if let Value::Str(s) = &obj[i].1 {
                let (ns, _, _) = parse_time(s, now_ns)?;
                if ns.is_some() {
                    time_ns = ns;
                    obj.remove(i);
                    break;
                }
            }
        }
    }
    let mut fields = Fields::new();
    if let Some(i) = position(&obj, "service") {
        if matches!(obj[i].1, Value::Str(_)) {
            // {"service": "cart"}: the name alone
            fields.0.push(("service.name".to_owned(), obj.remove(i).1));
        }
    }
    ecs_keys(&mut obj, "", &mut fields);
    let level = level.filter(|l| !l.is_empty()).map(|l| normal_level(&l));
    Ok(Parsed { message, time_ns, level, fields, json: (!obj.is_empty()).then_some(obj) })
}

/// `_parse_json`: the line read as a JSON object, or None when it is not one.
pub fn parse_json(line: &str, now_ns: i64) -> Result<Option<Parsed>, Delegate> {
    match loads(line) {
        Some(Value::Object(obj)) => from_object(line, obj, now_ns).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orjson_acceptance() {
        for bad in ["{\"a\":NaN}", "{\"a\":1e400}", "{\"a\":1E400,\"a\":[]}", "{\"a\":-1e400,\"a\":1}",
                    "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "\u{feff}{}",
                    "{\"a\":1,}", "{\"a\":01}", "{\"a\":1}x", "{\"a\":\"\t\"}", "{\"a\":1}\u{c}"] {
            assert_eq!(loads(bad), None, "{bad}");
        }
        assert_eq!(loads("{\"a\":-0}"), Some(Value::Object(vec![("a".into(), Value::Int(0))])));
        assert_eq!(loads("{\"a\":1,\"b\":2,\"a\":3}"),
                   Some(Value::Object(vec![("a".into(), Value::Int(3)), ("b".into(), Value::Int(2))])));
        assert_eq!(loads("[18446744073709551616]"), Some(Value::List(vec![Value::Float(18446744073709551616.0)])));
        assert_eq!(loads("[18446744073709551615]"), Some(Value::List(vec![Value::UInt(u64::MAX)])));
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(loads(&deep(MAX_DEPTH)).is_some());
        assert_eq!(loads(&deep(MAX_DEPTH + 1)), None);
    }

    #[test]
    fn ecs_lift() {
        let p = parse_json(r#"{"msg":"hi","service":{"name":"a","node":{"name":"n"}},"service.name":"b","process":{"pid":"7"}}"#, 0)
            .unwrap().unwrap();
        assert_eq!(p.message, "hi");
        assert_eq!(p.fields.0, vec![("service.name".into(), Value::Str("a".into())),
                                    ("service.node.name".into(), Value::Str("n".into()))]);
        assert_eq!(p.json, Some(vec![("service.name".into(), Value::Str("b".into())),
                                     ("process".into(), Value::Object(vec![("pid".into(), Value::Str("7".into()))]))]));
    }
}

//! Access logs in the NCSA common and combined layouts: `processor/parsers/access.py`.

use super::{Fields, Value};
use crate::pyre::{compile, int};
use crate::timeparse::{month, to_ns};
use crate::Delegate;
use crate::pyre::PyRegex;
use std::sync::LazyLock;

static ACCESS: LazyLock<PyRegex> = LazyLock::new(|| {
    compile(concat!(
        r#"(?P<client>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<d>\d{2})/(?P<mon>[A-Z][a-z]{2})/(?P<y>\d{4}):(?P<h>\d{2}):"#,
        r#"(?P<mi>\d{2}):(?P<s>\d{2}) (?P<tz>[+-]\d{4})\] "(?P<request>[^"\\]*(?:\\.[^"\\]*)*)" (?P<status>\d{3}) "#,
        r#"(?P<bytes>\d+|-)(?: "(?P<referrer>[^"\\]*(?:\\.[^"\\]*)*)" "(?P<agent>[^"\\]*(?:\\.[^"\\]*)*)")?"#,
    ), false)
});
static IP: LazyLock<PyRegex> = LazyLock::new(|| compile(r"[\d.]+|[0-9a-fA-F:]+", true));

/// (timestamp, ECS fields) of an access-log line, or None when it is not one.
pub fn parse_access(line: &str) -> Result<Option<(i64, Fields)>, Delegate> {
    let lim = |_| Delegate::RegexLimit;
    // Every access line holds `] "` (the end of its date, the start of its request): others skip the regex.
    if !line.contains("] \"") {
        return Ok(None);
    }
    let Some(m) = ACCESS.captures(line).map_err(lim)? else { return Ok(None) };
    let Some(mon) = month(&m["mon"]) else { return Ok(None) };
    let tz = &m["tz"];
    let mut tzc = tz.char_indices().map(|(i, _)| i).skip(1);
    let (a, b) = (tzc.next().unwrap_or(1), tzc.nth(1).unwrap_or(tz.len()));
    let o = int(&tz[a..b]).unwrap_or(0) * 60 + int(&tz[b..]).unwrap_or(0);
    let offset = if tz.starts_with('-') { -o } else { o };
    let num = |k: &str| int(&m[k]).unwrap_or(-1);
    let Some(ns) = to_ns(num("y"), i64::from(mon), num("d"), num("h"), num("mi"), num("s"), "", offset) else {
        return Ok(None);
    };
    let client = &m["client"];
    let mut fields = Fields::new();
    fields.set("source.address", Value::Str(client.to_owned()));
    fields.set("http.response.status_code", Value::Int(num("status")));
    if IP.is_match(client).map_err(lim)? && (client.contains('.') || client.contains(':')) {
        fields.set("source.ip", Value::Str(client.to_owned()));
    }
    if &m["user"] != "-" {
        fields.set("user.name", Value::Str(m["user"].to_owned()));
    }
    let request = &m["request"];
    let parts: Vec<&str> = request.split(' ').collect();
    if parts.len() == 3 {
        fields.set("http.request.method", Value::Str(parts[0].to_owned()));
        fields.set("url.original", Value::Str(parts[1].to_owned()));
        fields.set("http.version", Value::Str(parts[2].strip_prefix("HTTP/").unwrap_or(parts[2]).to_owned()));
    } else if !request.is_empty() && request != "-" {
        fields.set("url.original", Value::Str(request.to_owned()));
    }
    if &m["bytes"] != "-" {
        fields.set("http.response.body.bytes", Value::Int(int(&m["bytes"]).ok_or(Delegate::BigInt)?));
    }
    if let Some(r) = m.name("referrer").filter(|r| r.as_str() != "-") {
        fields.set("http.request.referrer", Value::Str(r.as_str().to_owned()));
    }
    if let Some(a) = m.name("agent").filter(|a| a.as_str() != "-") {
        fields.set("user_agent.original", Value::Str(a.as_str().to_owned()));
    }
    Ok(Some((ns, fields)))
}

//! Properties of the parsers without Python: they never panic, on any text and any receive time, and hand back
//! (never guess) what is not theirs. Equality with the Python reference is tests/unit/test_core_differential.py.

use super::*;
use crate::python::{guarded, Outcome};
use proptest::prelude::*;

const NOW: i64 = 1_795_608_000_000_000_000; // 2026-11-25T12:00:00Z

fn pieces() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "2024-02-29T10:00:00Z", "2024-02-30 10:00:00,123", "24/02/29 10:00:00", "240229 101010", "Feb 29 10:00:00",
        "[Sun Dec 04 04:47:44 2005]", "Dec 31 23:59:59.5", " ", "\t", "\u{a0}", "-", ":", "[", "]", "[main]", "INFO",
        "ınfo", "ERR", "12345", "٣٤", "a.b.C:", "k=v", "msg=\"a \\\" b\"", "\\", "{", "<13>", "<13>1 ", "- - - - ",
        "[id a=\"1\"]", "\u{feff}", "\u{fffd}", "日本", "1.2.3.4", "- - [10/Oct/2000:13:55:36 -0700] ",
        "\"GET /a HTTP/1.1\" 200 12", "stdout F ", "{\"log\":\"", "\",\"stream\":\"stdout\"}", "\n", "\0",
    ]).prop_map(str::to_owned)
}

fn lines() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(prop_oneof![pieces(), any::<String>()], 0..16).prop_map(|v| v.concat()),
    ]
}

/// Text that is JSON, nearly JSON, or JSON cut and spliced with the parsers' pieces.
fn json_like() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "{", "}", "[", "]", ",", ":", "\"", "\"message\":", "\"level\":\"WARN\"", "\"service\":{\"name\":1}",
        "\"process\":{\"pid\":-0}", "\"ts\":\"2024-01-01T00:00:00Z\"", "1e400", "-0", "18446744073709551616",
        "1.5e-7", "NaN", "true", "null", "\\ud800", "\\ud83d\\ude00", "\\u0000", "\\", " ", "\n", "\u{feff}",
    ]).prop_map(str::to_owned);
    prop_oneof![
        prop::collection::vec(prop_oneof![piece, any::<String>()], 0..24).prop_map(|v| format!("{{{}", v.concat())),
        json_values().prop_map(|v| v.to_string()),
        (0usize..1100).prop_map(|n| format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n))),
    ]
}

/// serde_json objects of any shape (finite numbers only: JSON has no other).
fn json_values() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::String),
    ];
    let tree = leaf.prop_recursive(4, 64, 8, |inner| prop_oneof![
        prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
        prop::collection::vec(("[a-z.]{0,6}", inner), 0..8)
            .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
    ]);
    prop::collection::vec(("(message|msg|level|service|process|log|[a-z.]{0,6})", tree), 0..8)
        .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn parse_line_never_panics(line in lines(), now in prop_oneof![Just(NOW), any::<i64>()]) {
        let _ = parse_line(&line, now);
    }

    #[test]
    fn syslog_never_panics(raw in prop::collection::vec(any::<u8>(), 0..200), now in any::<i64>()) {
        let mut framed = b"<13>".to_vec();
        framed.extend_from_slice(&raw);
        let _ = crate::syslog::parse(&framed, now);
        let _ = crate::syslog::parse(&raw, now);
    }

    #[test]
    fn yearless_times_never_panic_at_any_receive_time(
        pri in 0u8..200, mon in prop::sample::select(vec!["Jan", "Feb", "Dec", "Foo"]), day in 0u8..32,
        hh in 0u8..25, file in any::<bool>(),
        now in prop_oneof![any::<i64>(), i64::MIN..i64::MIN + 200_000_000_000_000,
                           i64::MAX - 200_000_000_000_000..=i64::MAX],
    ) {
        // Overflow checks are on in this (debug) build: a receive time at either end of i64 must not trip them.
        let stamp = format!("{mon} {day:>2} {hh:02}:59:59");
        let line = if file { format!("{stamp} host prog[1]: x") } else { format!("<{pri}>{stamp} host prog: x") };
        let _ = parse_line(&line, now);
    }

    #[test]
    fn json_never_panics(text in json_like(), now in prop_oneof![Just(NOW), any::<i64>()]) {
        let _ = json::loads(&text);
        let _ = parse_line(&text, now);
        let _ = parse_line(&format!("2024-05-01T10:11:12Z stdout F {text}"), now);
        let _ = parse_line(&format!("<13>Nov 25 11:59:00 h p: {text}"), now);
    }

    #[test]
    fn json_round_trips_what_serde_writes(v in json_values()) {
        // Any object serde_json writes (keys unique) is read back whole, its keys in order.
        let text = serde_json::to_string(&v).expect("a finite value is written");
        let got = json::loads(&text).expect("written JSON is read");
        let Value::Object(pairs) = got else { panic!("not an object") };
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        let want: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        prop_assert_eq!(keys, want);
    }

    #[test]
    fn decided_lines_keep_their_text(line in "[a-z ]{0,40}") {
        // A line with no timestamp, no `=` and no envelope is decided: its own message, unless it starts with a
        // header (a level word first), which the recogniser reads.
        let p = parse_line(&line, NOW);
        prop_assert!(p.is_ok(), "{:?}", p);
        let p = p.unwrap();
        if !header::may_have_header(&line) {
            prop_assert_eq!(p.message, line);
            prop_assert_eq!(p.time_ns, None);
        }
    }
}

#[test]
fn a_panic_becomes_that_lines_failure() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = guarded(|| panic!("boom"));
    std::panic::set_hook(prev);
    assert!(matches!(outcome, Outcome::Failed(ref why) if why == "panic: boom"));
}

#[test]
fn a_receive_time_near_the_lowest_i64_is_handed_back() {
    let now = -9_223_286_400_000_000_001;
    assert_eq!(parse_line("<0>Jan  1 00:00:00 ", now).err(), Some(Delegate::ReceiveTime));
    assert_eq!(crate::syslog::parse(b"<0>Jan  1 00:00:00 x", i64::MIN).err(), Some(Delegate::ReceiveTime));
}

#[test]
fn json_content_is_decided() {
    let p = parse_line("{\"a\":1}", NOW).unwrap();
    assert_eq!((p.message.as_str(), p.json), ("{\"a\":1}", Some(vec![("a".to_owned(), Value::Int(1))])));
    let d = parse_line("{\"log\":\"{\\\"msg\\\":\\\"x\\\",\\\"level\\\":\\\"WARNING\\\"}\\n\",\"stream\":\"stdout\"}", NOW).unwrap();
    assert_eq!((d.message.as_str(), d.level.as_deref()), ("x", Some("warn")));
    assert_eq!(d.fields.0, vec![("log.iostream".to_owned(), Value::Str("stdout".into()))]);
}

#[test]
fn envelopes_are_unwrapped() {
    let p = parse_line("2024-05-01T10:11:12.5Z stdout P 2024-05-01 10:00:00,123 ERROR [main] a.b.C: boom", NOW).unwrap();
    assert_eq!(p.message, "boom");
    assert_eq!(p.level.as_deref(), Some("error"));
    assert_eq!(p.fields.0[0], ("log.iostream".to_owned(), Value::Str("stdout".into())));
    assert_eq!(p.fields.0[1], ("log.flags".to_owned(), Value::Str("partial".into())));
    let s = parse_line("<13>Nov 25 11:59:00 node-7 root: hello", NOW).unwrap();
    assert_eq!((s.message.as_str(), s.level.as_deref()), ("hello", Some("notice")));
}

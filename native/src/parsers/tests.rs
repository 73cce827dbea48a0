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
    fn decided_lines_keep_their_text(line in "[a-z ]{0,40}") {
        // A line with no timestamp, no `=` and no envelope is its own message.
        let p = parse_line(&line, NOW).expect("plain text is decided");
        prop_assert_eq!(p.message, line);
        prop_assert_eq!(p.time_ns, None);
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
fn json_content_is_handed_back() {
    assert_eq!(parse_line("{\"a\":1}", NOW), Err(Delegate::Json));
    assert_eq!(parse_line("{\"log\":\"{\\\"a\\\":1}\\n\",\"stream\":\"stdout\"}", NOW), Err(Delegate::Json));
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

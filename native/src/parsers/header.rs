//! The header recogniser of `processor/parsers/header.py` is not ported: the core hands every line that may hold a
//! header back to the Python reference (`Delegate::Header`) and decides the others itself (the whole line is the
//! message). `may_have_header` is the reference's function of the same name, step for step.

use crate::pyre::{digit, is_space};

/// `_SCOPE` in header.py: the first characters a header's start is looked for in.
const SCOPE: usize = 160;

/// `LEVEL_WORDS` in header.py (one word each), the words that are also English (`_WEAK`), the one-letter levels.
const LEVEL_WORDS: [&str; 42] = [
    "trace", "trce", "silly", "trc", "trac", "blat", "verbose", "vrb", "finest", "finer", "fine", "debug", "dbg",
    "dbug", "debg", "info", "inf", "information", "informational", "log", "note", "system", "config", "notice",
    "deprecated", "warn", "warning", "wrn", "error", "err", "fail", "erro", "severe", "critical", "crit", "dpanic",
    "alert", "emerg", "emergency", "panic", "fatal", "ftl",
];
const WEAK: [&str; 15] = [
    "alert", "blat", "config", "deprecated", "fail", "fine", "finer", "finest", "log", "note", "panic", "silly",
    "system", "trac", "verbose",
];
const LETTERS: [&str; 7] = ["V", "D", "I", "W", "E", "F", "A"];
const STAMP_WORDS: [&str; 19] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const OPENERS: [char; 7] = ['[', '(', '<', '#', '-', '|', '\u{2014}'];

fn decimal(c: char) -> bool {
    digit(c).is_some()
}

/// The run of ASCII letters at `i` and the character after it.
fn run_at(head: &[char], i: usize) -> (String, Option<char>) {
    let mut j = i;
    while j < head.len() && head[j].is_ascii_alphabetic() {
        j += 1;
    }
    (head[i..j].iter().collect(), head.get(j).copied())
}

fn upper(run: &str) -> bool {
    run.bytes().all(|b| b.is_ascii_uppercase())
}

fn level_word(run: &str, weak_ok: bool) -> bool {
    let low = run.to_ascii_lowercase();
    LEVEL_WORDS.contains(&low.as_str()) && (!WEAK.contains(&low.as_str()) || upper(run) || weak_ok)
}

/// `_first_level`.
fn first_level(run: &str, after: Option<char>) -> bool {
    if run.chars().count() == 1 {
        return (LETTERS.contains(&run) && after == Some(','))
            || (run == "D" && after.is_some_and(|c| ('1'..='5').contains(&c)));
    }
    level_word(run, after == Some(':'))
}

/// `_closed`.
fn closed(head: &[char], mut j: usize) -> bool {
    while j < head.len() && is_space(head[j]) {
        j += 1;
    }
    matches!(head.get(j), Some(':' | ']'))
}

/// `_any_level`.
fn any_level(head: &[char]) -> bool {
    let mut i = 0;
    while i < head.len() {
        if head[i].is_ascii_alphabetic() {
            let (run, _) = run_at(head, i);
            let n = run.len();
            if LETTERS.contains(&run.as_str()) || level_word(&run, closed(head, i + n)) {
                return true;
            }
            i += n;
        } else {
            i += 1;
        }
    }
    false
}

/// False for JSON (or broken JSON) and for lines whose start no header has: `may_have_header` in header.py.
pub fn may_have_header(line: &str) -> bool {
    if line.starts_with('{') {
        return false;
    }
    let head: Vec<char> = line.chars().take(SCOPE).collect();
    let mut q = 0;
    while q < head.len() && (head[q] == ' ' || head[q] == '\t') {
        q += 1;
    }
    let Some(&c) = head.get(q) else {
        return false;
    };
    if decimal(c) {
        // A time or a number, unless glued to what no header token is (a JSON brace, a quote).
        let mut j = q;
        while j < head.len() && decimal(head[j]) {
            j += 1;
        }
        return match head.get(j) {
            None => true,
            Some(&a) => is_space(a) || "-/.:#]|,)_".contains(a) || a.is_ascii_alphabetic(),
        };
    }
    if OPENERS.contains(&c) {
        return head.iter().any(|&ch| decimal(ch)) || any_level(&head);
    }
    if c.is_ascii_uppercase() {
        let word: String = head[q..(q + 3).min(head.len())].iter().collect();
        if STAMP_WORDS.contains(&word.as_str()) || ("IWEFD".contains(c) && head.get(q + 1).is_some_and(|&d| decimal(d))) {
            return true;
        }
    }
    if c.is_ascii() && !(c.is_ascii_alphabetic() || c == '_' || c == '$') {
        return false;
    }
    if c.is_ascii_alphabetic() {
        let (run, after) = run_at(&head, q);
        if first_level(&run, after) {
            return true;
        }
    }
    let mut j = q;
    while j < head.len() && head[j] != '.' && !is_space(head[j]) {
        j += 1;
    }
    if j > q && head.get(j) == Some(&'.') {
        let (run, after) = run_at(&head, j + 1);
        return after == Some(':') && first_level(&run, after);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::may_have_header;

    #[test]
    fn the_start_of_a_header() {
        for line in ["warn: disk", "app.INFO: x", "[LOG] x", "Nov 29 x", "I1129 10", "E, [x]", "\u{e9}.WARN: x",
                     "INFO  [main] x", "WARNING:root:x", "12:00 x", "1"] {
            assert!(may_have_header(line), "{line:?}");
        }
        for line in ["x 1", "E Tag: x", "\"a\": [core:log ] b", "{\"a\": 1", "plain full line", "an error in between",
                     "e tag: x warnings", "\u{fffd}{\"a\":1.5}", "Q{\"a\":1}", "", "0{}", "12\"x\""] {
            assert!(!may_have_header(line), "{line:?}");
        }
    }
}

//! Log patterns: the twin of `processor/patterns.py` (read its docstring for the rules and why they are
//! order-independent), held to it by `tests/unit/test_patterns.py`.
//!
//! Written without regexes: every rule is a check of one token's characters, so the two sides agree by
//! construction on what a digit or a space is (ASCII digits; the whitespace of Python's `str.split()`).


pub const VARIABLE: &str = "<*>";
pub const TEMPLATE_MAX_CHARS: usize = 1024;

/// The date words, as a `match` (the compiler switches on the length first): a token is checked against all of
/// them, and a list of 56 compared one by one cost more than the rest of the token's checks.
fn is_date_word(token: &str) -> bool {
    matches!(token,
        "Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat" | "Sun" | "Jan" | "Feb" | "Mar" | "Apr" | "May" | "Jun" | "Jul"
        | "Aug" | "Sep" | "Oct" | "Nov" | "Dec" | "MON" | "TUE" | "WED" | "THU" | "FRI" | "SAT" | "SUN" | "JAN"
        | "FEB" | "MAR" | "APR" | "MAY" | "JUN" | "JUL" | "AUG" | "SEP" | "OCT" | "NOV" | "DEC" | "Monday"
        | "Tuesday" | "Wednesday" | "Thursday" | "Friday" | "Saturday" | "Sunday" | "January" | "February" | "March"
        | "April" | "June" | "July" | "August" | "September" | "October" | "November" | "December")
}
fn is_empty_pair(token: &str) -> bool {
    matches!(token, "()" | "[]" | "{}" | "''" | "\"\"" | "<>")
}

fn is_unit(token: &str) -> bool {
    matches!(token, "B" | "KB" | "MB" | "GB" | "TB" | "KiB" | "MiB" | "GiB" | "TiB" | "bytes" | "ns" | "us" | "µs" | "ms"
        | "s" | "sec" | "secs" | "seconds" | "min" | "mins" | "minutes" | "h" | "hours" | "%")
}

fn is_named_by(token: &str) -> bool {
    matches!(token, "user" | "user:" | "User" | "User:" | "USER")
}

fn is_preposition(token: &str) -> bool {
    matches!(token, "from" | "by" | "for" | "on" | "at" | "to" | "in" | "of" | "with" | "as" | "is" | "was")
}

/// Python's `str.isspace()`, which `str.split()` splits on.
fn is_py_space(c: char) -> bool {
    matches!(c, '\u{9}'..='\u{d}' | '\u{1c}'..='\u{20}' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

fn has_digit(token: &str) -> bool {
    token.bytes().any(|b| b.is_ascii_digit())
}

/// `[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[a-z]{2,6}`, whole token.
fn is_domain(token: &str) -> bool {
    let Some((rest, tld)) = token.rsplit_once('.') else { return false };
    (2..=6).contains(&tld.len())
        && tld.bytes().all(|b| b.is_ascii_lowercase())
        && rest.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// `[a-z][a-z0-9+.-]*://|~?/[^/]*/|[A-Za-z]:\\`, at the token's start.
fn is_path(token: &str) -> bool {
    let b = token.as_bytes();
    if b.first().is_some_and(u8::is_ascii_lowercase) {
        let run = b.iter().skip(1)
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'.' | b'-'))
            .count();
        if b[1 + run..].starts_with(b"://") {
            return true;
        }
    }
    let after_tilde = b.strip_prefix(b"~").unwrap_or(b);
    if let Some(rest) = after_tilde.strip_prefix(b"/") {
        if rest.contains(&b'/') {
            return true;
        }
    }
    b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\'
}

fn is_quoted(token: &str) -> bool {
    let mut chars = token.chars();
    let (Some(first), Some(last)) = (chars.next(), chars.next_back()) else { return false };
    // Three characters at least: the two quotes and one more between them.
    chars.next().is_some() && first == last && (first == '\'' || first == '"')
}

fn is_variable(token: &str) -> bool {
    has_digit(token)
        || is_empty_pair(token)
        || is_date_word(token)
        || is_quoted(token)
        || is_domain(token)
        || is_path(token)
}

/// `([A-Za-z_][A-Za-z0-9_.-]*)=(.*)`, whole token: the key and the value.
fn key_value(token: &str) -> Option<(&str, &str)> {
    let b = token.as_bytes();
    if !b.first().is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
        return None;
    }
    let key_len = 1 + b[1..].iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
        .count();
    (b.get(key_len) == Some(&b'=')).then(|| (&token[..key_len], &token[key_len + 1..]))
}

/// The message's template: its variable parts replaced by `<*>`.
pub fn template(message: &str) -> String {
    let first_line = message.split('\n').next().unwrap_or("");
    // No more characters than bytes: a short line is not walked char by char to be cut.
    let head = if first_line.len() > TEMPLATE_MAX_CHARS {
        first_line.char_indices().nth(TEMPLATE_MAX_CHARS).map_or(first_line, |(at, _)| &first_line[..at])
    } else {
        first_line
    };
    // Written straight into one string (no word allocated per token): a word is never empty, so a space goes
    // before every word but the first, as `" ".join` puts them.
    let mut out = String::with_capacity(head.len());
    let mut last_variable = false;
    let mut previous = "";
    let mut number_before = false;
    for token in head.split(is_py_space).filter(|t| !t.is_empty()) {
        let is_var;
        if let Some((key, value)) = key_value(token) {
            is_var = false; // `key=...` is never the variable word itself
            push_word(&mut out, key);
            out.push('=');
            out.push_str(if is_variable(value) { VARIABLE } else { value });
        } else if is_variable(token)
            || (number_before && is_unit(token.trim_end_matches([',', ';', '.', ')'])))
            || (is_named_by(previous) && !is_preposition(token)
                && !token.starts_with(['[', '(', '<']))
        {
            is_var = true;
            if !last_variable {
                push_word(&mut out, VARIABLE);
            }
        } else {
            is_var = token == VARIABLE;
            if !(is_var && last_variable) {
                push_word(&mut out, token);
            }
        }
        number_before = is_var && has_digit(token);
        last_variable = is_var;
        previous = token;
    }
    out
}

fn push_word(out: &mut String, word: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(word);
}

/// The template's id: BLAKE2b, 8 bytes, as 16 hex digits.
pub fn pattern_id(template: &str) -> String {
    crate::ecs::hex(blake2b_simd::Params::new().hash_length(8).hash(template.as_bytes()).as_bytes())
}

/// Templates kept with their ids per thread, at most this many: a batch's messages come from few templates, and a
/// BLAKE2b per entry cost more than a lookup.
const ID_CACHE_MAX: usize = 4096;

thread_local! {
    static IDS: std::cell::RefCell<std::collections::HashMap<String, String>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// (id, template) of the message.
pub fn pattern(message: &str) -> (String, String) {
    let found = template(message);
    let id = IDS.with_borrow_mut(|ids| {
        if let Some(id) = ids.get(&found) {
            return id.clone();
        }
        if ids.len() >= ID_CACHE_MAX {
            ids.clear(); // a stream of ever-new templates: start over rather than grow
        }
        let id = pattern_id(&found);
        ids.insert(found.clone(), id.clone());
        id
    });
    (id, found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_templates_and_id() {
        assert_eq!(template("Invalid user webmaster from 173.234.31.186"), "Invalid user <*> from <*>");
        assert_eq!(pattern_id("Invalid user <*> from <*>"), "d74faaa452c3f618");
        assert_eq!(template("Block broadcast_9 stored (estimated size 8.8 KB, free 14.0 KB)"),
                   "Block <*> stored (estimated size <*> free <*>");
        assert_eq!(template("rhost=zummit.com user=root tty="), "rhost=<*> user=root tty=");
        assert_eq!(template("see https://x.org/a and C:\\temp and ~/x/y"), "see <*> and <*> and <*>");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn never_panics_and_is_its_own_template(s in "\\PC{0,200}") {
            let t = template(&s);
            prop_assert_eq!(template(&t), t);
        }

        #[test]
        fn numbers_do_not_change_the_pattern(words in prop::collection::vec("[a-z]{1,6}|[0-9]{1,6}", 0..20),
                                             n in 0u64..1_000_000) {
            let a = words.join(" ");
            let b = words.iter().map(|w| if has_digit(w) { n.to_string() } else { w.clone() })
                .collect::<Vec<_>>().join(" ");
            prop_assert_eq!(pattern(&a), pattern(&b));
        }
    }
}

//! Python's `re` semantics for the core's regexes: the same pattern text, read the way Python reads it.
//!
//! Python's `\s`, `\d`, `\w` and `\b` follow `str.isspace`/`isdecimal`/`isalnum` and Python's Unicode version, and
//! its `$` also matches before a final newline; the regex crates read all of these differently. `translate` rewrites
//! a pattern into explicit classes from `unicode.rs` (generated from Python), so the ported parsers keep the Python
//! modules' patterns verbatim and a reader can compare them line by line.

use crate::unicode::{DECIMAL_ZEROS, DIGIT, SPACE, WORD};
use fancy_regex::Regex;

/// A Python str pattern as a regex anchored at the start (`re.match`), or at both ends when `full` (`fullmatch`).
pub fn compile(pattern: &str, full: bool) -> Regex {
    let body = translate(pattern);
    let anchored = if full { format!(r"^(?:{body})\z") } else { format!("^(?:{body})") };
    Regex::new(&anchored).unwrap_or_else(|e| panic!("pattern {pattern:?} does not compile: {e}"))
}

/// Rewrite `\s \S \d \w \b $` into Python's meaning. `\b` is only ever used after a word character in the ported
/// patterns, where it means "no word character follows".
pub fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut class_start = false; // just after `[` or `[^`: a `]` there is literal
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let e = chars.next().expect("pattern ends in a backslash");
                match (e, in_class) {
                    ('s', false) => out.push_str(&format!("[{SPACE}]")),
                    ('s', true) => out.push_str(SPACE),
                    ('S', false) => out.push_str(&format!("[^{SPACE}]")),
                    ('d', false) => out.push_str(&format!("[{DIGIT}]")),
                    ('d', true) => out.push_str(DIGIT),
                    ('w', false) => out.push_str(&format!("[{WORD}]")),
                    ('w', true) => out.push_str(WORD),
                    ('b', false) => out.push_str(&format!("(?![{WORD}])")),
                    ('S' | 'b' | 'W' | 'D' | 'B' | 'A' | 'Z', _) => {
                        panic!("pattern {pattern:?}: \\{e} is not translated")
                    }
                    _ => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                continue;
            }
            ']' if in_class && !class_start => {
                in_class = false;
                out.push(']');
            }
            '[' if in_class => out.push_str(r"\["),
            '$' if !in_class => out.push_str(r"(?=\n?\z)"),
            _ => out.push(c),
        }
        class_start = false;
    }
    out
}

/// `int()` of a run of decimal digits, any script (Python reads them all); None past i64.
pub fn int(digits: &str) -> Option<i64> {
    let mut n: i64 = 0;
    for c in digits.chars() {
        n = n.checked_mul(10)?.checked_add(digit(c)? as i64)?;
    }
    Some(n)
}

/// The value of one decimal digit of any script.
pub fn digit(c: char) -> Option<u32> {
    let cp = c as u32;
    if c.is_ascii_digit() {
        return Some(cp - 48);
    }
    let i = DECIMAL_ZEROS.partition_point(|&z| z <= cp);
    let zero = *DECIMAL_ZEROS.get(i.checked_sub(1)?)?;
    (cp - zero < 10).then_some(cp - zero)
}

/// `str.isspace` of one character.
pub fn is_space(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\x1c'..=' ' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_matches_the_generated_class() {
        let re = compile(r"\s", true);
        for cp in 0..0x11_0000u32 {
            if let Some(c) = char::from_u32(cp) {
                assert_eq!(re.is_match(c.encode_utf8(&mut [0; 4])).unwrap(), is_space(c), "U+{cp:04X}");
            }
        }
    }

    #[test]
    fn digits_of_any_script() {
        assert_eq!(int("2024"), Some(2024));
        assert_eq!(int("\u{663}\u{660}"), Some(30)); // Arabic-Indic
        assert_eq!(int("x"), None);
        assert_eq!(int("99999999999999999999"), None);
    }

    #[test]
    fn dollar_matches_before_a_final_newline() {
        let re = compile("a$", false);
        assert!(re.is_match("a\n").unwrap());
        assert!(!re.is_match("a\nb").unwrap());
    }
}

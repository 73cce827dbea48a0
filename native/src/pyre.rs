//! Python's `re` semantics for the core's regexes: the same pattern text, read the way Python reads it.
//!
//! Python's `\s`, `\d`, `\w` and `\b` follow `str.isspace`/`isdecimal`/`isalnum` and Python's Unicode version, and
//! its `$` also matches before a final newline; the regex crates read all of these differently. `translate` rewrites
//! a pattern into explicit classes from `unicode.rs` (generated from Python), so the ported parsers keep the Python
//! modules' patterns verbatim and a reader can compare them line by line.

use crate::unicode::{DECIMAL_ZEROS, DIGIT, SPACE, WORD};
use fancy_regex::Regex;

/// Python's classes on ASCII text: the same sets cut to ASCII, which a regex runs far faster.
const ASCII_SPACE: &str = r"\x{9}-\x{d}\x{1c}-\x{20}";
const ASCII_DIGIT: &str = "0-9";
const ASCII_WORD: &str = "0-9A-Za-z_";

/// One Python pattern compiled twice: with Python's full Unicode classes, and with the same classes cut to ASCII
/// for ASCII text (on which both match the same).
pub struct PyRegex {
    ascii: Regex,
    unicode: Regex,
    /// A pattern that starts with a run of digits and then a given ASCII byte (`(\d{4})-`): the run's length and
    /// that byte, checked before the regex runs (`lead`).
    lead: Option<(std::ops::RangeInclusive<usize>, u8)>,
}

impl PyRegex {
    /// Build from a function of `ascii` that writes the final pattern text.
    pub fn build(pattern: impl Fn(bool) -> String) -> Self {
        let make = |ascii| {
            let p = pattern(ascii);
            Regex::new(&p).unwrap_or_else(|e| panic!("pattern {p:?} does not compile: {e}"))
        };
        PyRegex { ascii: make(true), unicode: make(false), lead: None }
    }

    /// Declare that every match starts with `digits` decimal digits and then the ASCII byte `then`; text that
    /// plainly does not (a run of ASCII digits of another length, or another ASCII byte after it) skips the regex.
    /// A non-ASCII character right after the ASCII digits may be a digit of another script: the regex decides.
    pub fn lead(mut self, digits: std::ops::RangeInclusive<usize>, then: u8) -> Self {
        self.lead = Some((digits, then));
        self
    }

    /// Whether `lead` rules the text out.
    fn ruled_out(&self, text: &str) -> bool {
        let Some((digits, then)) = &self.lead else { return false };
        let b = text.as_bytes();
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        match b.get(n) {
            None => true,
            Some(&c) if c >= 0x80 => false,
            Some(&c) => !(digits.contains(&n) && c == *then),
        }
    }

    fn pick(&self, text: &str) -> &Regex {
        if text.is_ascii() { &self.ascii } else { &self.unicode }
    }

    pub fn captures<'t>(&self, text: &'t str) -> Result<Option<fancy_regex::Captures<'t, str>>, fancy_regex::Error> {
        if self.ruled_out(text) {
            return Ok(None);
        }
        self.pick(text).captures(text)
    }

    pub fn is_match(&self, text: &str) -> Result<bool, fancy_regex::Error> {
        if self.ruled_out(text) {
            return Ok(false);
        }
        self.pick(text).is_match(text)
    }
}

/// A Python str pattern as a regex anchored at the start (`re.match`), or at both ends when `full` (`fullmatch`).
pub fn compile(pattern: &str, full: bool) -> PyRegex {
    PyRegex::build(|ascii| {
        let body = translate(pattern, ascii);
        if full { format!(r"^(?:{body})\z") } else { format!("^(?:{body})") }
    })
}

/// Rewrite `\s \S \d \w \b $` into Python's meaning. `\b` is only ever used after a word character in the ported
/// patterns, where it means "no word character follows".
pub fn translate(pattern: &str, ascii: bool) -> String {
    let (space, digit, word) = if ascii { (ASCII_SPACE, ASCII_DIGIT, ASCII_WORD) } else { (SPACE, DIGIT, WORD) };
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut class_start = false; // just after `[` or `[^`: a `]` there is literal
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let e = chars.next().expect("pattern ends in a backslash");
                match (e, in_class) {
                    ('s', false) => out.push_str(&format!("[{space}]")),
                    ('s', true) => out.push_str(space),
                    ('S', false) => out.push_str(&format!("[^{space}]")),
                    ('d', false) => out.push_str(&format!("[{digit}]")),
                    ('d', true) => out.push_str(digit),
                    ('w', false) => out.push_str(&format!("[{word}]")),
                    ('w', true) => out.push_str(word),
                    ('b', false) => out.push_str(&format!("(?![{word}])")),
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
                let text = c.encode_utf8(&mut [0; 4]).to_owned();
                assert_eq!(re.is_match(&text).unwrap(), is_space(c), "U+{cp:04X}");
                assert_eq!(re.unicode.is_match(&text).unwrap(), is_space(c), "U+{cp:04X}");
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
    fn a_lead_only_rules_out_what_the_regex_cannot_match() {
        let plain = compile(r"(\d{2,4})/(\d{2}) x", false);
        let led = compile(r"(\d{2,4})/(\d{2}) x", false).lead(2..=4, b'/');
        for text in ["12/34 x", "1234/56 x", "1/34 x", "12345/67 x", "12-34 x", "", "12", "\u{663}\u{660}/12 x",
                     "1\u{663}/12 x", "12\u{663}/12 x", "ab/12 x", "12/3 x"] {
            assert_eq!(led.is_match(text).unwrap(), plain.is_match(text).unwrap(), "{text:?}");
            assert_eq!(led.captures(text).unwrap().is_some(), plain.is_match(text).unwrap(), "{text:?}");
        }
        assert!(led.is_match("12\u{663}/12 x").unwrap());
    }

    #[test]
    fn dollar_matches_before_a_final_newline() {
        let re = compile("a$", false);
        assert!(re.is_match("a\n").unwrap());
        assert!(!re.is_match("a\nb").unwrap());
    }
}

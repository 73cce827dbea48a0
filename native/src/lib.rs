//! logjet's compiled core: the processor's per-entry work on whole batches, held to the Python reference it
//! replaces by tests/unit/test_core_differential.py.
//!
//! Ported so far: the content parsers (JSON with the ECS lift, access logs, text layouts, logfmt: `parsers`,
//! `timeparse`) and the envelopes around them (Docker json-file, CRI, syslog `<PRI>`: `parsers`, `syslog`). The Python module `_core` is private;
//! `processor.parsers` calls it.

pub mod parsers;
pub mod patterns;
mod pyre;
pub mod syslog;
pub mod timeparse;
mod unicode;

pub mod python;

/// Why the core hands a line back to the Python reference instead of deciding it: the line is outside what is
/// ported, so the reference's answer is the only one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delegate {
    /// A number past 64 bits, which Python keeps as an unbounded int.
    BigInt,
    /// A receive time before the epoch.
    ReceiveTime,
    /// The regex engine's backtracking limit was reached (Python's `re` has none).
    RegexLimit,
    /// The reference raises on this line (an RFC 3164 date moved to a year without that day).
    Raises,
    /// Not a str the core can read (a str with lone surrogates), or a receive time past 64 bits.
    NotText,
    /// A line no known layout reads whole: the header recogniser (`processor/parsers/header.py`) is not ported.
    Header,
}

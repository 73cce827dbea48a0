//! logjet's compiled core: the processor's per-entry work on whole batches, held to the Python reference it
//! replaces by tests/unit/test_transform_differential.py (whole batches) and tests/unit/test_core_differential.py
//! (the parsers, line by line).
//!
//! `transform::transform_batch` (`processor/transform.py`) does a consumed batch end to end: the wire format
//! (`wire`), the envelopes around a line (Docker json-file, CRI, syslog `<PRI>`: `parsers`, `syslog`), the content
//! parsers (JSON with the ECS lift, access logs, text layouts, logfmt: `parsers`, `timeparse`), the ECS document
//! (`ecs`), log patterns (`patterns`), the ids, hashes and JSON bodies. A record it does not decide whole is handed
//! back whole to the Python path. The Python module `_core` (`python`) is private; `processor.transform`,
//! `processor.parsers` and `processor.patterns` call it.
//!
//! The collector's syslog listener (`collectors/syslog/server.py`) uses the same core: `server` receives its UDP
//! datagrams, `framing` splits its TCP streams, `syslog::drain` reads what it received (the same RFC 3164/5424 parse) and `output` makes the wire records
//! (`collectors/output.py`), held to the Python path by tests/unit/test_syslog_core.py.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod bulk;
pub mod ecs;
pub mod framing;
pub mod output;
pub mod parsers;
pub mod patterns;
mod pyre;
pub mod server;
pub mod syslog;
pub mod timeparse;
pub mod transform;
mod unicode;
pub mod user;
pub mod wire;

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
    /// The known layouts read a time but not the whole header, and the header recogniser gives no header (it reads
    /// no time there, or refuses digits `int()` does not read): the reference then keeps the known layouts' partial
    /// reading, which the core's text parser does not return.
    Header,
}

//! The Python module `logjet._core`: one call per batch, the GIL released around the work, per-item outcomes as
//! data (a panic for one line becomes that line's failure and never reaches Python).

use crate::parsers::{parse_line, Parsed, Value};
use crate::Delegate;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyList, PyString, PyTuple};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What the core made of one line.
pub enum Outcome {
    Parsed(Parsed),
    /// The Python reference decides this line (see `Delegate`).
    Delegated(Delegate),
    /// The core failed on this line (a panic, caught): the reference parses it, and the reason is reported.
    Failed(String),
}

/// Lines parsed between two conversions to Python objects.
const CHUNK: usize = 256;

/// Batches smaller than this keep the GIL: releasing and taking it back costs more than the work.
const DETACH_MIN: usize = 32;

/// Every call that works on a batch goes through here, so the rule for the GIL lives in one place.
fn without_gil<T: Send>(py: Python<'_>, items: usize, work: impl FnOnce() -> T + Send) -> T {
    if items >= DETACH_MIN { py.detach(work) } else { work() }
}

/// Run `f` for one item; a panic becomes that item's failure.
pub fn guarded(f: impl FnOnce() -> Result<Parsed, Delegate>) -> Outcome {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(parsed)) => Outcome::Parsed(parsed),
        Ok(Err(delegate)) => Outcome::Delegated(delegate),
        Err(panic) => {
            let why = panic.downcast_ref::<&str>().map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::Failed(format!("panic: {why}"))
        }
    }
}

/// Parse every line of the batch, as if by `parse_line` with the time of the same index.
pub fn parse_all(lines: &[Option<&str>], now_ns: &[Option<i64>]) -> Vec<Outcome> {
    lines.iter().zip(now_ns).map(|(line, now)| match (line, now) {
        (Some(line), Some(now)) => guarded(|| parse_line(line, *now)),
        // A str with lone surrogates, or a time past 64 bits: Python's objects, Python's parse.
        (None, _) => Outcome::Delegated(Delegate::NotText),
        (_, None) => Outcome::Delegated(Delegate::NotText),
    }).collect()
}

fn delegate_name(d: Delegate) -> &'static str {
    match d {
        Delegate::BigInt => "bigint",
        Delegate::ReceiveTime => "receive_time",
        Delegate::RegexLimit => "regex_limit",
        Delegate::Raises => "raises",
        Delegate::NotText => "not_text",
        Delegate::Header => "header",
    }
}

fn object<'py>(py: Python<'py>, pairs: &[(String, Value)]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in pairs {
        d.set_item(PyString::new(py, k), value(py, v)?)?;
    }
    Ok(d)
}

fn value<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::UInt(u) => u.into_pyobject(py)?.into_any(),
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::List(items) => {
            let l = PyList::empty(py);
            for item in items {
                l.append(value(py, item)?)?;
            }
            l.into_any()
        }
        Value::Object(pairs) => object(py, pairs)?.into_any(),
    })
}

fn to_python<'py>(py: Python<'py>, outcome: Outcome) -> PyResult<Bound<'py, PyAny>> {
    match outcome {
        Outcome::Parsed(p) => {
            let fields = object(py, &p.fields.0)?;
            let json = match &p.json {
                Some(pairs) => object(py, pairs)?.into_any(),
                None => py.None().into_bound(py),
            };
            let items: [Bound<'py, PyAny>; 5] = [
                PyString::new(py, &p.message).into_any(),
                p.time_ns.into_pyobject(py)?.into_any(),
                p.level.as_deref().into_pyobject(py)?.into_any(),
                fields.into_any(),
                json,
            ];
            Ok(PyTuple::new(py, items)?.into_any())
        }
        Outcome::Delegated(d) => Ok(PyString::new(py, delegate_name(d)).into_any()),
        Outcome::Failed(why) => Ok(PyString::new(py, &why).into_any()),
    }
}

/// parse_batch(lines, now_ns, /) -> list: per line, `(message, time_ns, level, fields, json)` as
/// `processor.parsers.Parsed` holds them, or a str: the reason the Python reference must parse that line.
#[pyfunction]
fn parse_batch<'py>(py: Python<'py>, lines: &Bound<'py, PyList>, now_ns: &Bound<'py, PyList>)
    -> PyResult<Bound<'py, PyList>> {
    if lines.len() != now_ns.len() {
        return Err(pyo3::exceptions::PyValueError::new_err("lines and now_ns differ in length"));
    }
    let held: Vec<Bound<'py, PyAny>> = lines.iter().collect();
    let texts: Vec<Option<&str>> = held.iter().map(|o| o.cast::<PyString>().ok().and_then(|s| s.to_str().ok()))
        .collect();
    let times: Vec<Option<i64>> = now_ns.iter().map(|o| o.extract::<i64>().ok()).collect();
    let out = PyList::empty(py);
    // In chunks: the parsed lines of one chunk stay in the CPU's cache until they become Python objects, and the
    // memory is reused instead of a whole batch's being allocated and returned to the system each call.
    for (texts, times) in texts.chunks(CHUNK).zip(times.chunks(CHUNK)) {
        for o in without_gil(py, texts.len(), || parse_all(texts, times)) {
            out.append(to_python(py, o)?)?;
        }
    }
    Ok(out)
}

/// pattern_batch(messages, /) -> list: per message, `(id, template)` as `processor.patterns.pattern` gives them, or
/// None for a str the core cannot read (lone surrogates): the Python twin decides that one.
#[pyfunction]
fn pattern_batch<'py>(py: Python<'py>, messages: &Bound<'py, PyList>) -> PyResult<Bound<'py, PyList>> {
    let held: Vec<Bound<'py, PyAny>> = messages.iter().collect();
    let texts: Vec<Option<&str>> = held.iter().map(|o| o.cast::<PyString>().ok().and_then(|s| s.to_str().ok()))
        .collect();
    let found: Vec<Option<(String, String)>> = without_gil(py, texts.len(), || {
        texts.iter().map(|t| t.map(crate::patterns::pattern)).collect()
    });
    let out = PyList::empty(py);
    for item in found {
        match item {
            Some(pair) => out.append(pair)?,
            None => out.append(py.None())?,
        }
    }
    Ok(out)
}

/// bytes or None; Err for anything else (a record the core then hands back).
fn bytes_or_none<'a>(o: &'a Bound<'_, PyAny>) -> Result<Option<&'a [u8]>, ()> {
    if o.is_none() {
        return Ok(None);
    }
    o.cast::<PyBytes>().map(|b| Some(b.as_bytes())).map_err(|_| ())
}

/// SourceRules(rules, /): the source conditions of the user-defined parsers, compiled once. Per rule:
/// `(source_kind, container_name, kubernetes_namespace, path, [(tag, label glob)], appname)`, each glob as the
/// anchored regex Python's `fnmatch.translate` makes of it (`processor/parsers/user.py`), or None.
#[pyclass(frozen, module = "logjet._core")]
struct SourceRules {
    rules: crate::user::Rules,
}

type RuleSpec = (Option<String>, Option<String>, Option<String>, Option<String>, Vec<(String, String)>, Option<String>);

#[pymethods]
impl SourceRules {
    #[new]
    fn new(rules: Vec<RuleSpec>) -> PyResult<Self> {
        let compile = |re: &str| fancy_regex::Regex::new(re)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("glob regex {re:?}: {e}")));
        let opt = |re: Option<String>| re.as_deref().map(compile).transpose();
        let mut out = Vec::with_capacity(rules.len());
        for (source_kind, container_name, namespace, path, labels, appname) in rules {
            out.push(crate::user::Rule {
                source_kind,
                container_name: opt(container_name)?,
                kubernetes_namespace: opt(namespace)?,
                path: opt(path)?,
                labels: labels.into_iter().map(|(k, g)| Ok((k, compile(&g)?))).collect::<PyResult<_>>()?,
                appname: opt(appname)?,
            });
        }
        Ok(SourceRules { rules: crate::user::Rules(out) })
    }
}

/// transform_batch(values, wire, topics, partitions, offsets, timestamps_ms, topic_ids, dataset, namespace,
/// ingested, keep_original, patterns, /, *, rules=None, panic_on=None)
/// -> (bulk, starts, bodies, origins, hashes, handed_back)
///
/// Per consumed record (the lists are parallel): its value, its `logjet-wire` header's value (None: a third party's
/// record), topic, partition, offset, timestamp and topic id. Out, for the documents the core made, in record
/// order: `bulk`, their bulk request lines (`bulk.rs`) in one bytes object; `starts`, per document where its lines
/// start, then the end (native u64); `bodies`, per document where its JSON starts (native u64); `origins`, per
/// document its record's index and its entry's index as two native u32; `hashes`, per document its `event.hash`
/// (16 ASCII bytes); `handed_back`, the indexes of the records the Python reference must transform whole (see
/// `transform.rs`), among them those a user rule of `rules` (SourceRules) may apply to. `panic_on` is a test hook:
/// the record at that index panics.
#[pyfunction]
#[pyo3(signature = (values, wire, topics, partitions, offsets, timestamps_ms, topic_ids, dataset, namespace, ingested,
                    keep_original, patterns, /, *, rules=None, panic_on=None))]
#[allow(clippy::too_many_arguments)]
fn transform_batch<'py>(py: Python<'py>, values: &Bound<'py, PyList>, wire: &Bound<'py, PyList>, topics: Vec<String>,
                        partitions: Vec<i64>, offsets: Vec<i64>, timestamps_ms: Vec<i64>, topic_ids: Vec<String>,
                        dataset: String, namespace: String, ingested: String, keep_original: bool, patterns: bool,
                        rules: Option<PyRef<'py, SourceRules>>, panic_on: Option<usize>)
                        -> PyResult<Bound<'py, PyTuple>> {
    let n = values.len();
    if [wire.len(), topics.len(), partitions.len(), offsets.len(), timestamps_ms.len(), topic_ids.len()].iter().any(|l| *l != n) {
        return Err(pyo3::exceptions::PyValueError::new_err("the per-record lists differ in length"));
    }
    let held_values: Vec<Bound<'py, PyAny>> = values.iter().collect();
    let held_wire: Vec<Bound<'py, PyAny>> = wire.iter().collect();
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        let (value, wire) = match (bytes_or_none(&held_values[i]), bytes_or_none(&held_wire[i])) {
            (Ok(value), Ok(wire)) => (value, wire),
            // Not what a Kafka client gives: a header value the core cannot read sends the record to Python.
            _ => (None, Some(&b""[..])),
        };
        records.push(crate::transform::Record {
            value,
            wire,
            topic: &topics[i],
            partition: partitions[i],
            offset: offsets[i],
            timestamp_ms: timestamps_ms[i],
            topic_id: &topic_ids[i],
        });
    }
    let settings = crate::ecs::Settings { dataset, namespace, ingested, keep_original, patterns };
    let no_rules = crate::user::Rules::default();
    let rules = rules.as_ref().map_or(&no_rules, |r| &r.rules);
    let entries: usize = n.max(DETACH_MIN); // a logjet record holds many entries: the work is worth the release
    let recycled = BULK.with_borrow_mut(std::mem::take);
    let mut batch = without_gil(py, entries, || {
        crate::transform::transform_batch(&records, &settings, rules, panic_on, recycled)
    });
    let mut origins = Vec::with_capacity(batch.docs.len() * 8);
    let mut hashes = Vec::with_capacity(batch.docs.len() * 16);
    for d in &batch.docs {
        origins.extend_from_slice(&d.record.to_ne_bytes());
        origins.extend_from_slice(&d.entry.to_ne_bytes());
        hashes.extend_from_slice(d.hash.as_bytes());
    }
    let bulk = &batch.bulk;
    let items: [Bound<'py, PyAny>; 6] = [PyBytes::new(py, &bulk.buf).into_any(),
                                         PyBytes::new(py, &bulk.start_bytes()).into_any(),
                                         PyBytes::new(py, &bulk.body_bytes()).into_any(),
                                         PyBytes::new(py, &origins).into_any(),
                                         PyBytes::new(py, &hashes).into_any(),
                                         PyList::new(py, &batch.handed_back)?.into_any()];
    BULK.with_borrow_mut(|kept| *kept = std::mem::take(&mut batch.bulk.buf));
    PyTuple::new(py, items)
}

thread_local! {
    // The last batch's bulk buffer, kept for the next batch of the same worker thread.
    static BULK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Framer(max_bytes): `collectors.syslog.framing.Framer` in the core, for one TCP connection.
#[pyclass(name = "Framer", module = "logjet._core")]
struct PyFramer {
    inner: crate::framing::Framer,
}

#[pymethods]
impl PyFramer {
    #[new]
    fn new(max_bytes: usize) -> Self {
        Self { inner: crate::framing::Framer::new(max_bytes) }
    }

    #[getter]
    fn max_bytes(&self) -> usize {
        self.inner.max_bytes
    }

    /// The bytes held for a message not complete yet.
    #[getter]
    fn buf<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.buf)
    }

    /// feed(data, /) -> list of (message, truncated): the messages `data` completed.
    fn feed<'py>(&mut self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let mut failed = None;
        self.inner.feed(data, |message, cut| {
            if failed.is_none() {
                failed = out.append((PyBytes::new(py, message), cut)).err();
            }
        });
        failed.map_or(Ok(out), Err)
    }

    /// finish() -> list of (message, truncated): at the end of the stream, a last message without its newline.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        if let Some(rest) = self.inner.finish() {
            out.append((PyBytes::new(py, &rest), false))?;
        }
        Ok(out)
    }
}

/// A `logjet.wire.Source` as the start of its records' values, and its id as their key.
fn source_prefix<'py>(py: Python<'py>, source: &Bound<'py, PyAny>) -> PyResult<(Vec<u8>, Bound<'py, PyBytes>)> {
    let id: String = source.getattr("id")?.extract()?;
    let kind: String = source.getattr("kind")?.extract()?;
    let host: String = source.getattr("host")?.extract()?;
    let collector: String = source.getattr("collector")?.extract()?;
    let path: Option<String> = source.getattr("path")?.extract()?;
    let mut tags: Vec<(String, String)> = Vec::new();
    for pair in source.getattr("tags")?.call_method0("items")?.try_iter()? {
        tags.push(pair?.extract()?);
    }
    let prefix = crate::output::source_prefix(&id, &kind, &host, &collector, path.as_deref(), &tags);
    Ok((prefix, PyBytes::new(py, id.as_bytes())))
}

/// An attrs value as orjson writes it (the types `logjet.wire.AttrValue` allows).
fn write_attr(out: &mut Vec<u8>, v: &Bound<'_, PyAny>) -> PyResult<()> {
    if let Ok(b) = v.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
    } else if let Ok(s) = v.cast::<PyString>() {
        crate::transform::dumps_str(out, s.to_str()?);
    } else if let Ok(f) = v.cast::<PyFloat>() {
        crate::transform::dumps_float(out, f.value());
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(v.extract::<i64>()?).as_bytes());
    }
    Ok(())
}

/// The Python reference's answer for one message the core left to it (`logjet.formats.syslog.parse`).
fn fallback(parse: &Bound<'_, PyAny>, raw: &Bound<'_, PyBytes>, recv_ns: i64) -> PyResult<crate::syslog::Fallback> {
    let p = parse.call1((raw, recv_ns))?;
    let attrs = p.getattr("attrs")?;
    let attrs = attrs.cast::<PyDict>()?;
    let mut json = Vec::new();
    if !attrs.is_empty() {
        json.push(b'{');
        for (i, (k, v)) in attrs.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            crate::transform::dumps_str(&mut json, k.cast::<PyString>()?.to_str()?);
            json.push(b':');
            write_attr(&mut json, &v)?;
        }
        json.push(b'}');
    }
    Ok(crate::syslog::Fallback {
        time_ns: p.getattr("time_ns")?.extract()?,
        message: p.getattr("message")?.extract()?,
        flags: p.getattr("flags")?.extract()?,
        attrs: json,
    })
}

thread_local! {
    // The last syslog drain's buffers, kept for the next drain of the same thread.
    static SYSLOG_SCRATCH: std::cell::RefCell<crate::syslog::Scratch> = std::cell::RefCell::new(Default::default());
}

/// syslog_drain(items, seq, source_of, batch_max_entries, batch_max_bytes, record_max_bytes, /)
/// -> (records, flagged, nbytes)
///
/// `collectors.syslog.server.SyslogListener.drain` and `collectors.output.Output.ship` for one drained batch: `items`
/// are the listener's `(raw, peer, recv_ns, truncated)`, `seq` the sequence number of the first, `source_of(peer)`
/// the `Source` of a sender (called once per sender, in the order senders first appear). Out: `records`, the
/// `(key, value, entries)` of every wire record in sending order (one sender's records together, senders in that
/// order); `flagged`, `(flag, entries)` for `entries_flagged`; `nbytes`, the bytes received.
#[pyfunction]
fn syslog_drain<'py>(py: Python<'py>, items: &Bound<'py, PyList>, seq: i64, source_of: &Bound<'py, PyAny>,
                     batch_max_entries: usize, batch_max_bytes: usize, record_max_bytes: usize)
    -> PyResult<Bound<'py, PyTuple>> {
    let n = items.len();
    let mut raws: Vec<Bound<'py, PyBytes>> = Vec::with_capacity(n);
    let mut meta: Vec<(usize, i64, bool)> = Vec::with_capacity(n);
    let mut peers: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut sources: Vec<(Vec<u8>, Bound<'py, PyBytes>)> = Vec::new();
    let mut last: Option<(*mut pyo3::ffi::PyObject, usize)> = None;
    for item in items.iter() {
        let item = item.cast_into::<PyTuple>()?;
        raws.push(item.get_item(0)?.cast_into::<PyBytes>()?);
        let peer_obj = item.get_item(1)?;
        let peer = match last {
            Some((ptr, index)) if ptr == peer_obj.as_ptr() => index,
            _ => {
                let name = peer_obj.cast::<PyString>()?.to_str()?;
                let index = match peers.get(name) {
                    Some(&index) => index,
                    None => {
                        sources.push(source_prefix(py, &source_of.call1((&peer_obj,))?)?);
                        peers.insert(name.to_owned(), sources.len() - 1);
                        sources.len() - 1
                    }
                };
                // The items of one read share their peer object: most lookups stop here.
                last = Some((peer_obj.as_ptr(), index));
                index
            }
        };
        meta.push((peer, item.get_item(2)?.extract()?, item.get_item(3)?.is_truthy()?));
    }
    let msgs: Vec<crate::syslog::Received<'_>> = raws.iter().zip(&meta)
        .map(|(raw, &(peer, recv_ns, truncated))| crate::syslog::Received { raw: raw.as_bytes(), peer, recv_ns, truncated })
        .collect();
    let outcomes = without_gil(py, n, || msgs.iter().map(|m| crate::syslog::read(m.raw, m.recv_ns)).collect::<Vec<_>>());
    let mut fallbacks: Vec<Option<crate::syslog::Fallback>> = Vec::with_capacity(n);
    let mut parse = None;
    for (i, outcome) in outcomes.iter().enumerate() {
        if matches!(outcome, crate::syslog::Outcome::Delegated) {
            if parse.is_none() {
                parse = Some(py.import("logjet.formats.syslog")?.getattr("parse")?);
            }
            let parse = parse.as_ref().expect("imported above");
            fallbacks.push(Some(fallback(parse, &raws[i], msgs[i].recv_ns)?));
        } else {
            fallbacks.push(None);
        }
    }
    let prefixes: Vec<Vec<u8>> = sources.iter().map(|(prefix, _)| prefix.clone()).collect();
    let limits = crate::output::Limits { max_entries: batch_max_entries, max_bytes: batch_max_bytes, record_max_bytes };
    let mut scratch = SYSLOG_SCRATCH.with_borrow_mut(std::mem::take);
    let (made, flagged) = without_gil(py, n, || {
        crate::syslog::drain(&msgs, outcomes, fallbacks, seq, &prefixes, &limits, &mut scratch)
    });
    let records = PyList::empty(py);
    for (source, r) in &made {
        let (prefix, key) = &sources[*source];
        let value = PyBytes::new_with(py, r.len(prefix), |buf| {
            r.write(prefix, &scratch.encoded, buf);
            Ok(())
        })?;
        records.append((key, value, r.entries))?;
    }
    SYSLOG_SCRATCH.with_borrow_mut(|kept| *kept = scratch);
    let flagged = PyList::new(py, flagged.iter().map(|(flag, count)| (flag.as_ref(), *count)))?;
    let nbytes: usize = msgs.iter().map(|m| m.raw.len()).sum();
    PyTuple::new(py, [records.into_any(), flagged.into_any(), nbytes.into_pyobject(py)?.into_any()])
}

/// UdpReceiver(fd, max_bytes, wait_s): a syslog UDP listener's receiving (`native/src/server.rs`) on a duplicate of
/// the bound socket `fd`.
#[pyclass(name = "UdpReceiver", module = "logjet._core")]
struct PyUdpReceiver {
    inner: crate::server::UdpReceiver,
}

#[pymethods]
impl PyUdpReceiver {
    #[new]
    fn new(fd: i32, max_bytes: usize, wait_s: f64) -> PyResult<Self> {
        let wait = std::time::Duration::try_from_secs_f64(wait_s)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        Ok(Self { inner: crate::server::UdpReceiver::new(fd, max_bytes, wait)? })
    }

    /// recv(max, /) -> list of (message, sender ip, receive time, truncated): the items `SyslogListener` queues; the
    /// first datagram waited for (an empty list when none came in time), up to `max` in all. The GIL is released.
    fn recv<'py>(&mut self, py: Python<'py>, max: usize) -> PyResult<Bound<'py, PyList>> {
        let inner = &mut self.inner;
        let got = py.detach(|| inner.recv(max))?;
        let out = PyList::empty(py);
        let mut peers: Vec<(std::net::IpAddr, Bound<'py, PyString>)> = Vec::new();
        for d in got {
            let ip = d.peer.ip();
            let peer = match peers.iter().find(|(known, _)| *known == ip) {
                Some((_, s)) => s.clone(),
                None => {
                    let s = PyString::new(py, &ip.to_string());
                    peers.push((ip, s.clone()));
                    s
                }
            };
            out.append((PyBytes::new(py, &d.data), peer, d.recv_ns, d.truncated))?;
        }
        Ok(out)
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_batch, m)?)?;
    m.add_function(wrap_pyfunction!(transform_batch, m)?)?;
    m.add_function(wrap_pyfunction!(pattern_batch, m)?)?;
    m.add_class::<SourceRules>()?;
    m.add_function(wrap_pyfunction!(syslog_drain, m)?)?;
    m.add_class::<PyFramer>()?;
    m.add_class::<PyUdpReceiver>()?;
    Ok(())
}

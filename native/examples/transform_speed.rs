//! Time `transform_batch` alone (no Python) on records written by
//! `python -c 'from benchmarks.corpus import wire_records; ...'`: a file of records, each a u32 (little-endian) length
//! and a logjet wire value. `cargo run --profile profiling --example transform_speed -- records.bin`.

use _core::ecs::Settings;
use _core::transform::{transform_batch, Record};
use _core::user::Rules;
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("a file of length-prefixed wire values");
    let data = std::fs::read(path).expect("readable file");
    let mut values = Vec::new();
    let mut at = 0;
    while at + 4 <= data.len() {
        let n = u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
        values.push(&data[at + 4..at + 4 + n]);
        at += 4 + n;
    }
    let records: Vec<Record<'_>> = values.iter().enumerate().map(|(i, v)| Record {
        value: Some(v), wire: Some(b"1"), topic: "bench", partition: 0, offset: i as i64, timestamp_ms: 1_795_000_000_000,
        topic_id: "",
    }).collect();
    let settings = Settings { dataset: "logjet".into(), namespace: "default".into(),
                              ingested: "2026-11-30T00:00:00.000000000Z".into(), keep_original: false, patterns: true };
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        let out = transform_batch(&records, &settings, &Rules::default(), None, std::mem::take(&mut bodies));
        let s = t0.elapsed().as_secs_f64();
        println!("{} documents, {} handed back: {:.0} entries/s", out.docs.len(), out.handed_back.len(),
                 out.docs.len() as f64 / s);
        bodies = out.bulk.buf;
    }
}

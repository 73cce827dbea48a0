//! Time `parse_line` alone (no Python) per kind of line: `cargo run --release --example parse_speed`.

use _core::parsers::parse_line;
use std::time::Instant;

fn main() {
    let now = 1_795_608_000_000_000_000;
    // With a JSON array of lines as the argument: the mean over those lines instead.
    if let Some(path) = std::env::args().nth(1) {
        let text = std::fs::read_to_string(path).expect("readable file");
        let lines: Vec<String> = serde_json::from_str(&text).expect("a JSON array of strings");
        let best = (0..5).map(|_| {
            let t0 = Instant::now();
            for line in &lines {
                std::hint::black_box(parse_line(line, now).ok());
            }
            t0.elapsed().as_secs_f64() * 1e6 / lines.len() as f64
        }).fold(f64::INFINITY, f64::min);
        println!("{} lines: {best:.2} us a line", lines.len());
        return;
    }
    let kinds = [
        ("plain", "just some words in a line without anything special at all, quite long though to be realistic"),
        ("iso+header", "2026-11-25 10:00:01,123 WARN [main] com.example.Service: slow request took 1234 ms for user 42"),
        ("iso nolevel", "2026-11-25 10:00:01,123 something happened here and there and more words follow"),
        ("syslogfile", "Nov 25 11:59:00 node-7 sshd[1234]: Accepted publickey for root from 10.0.0.1 port 22"),
        ("access", r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /api/cart HTTP/1.1" 200 2326 "-" "curl/8.5.0""#),
        ("logfmt", r#"level=info msg="request done" took=12ms path=/api/cart status=200"#),
        ("cri", "2024-05-01T10:11:12.123456789Z stdout F plain full line of text here"),
        ("rfc5424", r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event"#),
    ];
    for (name, line) in kinds {
        let n = 50_000;
        let _ = parse_line(line, now);
        // The best of seven runs: the machine is shared, and the least disturbed run is the closest to the cost.
        let best = (0..7).map(|_| {
            let t0 = Instant::now();
            for _ in 0..n {
                std::hint::black_box(parse_line(std::hint::black_box(line), now).ok());
            }
            t0.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        }).fold(f64::INFINITY, f64::min);
        println!("{name:12} {best:6.2} us");
    }
}

//! Timestamps as integer nanoseconds since the epoch (UTC): `logjet/timeparse.py`.

use crate::pyre::{compile, int};
use crate::pyre::PyRegex;
use std::sync::LazyLock;

pub const MAX_NS: i64 = i64::MAX;
const DAY_NS: i64 = 86_400 * 1_000_000_000;

pub fn month(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    MONTHS.iter().position(|m| *m == name).map(|i| i as u32 + 1)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number since the epoch (Howard Hinnant's civil_from_days).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The UTC year of a day number since the epoch.
fn year_of_day(days: i64) -> i64 {
    civil_from_days(days).0
}

/// `time.gmtime(now_ns // 1e9).tm_year`, for the receive times the core handles (from the epoch on).
pub fn year_of(now_ns: i64) -> Option<i64> {
    (now_ns >= 0).then(|| year_of_day(now_ns.div_euclid(DAY_NS)))
}

/// Nanoseconds since the epoch, or None where Python's `to_ns` raises ValueError. `frac` is the fraction's digits.
pub fn to_ns(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64, frac: &str, offset: i64)
    -> Option<i64> {
    if !((0..=23).contains(&hour) && (0..=59).contains(&minute) && (0..=60).contains(&second)) {
        return None;
    }
    if !((1..=12).contains(&month) && 1 <= day && day <= days_in_month(year, month)) {
        return None;
    }
    let secs = i128::from(days_from_civil(year, month, day)) * 86_400 + i128::from(hour * 3600 + minute * 60 + second)
        - i128::from(offset) * 60;
    let mut nanos: i128 = 0;
    if !frac.is_empty() {
        let mut n = 0;
        for c in frac.chars().chain("000000000".chars()).take(9) {
            nanos = nanos * 10 + i128::from(crate::pyre::digit(c)?);
            n += 1;
        }
        debug_assert_eq!(n, 9);
    }
    let ns = secs * 1_000_000_000 + nanos;
    (0..=i128::from(MAX_NS)).contains(&ns).then_some(ns as i64)
}

static RFC3339: LazyLock<PyRegex> = LazyLock::new(|| {
    compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?\d*(?:([Zz])|([+-])(\d\d):?(\d\d))", true)
});

/// Nanoseconds of an RFC 3339 timestamp, or None when `text` is not one. Err when the regex engine gave up.
pub fn rfc3339_ns(text: &str) -> Result<Option<i64>, crate::Delegate> {
    let Some(m) = RFC3339.captures(text).map_err(|_| crate::Delegate::RegexLimit)? else { return Ok(None) };
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    let offset = if m.get(8).is_some() || m.get(9).is_none() {
        0
    } else {
        let o = int(g(10)).unwrap_or(0) * 60 + int(g(11)).unwrap_or(0);
        if g(9) == "+" { o } else { -o }
    };
    let n = |i: usize| int(g(i)).unwrap_or(-1);
    Ok(to_ns(n(1), n(2), n(3), n(4), n(5), n(6), g(7), offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for d in [-1000, 0, 59, 11_016, 20_000, 106_751] {
            let y = year_of_day(d);
            assert!(days_from_civil(y, 1, 1) <= d && d < days_from_civil(y + 1, 1, 1), "{d}");
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_ns("1970-01-01T00:00:01.5Z").unwrap(), Some(1_500_000_000));
        assert_eq!(rfc3339_ns("1970-01-01T01:00:00+01:00").unwrap(), Some(0));
        assert_eq!(rfc3339_ns("2024-02-30T00:00:00Z").unwrap(), None);
    }
}

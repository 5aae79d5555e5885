//! How numbers are written in words: thousands separators, milliseconds, rates and memory sizes,
//! in the notes beside cells, the comparison of two runs and every human-readable report. The
//! JSON report's figures stay raw numbers.

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A non-negative amount rounded to a whole number (NaN and negatives count as 0).
fn whole(x: f64) -> u64 {
    // `as` saturates: NaN → 0, negative → 0, huge → u64::MAX.
    x.round() as u64
}

/// Microseconds written as milliseconds with 3 decimals: `312.4` → `0.312 ms`.
pub fn millis(us: f64) -> String {
    format!("{:.3} ms", us / 1_000.0)
}

/// A rate with thousands separators and no decimals: `3205.4` → `3,205/s`.
pub fn per_sec(rate: f64) -> String {
    format!("{}/s", thousands(whole(rate)))
}

/// A record rate: `31200.0` → `31,200 rec/s`.
pub fn records_per_sec(rate: f64) -> String {
    format!("{} rec/s", thousands(whole(rate)))
}

/// A latency in µs with three significant figures and a unit that fits: `8.42 µs`, `84.2 µs`,
/// `1.23 ms`, `12.3 ms`, `1.23 s`.
pub fn latency(us: f64) -> String {
    let us = if us.is_finite() { us.max(0.0) } else { 0.0 };
    if us < 9.995 {
        format!("{us:.2} µs")
    } else if us < 999.5 {
        format!("{us:.1} µs")
    } else if us < 9_995.0 {
        format!("{:.2} ms", us / 1e3)
    } else if us < 999_500.0 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// A latency difference with its sign: `+14.2 µs`, `−0.31 µs`.
pub fn signed_latency(us: f64) -> String {
    if us < 0.0 { format!("−{}", latency(-us)) } else { format!("+{}", latency(us)) }
}

/// Bytes as GiB with one decimal: `8589934592` → `8.0 GiB`.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(24_390), "24,390");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn units() {
        assert_eq!(millis(312.4), "0.312 ms");
        assert_eq!(millis(12_345.0), "12.345 ms");
        assert_eq!(per_sec(3_205.4), "3,205/s");
        assert_eq!(per_sec(f64::NAN), "0/s");
        assert_eq!(records_per_sec(31_200.0), "31,200 rec/s");
        assert_eq!(gib(8 << 30), "8.0 GiB");
        assert_eq!(latency(8.424), "8.42 µs");
        assert_eq!(latency(84.24), "84.2 µs");
        assert_eq!(latency(999.4), "999.4 µs");
        assert_eq!(latency(1_234.0), "1.23 ms");
        assert_eq!(latency(12_345.0), "12.3 ms");
        assert_eq!(latency(1_234_567.0), "1.23 s");
        assert_eq!(signed_latency(14.24), "+14.2 µs");
        assert_eq!(signed_latency(-0.314), "−0.31 µs");
    }
}

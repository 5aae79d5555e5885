//! The app's `Server-Timing` header (its handler's own figures, e.g. `app;dur=12.5,
//! db;desc="batch";dur=9.1`): names and durations in ns, read without allocating for the hot path.

/// Parses a Server-Timing header value into (name, duration in ns) pairs; entries without a
/// valid `dur` (a non-negative number of milliseconds) are ignored, other parameters (`desc=`)
/// skipped, and quoted strings may hold commas and semicolons.
#[cfg(test)]
pub fn server_timing(value: &str) -> Vec<(String, u64)> {
    server_timing_entries(value).map(|(name, ns)| (name.to_string(), ns)).collect()
}

/// [`server_timing`] without allocating, for the hot path.
pub(crate) fn server_timing_entries(value: &str) -> impl Iterator<Item = (&str, u64)> {
    split_unquoted(value, ',').filter_map(|entry| {
        let mut parts = split_unquoted(entry, ';');
        let name = parts.next()?.trim();
        if name.is_empty() {
            return None;
        }
        let dur = parts.find_map(|param| {
            let (key, value) = param.split_once('=')?;
            key.trim().eq_ignore_ascii_case("dur").then(|| value.trim().trim_matches('"'))
        })?;
        let ms: f64 = dur.parse().ok()?;
        (ms.is_finite() && ms >= 0.0).then(|| (ms * 1e6).round() as u64).map(|ns| (name, ns))
    })
}

/// Splits `s` at `separator` where it is not inside a double-quoted string (`\` escapes).
fn split_unquoted(s: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let s = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == separator && !quoted => {
                    rest = Some(&s[i + c.len_utf8()..]);
                    return Some(&s[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_reads_names_and_durations() {
        assert_eq!(server_timing("app;dur=12.5"), [("app".to_string(), 12_500_000)]);
        assert_eq!(
            server_timing(" app ; dur = 1.25 ,db;dur=0.5,  loop;dur=0"),
            [("app".to_string(), 1_250_000), ("db".to_string(), 500_000), ("loop".to_string(), 0)]
        );
        // No dur, a bad dur, a negative one, an empty entry: ignored.
        assert_eq!(
            server_timing("miss, cache;desc=hit, ,x;dur=abc, y;dur=-1, db;dur=3"),
            [("db".to_string(), 3_000_000)]
        );
        // desc before or after dur, quoted, with the separators inside the quotes.
        assert_eq!(
            server_timing(r#"db;desc="batch; of, 80 \"keys\"";dur=7, app;dur="2.5";desc=handler"#),
            [("db".to_string(), 7_000_000), ("app".to_string(), 2_500_000)]
        );
        // The parameter name is case-insensitive; the first dur counts.
        assert_eq!(server_timing("app;DUR=1;dur=2"), [("app".to_string(), 1_000_000)]);
        assert!(server_timing("").is_empty());
    }
}

//! The timestamps of a report (`started_at`, `finished_at`): RFC 3339 in UTC to the second (a
//! phase's window to the microsecond), as `humantime` writes and reads them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, e.g. `2026-11-30T05:37:58Z`.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// A wall-clock time as the JSON gives a phase's window: RFC 3339, UTC, to the microsecond.
pub fn wall(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// Seconds since 1970 of an RFC 3339 timestamp; `None` when it is not one.
pub fn epoch_secs(t: &str) -> Option<i64> {
    let at = humantime::parse_rfc3339(t).ok()?;
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).ok(),
        Err(before) => i64::try_from(before.duration().as_secs()).ok().map(|s| -s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_utc_seconds() {
        let t = now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T", "{t}");
        let back = epoch_secs(&t).unwrap();
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        assert!((secs - back).abs() <= 2, "{t} read back as {back}, now is {secs}");
        assert_eq!(epoch_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_secs("2026-01-02T03:04:05Z"), Some(1_767_323_045));
        assert_eq!(epoch_secs("2026-01-02 03:04:05"), None);
        assert_eq!(wall(UNIX_EPOCH + std::time::Duration::from_micros(1_500_000)), "1970-01-01T00:00:01.500000Z");
    }
}

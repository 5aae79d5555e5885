//! Slowness on request (`serve --delay`, `serve --stall`): a fixed delay before every record,
//! batch and scan answer, and/or a periodic stall during which every such request waits until
//! the stall is over — a server whose latency changes under the benchmark, so that the
//! difference between open- and closed-loop measurement can be seen. Info and admin requests
//! (cluster tending, login) are never held.

use std::time::{Duration, Instant};

/// `length` of every `period` the server answers nothing: the last `length` of each period
/// since the server started (so the first moments, when clients connect, are calm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    pub length: Duration,
    pub period: Duration,
}

/// How long requests are held before they are answered.
#[derive(Debug, Clone, Copy)]
pub struct Delay {
    fixed: Duration,
    stall: Option<Stall>,
    epoch: Instant,
}

impl Delay {
    pub fn new(fixed: Option<Duration>, stall: Option<Stall>) -> Delay {
        Delay { fixed: fixed.unwrap_or_default(), stall, epoch: Instant::now() }
    }

    /// How long a request arriving at `now` waits before it is handled.
    pub fn hold_at(&self, now: Instant) -> Duration {
        let mut wait = self.fixed;
        if let Some(s) = self.stall {
            let period = s.period.as_nanos().max(1);
            let into = now.saturating_duration_since(self.epoch).as_nanos() % period;
            let stall_from = period - s.length.as_nanos().min(period);
            if into >= stall_from {
                wait += Duration::from_nanos((period - into) as u64);
            }
        }
        wait
    }

    /// Waits as long as a request arriving now must.
    pub async fn hold(&self) {
        let wait = self.hold_at(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Parses a delay: a number and a unit (`us`, `ms`, `s`), e.g. `250us`, `2ms`, `1.5s`; `0` is none.
pub fn parse_delay(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a delay; use e.g. 250us, 2ms or 1s"))?;
    let secs = match unit {
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "" if value == 0.0 => 0.0,
        _ => return Err(format!("{text:?} needs a unit: us, ms or s (e.g. 2ms)")),
    };
    if !(0.0..=60.0).contains(&secs) {
        return Err(format!("{text:?} is out of range; use 0 to 60s"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a stall pattern `LENGTH/PERIOD`, e.g. `100ms/1s`: the server answers nothing for
/// LENGTH out of every PERIOD.
pub fn parse_stall(text: &str) -> Result<Stall, String> {
    let (length, period) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not a stall pattern; use LENGTH/PERIOD, e.g. 100ms/1s"))?;
    let (length, period) = (parse_delay(length)?, parse_delay(period)?);
    if length.is_zero() || length >= period {
        return Err(format!("in {text:?} the stall must be longer than 0 and shorter than its period"));
    }
    Ok(Stall { length, period })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn delays_and_stalls_parse_with_their_units() {
        assert_eq!(parse_delay("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_delay("2ms"), Ok(2 * MS));
        assert_eq!(parse_delay("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_delay("0"), Ok(Duration::ZERO));
        for bad in ["", "2", "2h", "-1ms", "61s", "fast"] {
            assert!(parse_delay(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_stall("100ms/1s"), Ok(Stall { length: 100 * MS, period: 1000 * MS }));
        for bad in ["100ms", "1s/100ms", "0ms/1s", "1s/1s", "x/1s"] {
            assert!(parse_stall(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_during_a_stall_wait_until_it_ends() {
        let d = Delay::new(Some(2 * MS), parse_stall("100ms/1s").ok());
        let at = |ms: u64| d.hold_at(d.epoch + Duration::from_millis(ms));
        assert_eq!(at(0), 2 * MS, "calm at the start: only the fixed delay");
        assert_eq!(at(899), 2 * MS);
        assert_eq!(at(900), 102 * MS, "the stall begins 100 ms before the period ends");
        assert_eq!(at(950), 52 * MS);
        assert_eq!(at(1000), 2 * MS, "and ends with it");
        assert_eq!(at(1960), 42 * MS, "every period");
        assert_eq!(Delay::new(None, None).hold_at(Instant::now()), Duration::ZERO);
    }
}

//! What one request to the app does (`--service SCENARIO`), the extra work after the database
//! step (`--app-work`), and which record or batch request n asks for.

use std::time::Duration;

use crate::workload::Workload;

/// An endpoint, named after what services do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// One get → the record's bins as JSON.
    GetJson,
    /// A batch of --batch-size keys → a JSON count of the records found.
    BatchCount,
    /// A batch → every record's bins walked → a small sum as JSON.
    BatchWalk,
    /// A batch → a NumPy array (the client's own path where it has one) → a matrix-vector product.
    BatchNumpy,
    /// --gather batches of the same keys at once (asyncio.gather) → the records found.
    BatchGather,
}

impl Scenario {
    /// Its name on the command line and in the app's path.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::GetJson => "get-json",
            Scenario::BatchCount => "batch-count",
            Scenario::BatchWalk => "batch-walk",
            Scenario::BatchNumpy => "batch-numpy",
            Scenario::BatchGather => "batch-gather",
        }
    }

    /// What one request does, in words.
    pub fn describe(self, batch_size: u32, gather: u32) -> String {
        match self {
            Scenario::GetJson => "one get → the record as JSON".into(),
            Scenario::BatchCount => format!("a batch of {batch_size} keys → JSON count"),
            Scenario::BatchWalk => format!("a batch of {batch_size} keys → every record's bins walked → a sum"),
            Scenario::BatchNumpy => {
                format!("a batch of {batch_size} keys → a NumPy array → a matrix-vector product")
            }
            Scenario::BatchGather => {
                format!("{gather} batches of the same {batch_size} keys gathered at once → JSON count")
            }
        }
    }

    /// True when a request reads a batch (its index is a batch number), false for one record.
    pub fn batched(self) -> bool {
        !matches!(self, Scenario::GetJson)
    }

    /// How many different indexes requests cycle over: records for a get, batches otherwise.
    pub fn indexes(self, workload: &Workload) -> u64 {
        let count = workload.count.max(1);
        if self.batched() { count.div_ceil(u64::from(workload.batch_size.max(1))) } else { count }
    }

    /// The path and query of request `n`: every column gets the same sequence.
    pub fn path(self, n: u64, indexes: u64) -> String {
        format!("/{}?i={}", self.name(), n % indexes.max(1))
    }
}

/// CPU-bound work after the database step (`--app-work`), the model step services run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AppWork {
    /// An N×N float64 NumPy matrix product per request.
    Matmul(u32),
    /// Pure Python arithmetic for this long per request.
    Python(Duration),
}

impl AppWork {
    /// `matmul:64` or `python:500us` (a duration such as 500us, 2ms, 1s).
    pub fn parse(text: &str) -> Result<AppWork, String> {
        let bad = || {
            format!(
                "{text:?} is not app work: give matmul:N (an N×N NumPy matrix product per request, N from 1 to \
                 4096) or python:DURATION (pure Python arithmetic that long per request, e.g. python:500us)"
            )
        };
        let (kind, value) = text.trim().split_once(':').ok_or_else(bad)?;
        match kind {
            "matmul" => match value.trim().parse::<u32>() {
                Ok(n) if (1..=4096).contains(&n) => Ok(AppWork::Matmul(n)),
                _ => Err(bad()),
            },
            "python" => {
                let d = humantime::parse_duration(value.trim()).map_err(|_| bad())?;
                if d.is_zero() || d > Duration::from_secs(10) {
                    return Err(bad());
                }
                Ok(AppWork::Python(d))
            }
            _ => Err(bad()),
        }
    }

    /// As the report names it.
    pub fn name(&self) -> String {
        match self {
            AppWork::Matmul(n) => format!("matmul:{n}"),
            AppWork::Python(d) => format!("python:{}us", d.as_micros()),
        }
    }

    /// What the app reads (`spec["work"]`).
    pub fn spec(&self) -> serde_json::Value {
        match self {
            AppWork::Matmul(n) => serde_json::json!({"kind": "matmul", "n": n}),
            AppWork::Python(d) => serde_json::json!({"kind": "python", "us": d.as_micros() as u64}),
        }
    }

    /// True when the work needs NumPy in the app.
    pub fn needs_numpy(&self) -> bool {
        matches!(self, AppWork::Matmul(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_work_parses_both_kinds_and_refuses_the_rest() {
        assert_eq!(AppWork::parse("matmul:64"), Ok(AppWork::Matmul(64)));
        assert_eq!(AppWork::parse("python:500us"), Ok(AppWork::Python(Duration::from_micros(500))));
        assert_eq!(AppWork::parse("python:2ms").unwrap().name(), "python:2000us");
        for bad in ["", "matmul", "matmul:0", "matmul:x", "python:0s", "python:1h", "gpu:3"] {
            let e = AppWork::parse(bad).unwrap_err();
            assert!(e.contains("matmul:N"), "{bad}: {e}");
        }
    }

    #[test]
    fn requests_cycle_over_records_or_batches() {
        assert_eq!(Scenario::GetJson.path(1005, 1000), "/get-json?i=5");
        assert_eq!(Scenario::BatchCount.path(12, 10), "/batch-count?i=2");
        assert!(Scenario::BatchGather.batched() && !Scenario::GetJson.batched());
        assert_eq!(Scenario::BatchWalk.describe(100, 4), "a batch of 100 keys → every record's bins walked → a sum");
    }
}

//! The workload: which operations run, the keys and bins every client writes and reads.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Put,
    Get,
    #[value(name = "batch_get")]
    BatchGet,
    Scan,
}

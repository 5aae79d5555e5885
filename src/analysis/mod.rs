//! From measured phases to conclusions: cells aggregated over rounds, clients compared with
//! intervals and verdicts, two runs compared (the CI gate), load hosts merged, node loss and spread, a cluster that changed under the run.

pub mod aggregate;
pub mod cluster_change;
pub mod compare;
pub mod compare_runs;
pub mod merge;
pub mod node_loss;
pub mod node_spread;
pub mod service;

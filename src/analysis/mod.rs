//! From measured phases to conclusions: cells aggregated over rounds, clients compared with
//! intervals and verdicts, two runs compared (the CI gate), load hosts merged, node loss and spread, a cluster that changed under the run, a client's own stage timers.

pub mod aggregate;
pub mod cluster_change;
pub mod compare;
pub mod compare_runs;
pub mod merge;
pub mod node_loss;
pub mod node_spread;
pub mod service;
pub mod stage_histogram;
pub mod stages;

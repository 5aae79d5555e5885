//! The run: what the user asked (cli), the plan, the schedule and order of phases, the safety
//! checks on the data a run touches, and the flow from start to report (bench).

pub mod assemble;
pub mod bench;
pub mod builds;
pub mod builtin_server;
pub mod cli;
pub mod cluster_state;
pub mod connectivity;
pub mod crosscheck;
pub mod fail_node;
pub mod machine;
pub mod merge;
pub mod node_counters;
pub mod order;
pub mod plan;
pub mod preset;
pub mod profile_pass;
pub mod profile_settings;
pub mod safety;
pub mod scheduler;
pub mod service;
pub mod service_plan;
pub mod service_profile;
pub mod service_steps;
pub mod settle;
pub mod stage_pass;
pub mod stop_rule;

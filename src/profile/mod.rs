//! Profiles of the Python columns (`--profile`): py-spy sampling a worker through one phase
//! (`py_spy.rs`), its samples read back (`speedscope.rs`) and cut to the phase (`stacks.rs`),
//! who was running in each sample (`owners.rs`), what grew between two builds
//! (`differential.rs`) and the flame graphs (`flame.rs`). The pass that runs the sampled phases
//! after the measured rounds is `run/profile_pass.rs`; the data is `model/profile.rs`.

pub mod differential;
pub mod flame;
pub mod owners;
pub mod py_spy;
pub mod speedscope;
pub mod stacks;

//! The plain data of `--profile`: where each Python column's time went in one sampled phase per
//! operation (shares of samples by owner, the frames that took most), what the sampling cost,
//! and what grew or shrank between two builds of one client. Serialized as-is into the JSON
//! report's `profiles` (see `schema.json`).

use serde::{Deserialize, Serialize};

/// Every profile of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Profiles {
    /// The sampler, e.g. `py-spy 0.4.3, native frames, idle threads included`.
    pub sampler: String,
    /// Samples per second per thread.
    pub rate_hz: u32,
    /// How long each sampled phase (and the unprofiled phase before it) ran.
    pub phase_secs: f64,
    /// The folder holding the folded stacks and flame graphs.
    pub dir: String,
    /// One per Python column and operation.
    pub profiles: Vec<Profile>,
    /// One per later build of a client against its first build, per operation.
    pub differentials: Vec<Differential>,
    /// What kept a column or the whole pass from being profiled.
    pub notes: Vec<String>,
}

/// One column's sampled phase of one operation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    /// `Column::id`.
    pub column: String,
    pub operation: String,
    /// Samples kept: those taken while the phase ran.
    pub samples: u64,
    /// Samples taken before the phase began or after it ended (the worker waiting for its next
    /// command), left out.
    pub dropped_samples: u64,
    /// Shares of the kept samples by who was running.
    pub shares: WhereShares,
    /// The frames that took most samples, by their own share.
    pub frames: Vec<FrameShare>,
    /// The folded stacks (one line per stack and its count), relative to `Profiles::dir`.
    pub folded: Option<String>,
    /// The flame graph (SVG), relative to `Profiles::dir`.
    pub flamegraph: Option<String>,
    /// What the sampling cost this phase.
    pub overhead: Option<Overhead>,
    /// Why this phase has no samples, or what to keep in mind about them.
    pub note: Option<String>,
    /// A service run's profile only: the app workers whose samples are merged in it (those
    /// py-spy sampled at least once during the slice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
}

/// Where the samples of one phase went, each a fraction of the kept samples (they add up to 1).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct WhereShares {
    /// Native code of the client's own extension module.
    pub client_extension: f64,
    /// Python code of the client's package.
    pub client_python: f64,
    /// aerobench's Python shim (its runner and the client's adapter).
    pub shim: f64,
    /// The interpreter: garbage collection, waiting for the GIL.
    pub interpreter: f64,
    /// Waiting: the event loop or a thread blocked on I/O, a lock or a sleep.
    pub idle: f64,
    /// Everything else: the standard library (asyncio's loop machinery), other packages.
    pub other: f64,
}

/// One frame's share of the samples.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FrameShare {
    /// `function (file)`, as in the folded stacks.
    pub frame: String,
    /// Share of samples in this frame itself (or in the system libraries it called).
    pub self_share: f64,
    /// Share of samples with this frame anywhere on the stack.
    pub total_share: f64,
}

/// The sampled phase against an unprofiled phase of the same column and operation run just
/// before it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Overhead {
    pub unprofiled_ops_per_sec: f64,
    pub profiled_ops_per_sec: f64,
    /// 1 - profiled / unprofiled: 0.12 is 12% slower while sampled (negative: faster, noise).
    pub slowdown: f64,
}

/// What changed between two builds of one client for one operation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Differential {
    /// `Column::id` of the first build (the one compared against).
    pub before: String,
    /// `Column::id` of the later build.
    pub after: String,
    pub operation: String,
    /// The differential flame graph (the later build's stacks, coloured by growth), relative to
    /// `Profiles::dir`.
    pub flamegraph: Option<String>,
    /// Frames whose own share grew most, largest first.
    pub grew: Vec<FrameShift>,
    /// Frames whose own share shrank most, largest first.
    pub shrank: Vec<FrameShift>,
}

/// One frame's own share in both builds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FrameShift {
    pub frame: String,
    pub before: f64,
    pub after: f64,
    /// after - before, in shares of samples (0.38 is 38 points more).
    pub change: f64,
}

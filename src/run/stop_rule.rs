//! How a run chooses its number of rounds, as asked (`--stop`, `--budget`, `--rounds`): the
//! choice and its defaults, which the options, the plan and the rounds themselves share. The rule
//! that applies it round by round is [`crate::run::settle`].

use std::time::Duration;

use crate::analysis::compare::interval::Method;

/// How many rounds a run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StopMode {
    /// Until every verdict settles, or --budget / --rounds runs out.
    Settled,
    /// Exactly --rounds rounds (10 unless given), 95% Student-t intervals.
    Fixed,
}

/// Measured rounds' time a settled run may spend unless `--budget` says otherwise.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(20);
/// Rounds a settled run makes at most unless `--rounds` says otherwise.
pub const DEFAULT_MAX_ROUNDS: u32 = 30;

/// How a run chooses its rounds, as planned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    Fixed,
    /// Until settled, within `budget` of measured rounds (and the plan's `rounds` as the cap).
    Settled {
        budget: Duration,
    },
}

impl Stop {
    /// The interval the verdicts of such a run get.
    pub fn method(self) -> Method {
        match self {
            Stop::Fixed => Method::StudentT,
            Stop::Settled { .. } => Method::ConfidenceSequence,
        }
    }
}

//! Rounds until the verdicts settle (`--stop settled`): the stopping rule, and which cells are
//! still worth measuring. After each round from the third on, every ops/s verdict of the run
//! (each column against the baseline, each later build of a client against its first) gets its
//! confidence sequence ([`crate::analysis::compare::sequence`]); a verdict has settled when that
//! interval lies wholly beyond the minimum effect on one side or wholly within it. A (column,
//! operation) whose verdicts have all settled stops being measured; a baseline goes on while any
//! cell still compares with it. The rounds end when nothing is left open, or at the budget
//! (`--budget`, measured rounds' time) or the cap (`--rounds`), whichever comes first.

use std::time::Duration;

use crate::analysis::compare::{self, interval::Method};
use crate::engine::Measured;
use crate::model::results::{Column, RatioMetric, Verdict};
use crate::run::plan::Plan;
use crate::workload::Operation;

/// Why a settled run's rounds ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every verdict settled.
    Settled,
    /// The next round would have ended past `--budget`.
    Budget,
    /// `--rounds` rounds ran.
    MaxRounds,
    /// Interrupted, or the server or every column went away.
    Early,
}

impl Ended {
    pub fn name(self) -> &'static str {
        match self {
            Ended::Settled => "settled",
            Ended::Budget => "budget",
            Ended::MaxRounds => "max_rounds",
            Ended::Early => "stopped_early",
        }
    }
}

/// What the rule did in a settled run, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Settling {
    pub budget: Duration,
    pub ended: Ended,
    /// (column id, operation, rounds it ran, measured rounds' time by then) of each cell whose
    /// verdicts all settled.
    pub settled: Vec<(String, Operation, u32, Duration)>,
    /// (column id, operation) of each cell still open when the rounds ended.
    pub open: Vec<(String, Operation)>,
    /// Time the measured rounds took.
    pub spent: Duration,
}

/// The rule's bookkeeping over a run's rounds: which cells no longer run, the time spent.
pub struct Tracker {
    budget: Duration,
    /// (slot index, operation) of each cell that settled, with its column id, round and the
    /// measured rounds' time by the end of that round.
    done: Vec<(usize, Operation, String, u32, Duration)>,
    spent: Duration,
    last: Duration,
    ended: Option<Ended>,
}

impl Tracker {
    pub fn new(budget: Duration) -> Tracker {
        Tracker { budget, done: Vec::new(), spent: Duration::ZERO, last: Duration::ZERO, ended: None }
    }

    /// Whether round `round` should start (false once the budget would be passed).
    pub fn may_start(&mut self, round: u32) -> bool {
        if round > 1 && !within_budget(round, self.spent, self.last, self.budget) {
            self.ended = Some(Ended::Budget);
            return false;
        }
        true
    }

    /// Whether the cell of slot `index` and `op` has settled (and is no longer measured).
    pub fn is_done(&self, index: usize, op: Operation) -> bool {
        self.done.iter().any(|(i, o, ..)| *i == index && *o == op)
    }

    /// After measured round `round`, which took `took`: looks at the verdicts from the third
    /// round on; `running` are the columns still usable, with their slot index. False when the
    /// rounds should end (nothing left open).
    pub fn after_round(
        &mut self,
        plan: &Plan,
        round: u32,
        took: Duration,
        running: &[(usize, Column)],
        measured: &[(String, Measured)],
    ) -> bool {
        self.spent += took;
        self.last = took;
        if round < crate::analysis::compare::sequence::MIN_ROUNDS {
            return true;
        }
        let columns: Vec<Column> = running.iter().map(|(_, c)| c.clone()).collect();
        let open = open_cells(plan, &columns, measured, plan.min_effect);
        for (index, column) in running {
            for &op in &plan.ops {
                if !self.is_done(*index, op) && !open.iter().any(|(c, o)| *c == column.id && *o == op) {
                    self.done.push((*index, op, column.id.clone(), round, self.spent));
                }
            }
        }
        if open.is_empty() {
            self.ended = Some(Ended::Settled);
            return false;
        }
        true
    }

    /// Cells per round still measured, of `running` slots (for the progress bar).
    pub fn open_per_round(&self, plan: &Plan, running: &[usize]) -> u64 {
        let cells = running.iter().flat_map(|&i| plan.ops.iter().map(move |&op| (i, op)));
        cells.filter(|&(i, op)| !self.is_done(i, op)).count() as u64
    }

    /// What the rule did, once the rounds are over: `rounds_completed` of the cap `rounds`;
    /// `running` are the (slot index, column id) still usable.
    pub fn finish(self, plan: &Plan, rounds_completed: u32, running: &[(usize, String)]) -> Settling {
        let ended = self.ended.unwrap_or(if rounds_completed >= plan.rounds { Ended::MaxRounds } else { Ended::Early });
        let open = running
            .iter()
            .flat_map(|(i, id)| plan.ops.iter().map(move |&op| (*i, id.clone(), op)))
            .filter(|(i, _, op)| !self.is_done(*i, *op))
            .map(|(_, id, op)| (id, op))
            .collect();
        let settled = self.done.into_iter().map(|(_, op, id, round, by)| (id, op, round, by)).collect();
        Settling { budget: self.budget, ended, settled, open, spent: self.spent }
    }
}

/// The verdicts of `--stop settled`: the ops/s ratios the tables show, each column against the
/// baseline and each later build of a client against its first.
pub fn counted_pairs(columns: &[Column], baseline: Option<&str>) -> Vec<(String, String)> {
    compare::pairs(columns, baseline)
        .into_iter()
        .filter(|(column, base)| {
            Some(base.as_str()) == baseline || crate::model::column_id::split_build(column).1.is_some()
        })
        .collect()
}

/// The cells (column id, scheduled operation) of `running` columns whose verdicts are not all
/// settled after the rounds in `measured`, under `min_effect`: a column's own verdicts, and for
/// a baseline those of every cell compared with it. A verdict that cannot be had (failed calls,
/// an operation the client lacks) does not keep a cell open: more rounds would not give one.
pub fn open_cells(
    plan: &Plan,
    running: &[Column],
    measured: &[(String, Measured)],
    min_effect: f64,
) -> Vec<(String, Operation)> {
    let reported = plan.reported_ops();
    let cells = crate::analysis::aggregate::cells(running, &reported, measured, &plan.workload);
    let pairs = counted_pairs(running, plan.baseline.as_deref());
    let in_flight = |id: &str| running.iter().find(|c| c.id == id).map_or(0, |c| c.in_flight);
    let cell = |column: &str, op: &str| {
        cells.iter().find(|c| c.column == column && c.operation == op && c.not_supported.is_none())
    };
    // The reported operations a scheduled one's phases give: a mix's gets give puts too.
    let gives = |op: Operation| -> Vec<Operation> {
        let mut out = vec![op];
        if op == Operation::Get && plan.updates().is_some() {
            out.push(Operation::Put);
        }
        out
    };
    let mut open = Vec::new();
    for &op in &plan.ops {
        for (column, base) in &pairs {
            let unsettled = gives(op).iter().any(|reported| {
                let (Some(a), Some(b)) = (cell(column, reported.name()), cell(base, reported.name())) else {
                    return false;
                };
                let r = compare::ratio_by(
                    Method::ConfidenceSequence,
                    a,
                    b,
                    in_flight(column),
                    in_flight(base),
                    RatioMetric::OpsPerSec,
                    min_effect,
                );
                !settled(r.verdict)
            });
            if unsettled {
                for id in [column, base] {
                    if !open.iter().any(|(c, o)| c == id && *o == op) {
                        open.push((id.clone(), op));
                    }
                }
            }
        }
    }
    open
}

/// True for a verdict more rounds would not change: a direction, within the minimum effect,
/// or none to be had.
pub fn settled(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::Faster | Verdict::Slower | Verdict::WithinMinEffect | Verdict::NotComparable)
}

/// Whether a round should start: not when `--budget` would be passed, judging by the last
/// round's length (`last`) after `spent` of measured rounds; the first [`MIN_ROUNDS`] rounds
/// always run.
///
/// [`MIN_ROUNDS`]: crate::analysis::compare::sequence::MIN_ROUNDS
pub fn within_budget(next_round: u32, spent: Duration, last: Duration, budget: Duration) -> bool {
    next_round <= crate::analysis::compare::sequence::MIN_ROUNDS || spent + last <= budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_stops_a_round_that_would_pass_it_but_never_the_first_three() {
        let s = Duration::from_secs;
        assert!(within_budget(3, s(30), s(10), s(20)));
        assert!(!within_budget(4, s(12), s(9), s(20)));
        assert!(within_budget(4, s(12), s(8), s(20)));
    }

    /// A phase of `calls` successful calls in `wall_secs`.
    fn phase(op: Operation, round: u32, calls: u64, wall_secs: f64) -> Measured {
        let mut recorder = crate::engine::stats::Recorder::new();
        for _ in 0..calls {
            recorder.record_ok(Duration::from_micros(100));
        }
        Measured::plain(op, round, recorder, wall_secs)
    }

    #[test]
    fn a_settled_cell_stops_and_the_baseline_runs_while_anything_compares_with_it() {
        use clap::Parser as _;
        let cli =
            crate::run::cli::Cli::try_parse_from(["aerobench", "--clients", "noop,noop-async,py-noop", "--ops", "get"])
                .unwrap();
        let plan = Plan::from_args(&cli.bench).unwrap();
        assert_eq!(plan.baseline.as_deref(), Some("noop"));
        let column = |id: &str| crate::test_support::column(id, id, "noop", "0", "sync", 1);
        let running: Vec<(usize, Column)> =
            ["noop", "noop-async", "py-noop"].iter().enumerate().map(|(i, id)| (i, column(id))).collect();
        // noop-async makes twice the baseline's ops/s, steadily; py-noop the same, with noise.
        let mut measured = Vec::new();
        let mut tracker = Tracker::new(Duration::from_secs(60));
        for round in 1..=3 {
            let wobble = [1.0, 1.06, 0.95][round as usize - 1];
            measured.push(("noop".to_string(), phase(Operation::Get, round, 1000, 1.0)));
            measured
                .push(("noop-async".to_string(), phase(Operation::Get, round, 2000, 1.0 + 0.01 * f64::from(round))));
            measured.push(("py-noop".to_string(), phase(Operation::Get, round, 1000, wobble)));
            assert!(tracker.after_round(&plan, round, Duration::from_secs(1), &running, &measured));
            assert!(!tracker.is_done(1, Operation::Get) || round == 3);
        }
        assert!(tracker.is_done(1, Operation::Get), "2x faster settles at the first look");
        assert!(!tracker.is_done(0, Operation::Get), "the baseline still compares with py-noop");
        assert!(!tracker.is_done(2, Operation::Get));
        assert_eq!(tracker.open_per_round(&plan, &[0, 1, 2]), 2);
        let settling = tracker.finish(&plan, 3, &[(0, "noop".into()), (1, "noop-async".into()), (2, "py-noop".into())]);
        // Settled at round 3, by when the three rounds of a second each had been spent.
        assert_eq!(settling.settled, [("noop-async".to_string(), Operation::Get, 3, Duration::from_secs(3))]);
        assert_eq!(settling.open.len(), 2);
        assert_eq!(settling.ended, Ended::Early, "3 of 30 rounds, stopped before settling or the budget");
        // With py-noop gone (its column broke), nothing keeps the baseline running.
        let mut tracker = Tracker::new(Duration::from_secs(60));
        assert!(!tracker.after_round(&plan, 3, Duration::from_secs(1), &running[..2], &measured));
        assert!(tracker.is_done(0, Operation::Get));
    }

    #[test]
    fn only_directions_and_within_settle() {
        assert!(settled(Verdict::Faster) && settled(Verdict::Slower) && settled(Verdict::WithinMinEffect));
        assert!(!settled(Verdict::NoClearDifference) && !settled(Verdict::SingleRound));
    }
}

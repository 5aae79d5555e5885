//! The order in which the columns run, round by round and operation by operation: a Williams
//! design, so that over one cycle of the design every column runs in every position, and right
//! after every other column, equally often (balanced for first-order carry-over: a put burst's
//! server clean-up, the CPU's frequency or warm caches never favour the same pair of columns).
//! With an even number of columns `n` the cycle is one Latin square of `n` rounds; with an odd
//! number, the square and its mirror image, `2n` rounds. Each operation relabels the design's
//! symbols with its own seeded permutation of the columns, and each cycle runs its rows in a
//! seeded order. Rounds after the last whole cycle take rows of one more cycle, each time the row
//! that evens the counts out most (ties go to the seeded order), and the balance reached is
//! reported. Everything follows from the number of columns, operations, rounds and the seed, so
//! the hosts of one sharded run given the same options run the same order.

use rand::SeedableRng as _;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom as _;

/// The rows of a Williams design for `n` columns: `n` rows for even `n` (and one row for one
/// column), `2n` for odd `n` (the square, then its rows reversed).
pub fn williams(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return Vec::new();
    }
    // 0, 1, n-1, 2, n-2, …: the differences of neighbours run through every residue once (even n).
    let base: Vec<usize> = (0..n).map(|j| if j % 2 == 1 { j.div_ceil(2) } else { (n - j / 2) % n }).collect();
    let mut rows: Vec<Vec<usize>> = (0..n).map(|i| base.iter().map(|b| (b + i) % n).collect()).collect();
    if n % 2 == 1 && n > 1 {
        let mirrored: Vec<Vec<usize>> = rows.iter().map(|r| r.iter().rev().copied().collect()).collect();
        rows.extend(mirrored);
    }
    rows
}

/// Rounds in one balanced cycle of the design for `n` columns.
pub fn cycle_rounds(n: usize) -> usize {
    williams(n).len()
}

/// How often each column ran in each position, and right after each other column.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    /// `positions[column][position]`.
    pub positions: Vec<Vec<u32>>,
    /// `after[column][previous]`: rounds in which `column` ran right after `previous`.
    pub after: Vec<Vec<u32>>,
}

impl Tally {
    pub fn new(n: usize) -> Tally {
        Tally { positions: vec![vec![0; n]; n], after: vec![vec![0; n]; n] }
    }

    /// The counts of `orders` (each a permutation of `0..n`).
    pub fn of(n: usize, orders: &[Vec<usize>]) -> Tally {
        let mut t = Tally::new(n);
        orders.iter().for_each(|o| t.add(o));
        t
    }

    pub fn add(&mut self, order: &[usize]) {
        for (position, &column) in order.iter().enumerate() {
            self.positions[column][position] += 1;
        }
        for pair in order.windows(2) {
            self.after[pair[1]][pair[0]] += 1;
        }
    }

    /// The fewest and most times a column ran in a position.
    pub fn position_range(&self) -> (u32, u32) {
        range(self.positions.iter().flatten().copied())
    }

    /// The fewest and most times a column ran right after another (each ordered pair).
    pub fn predecessor_range(&self) -> (u32, u32) {
        let n = self.after.len();
        range((0..n).flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b))).map(|(a, b)| self.after[a][b]))
    }

    /// What adding `order` would cost the balance: the highest count it raises, then the sum of
    /// the counts it raises (both lower is better).
    fn load(&self, order: &[usize]) -> (u32, u32) {
        let hit = order
            .iter()
            .enumerate()
            .map(|(p, &c)| self.positions[c][p])
            .chain(order.windows(2).map(|w| self.after[w[1]][w[0]]));
        hit.fold((0, 0), |(max, sum), c| (max.max(c), sum + c))
    }
}

fn range(counts: impl Iterator<Item = u32>) -> (u32, u32) {
    counts
        .fold(None, |acc: Option<(u32, u32)>, c| Some(acc.map_or((c, c), |(lo, hi)| (lo.min(c), hi.max(c)))))
        .unwrap_or((0, 0))
}

/// The order of each of `rounds` rounds (index 0 is round 1) of `n` columns for the operation
/// numbered `stream`, from `seed`.
pub fn sequence(n: usize, rounds: usize, seed: u64, stream: u64) -> Vec<Vec<usize>> {
    let rows = williams(n);
    if rows.is_empty() {
        return vec![Vec::new(); rounds];
    }
    let mut rng = SmallRng::seed_from_u64(seed ^ (stream + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // Which column plays which symbol of the design: relabelling keeps every count balanced.
    let mut label: Vec<usize> = (0..n).collect();
    label.shuffle(&mut rng);
    let rows: Vec<Vec<usize>> = rows.iter().map(|r| r.iter().map(|&s| label[s]).collect()).collect();
    let mut out: Vec<Vec<usize>> = Vec::with_capacity(rounds);
    let mut tally = Tally::new(n);
    while out.len() < rounds {
        let mut cycle = rows.clone();
        cycle.shuffle(&mut rng);
        let left = rounds - out.len();
        if left >= cycle.len() {
            cycle.iter().for_each(|r| tally.add(r));
            out.extend(cycle);
            continue;
        }
        // Part of a cycle: each round the row that raises the lowest counts.
        for _ in 0..left {
            let best = (0..cycle.len()).min_by_key(|&i| tally.load(&cycle[i])).expect("rows left");
            let row = cycle.remove(best);
            tally.add(&row);
            out.push(row);
        }
    }
    out
}

/// The order of every round for every operation: `orders[round - 1][op_index]`.
pub fn orders(n: usize, ops: usize, rounds: usize, seed: u64) -> Vec<Vec<Vec<usize>>> {
    let per_op: Vec<Vec<Vec<usize>>> = (0..ops).map(|k| sequence(n, rounds, seed, k as u64)).collect();
    (0..rounds).map(|r| per_op.iter().map(|s| s[r].clone()).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_permutation(order: &[usize], n: usize) -> bool {
        let mut sorted = order.to_vec();
        sorted.sort_unstable();
        sorted == (0..n).collect::<Vec<_>>()
    }

    #[test]
    fn one_cycle_puts_every_column_in_every_position_and_after_every_other_equally_often() {
        for n in 1..=12 {
            let rows = williams(n);
            let per = if n % 2 == 0 || n == 1 { 1 } else { 2 };
            assert_eq!(rows.len(), n * per, "n = {n}");
            assert!(rows.iter().all(|r| is_permutation(r, n)));
            let t = Tally::of(n, &rows);
            // Every (column, position) counted: each exactly once per square.
            for column in 0..n {
                for position in 0..n {
                    assert_eq!(t.positions[column][position], per as u32, "n = {n}: column {column} at {position}");
                }
            }
            // Every ordered pair counted: each column right after each other exactly once per square.
            for column in 0..n {
                for previous in (0..n).filter(|&p| p != column) {
                    assert_eq!(t.after[column][previous], per as u32, "n = {n}: {column} after {previous}");
                }
                assert_eq!(t.after[column][column], 0);
            }
            assert_eq!(cycle_rounds(n), rows.len());
        }
        assert_eq!(williams(4)[0], [0, 1, 3, 2]);
        assert!(williams(0).is_empty());
    }

    #[test]
    fn the_cyclic_rotation_this_replaces_is_not_balanced() {
        // Rotating by one place per round: column j + 1 always follows column j.
        let n = 6;
        let rotated: Vec<Vec<usize>> = (0..n).map(|s| (0..n).map(|j| (j + s) % n).collect()).collect();
        let t = Tally::of(n, &rotated);
        assert_eq!(t.position_range(), (1, 1));
        assert_eq!(t.predecessor_range(), (0, n as u32 - 1));
    }

    #[test]
    fn any_number_of_rounds_is_as_balanced_as_the_rounds_allow() {
        for n in 2..=9 {
            let cycle = cycle_rounds(n);
            for rounds in 1..=(2 * cycle + 3) {
                for seed in [1, 7, 12345] {
                    let seq = sequence(n, rounds, seed, 0);
                    assert_eq!(seq.len(), rounds);
                    assert!(seq.iter().all(|r| is_permutation(r, n)));
                    let t = Tally::of(n, &seq);
                    let (plo, phi) = t.position_range();
                    let (alo, ahi) = t.predecessor_range();
                    if rounds % cycle == 0 {
                        let per = (rounds / n) as u32;
                        assert_eq!((plo, phi, alo, ahi), (per, per, per, per), "n {n}, {rounds} rounds");
                    } else if n % 2 == 0 {
                        // Rows of one square never repeat a position or a pair: counts differ by one.
                        assert!(phi - plo <= 1 && ahi - alo <= 1, "n {n}, {rounds} rounds: {t:?}");
                        assert_eq!(phi, (rounds as u32).div_ceil(n as u32));
                    } else {
                        // Odd n: a part of the square and its mirror cannot even out both counts.
                        assert!(phi - plo <= 2 && ahi - alo <= 2, "n {n}, {rounds} rounds: {t:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn ten_rounds_of_eight_or_five_columns() {
        // The everyday run: 8 columns, 10 rounds: one cycle and two rows of the next.
        let t = Tally::of(8, &sequence(8, 10, 1, 0));
        assert_eq!((t.position_range(), t.predecessor_range()), ((1, 2), (1, 2)));
        // Five columns: 10 rounds are one whole cycle of the square and its mirror.
        let t = Tally::of(5, &sequence(5, 10, 1, 3));
        assert_eq!((t.position_range(), t.predecessor_range()), ((2, 2), (2, 2)));
    }

    #[test]
    fn the_same_seed_gives_the_same_orders_and_operations_differ() {
        assert_eq!(orders(8, 4, 10, 42), orders(8, 4, 10, 42));
        assert_ne!(orders(8, 4, 10, 42), orders(8, 4, 10, 43));
        let o = orders(8, 4, 10, 42);
        assert_eq!((o.len(), o[0].len()), (10, 4));
        assert!((1..4).any(|k| o[0][k] != o[0][0]), "each operation relabels the design");
        assert_eq!(orders(0, 2, 3, 1), vec![vec![Vec::<usize>::new(); 2]; 3]);
    }
}

//! What changed between two builds of one client: every frame's own share of the samples in
//! each, and the frames whose share grew or shrank most ("+38% of samples in `as_dict`"). Own
//! shares, not totals: a function that grew makes its callers' totals grow as much, and would
//! bury itself among them.

use std::collections::HashMap;

use crate::model::profile::FrameShift;

/// The `n` frames whose own share grew most and the `n` that shrank most, each largest first;
/// changes under `min_change` (in shares of samples) are noise and left out. Frames are
/// matched by label (`function (file)`), so two builds installed in different folders match.
pub fn ranked(
    before: &HashMap<String, (f64, f64)>,
    after: &HashMap<String, (f64, f64)>,
    n: usize,
    min_change: f64,
) -> (Vec<FrameShift>, Vec<FrameShift>) {
    let mut labels: Vec<&String> = before.keys().chain(after.keys()).collect();
    labels.sort();
    labels.dedup();
    let own = |m: &HashMap<String, (f64, f64)>, l: &str| m.get(l).map_or(0.0, |s| s.0);
    let shifts: Vec<FrameShift> = labels
        .into_iter()
        .map(|l| {
            let (b, a) = (own(before, l), own(after, l));
            FrameShift { frame: l.clone(), before: b, after: a, change: a - b }
        })
        .filter(|s| s.change.abs() >= min_change)
        .collect();
    let mut grew: Vec<FrameShift> = shifts.iter().filter(|s| s.change > 0.0).cloned().collect();
    grew.sort_by(|x, y| y.change.total_cmp(&x.change).then_with(|| x.frame.cmp(&y.frame)));
    grew.truncate(n);
    let mut shrank: Vec<FrameShift> = shifts.into_iter().filter(|s| s.change < 0.0).collect();
    shrank.sort_by(|x, y| x.change.total_cmp(&y.change).then_with(|| x.frame.cmp(&y.frame)));
    shrank.truncate(n);
    (grew, shrank)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(list: &[(&str, f64, f64)]) -> HashMap<String, (f64, f64)> {
        list.iter().map(|&(l, own, total)| (l.to_owned(), (own, total))).collect()
    }

    #[test]
    fn the_frame_that_grew_comes_first_not_its_callers() {
        // `slow` is new in the later build: its callers' totals grew as much, their own
        // shares did not.
        let before = shares(&[("run", 0.1, 1.0), ("get", 0.5, 0.8), ("wait", 0.4, 0.4)]);
        let after = shares(&[("run", 0.05, 1.0), ("get", 0.3, 0.9), ("slow", 0.45, 0.45), ("wait", 0.2, 0.2)]);
        let (grew, shrank) = ranked(&before, &after, 3, 0.01);
        assert_eq!(grew.iter().map(|s| s.frame.as_str()).collect::<Vec<_>>(), ["slow"]);
        assert!((grew[0].change - 0.45).abs() < 1e-9 && grew[0].before == 0.0);
        assert_eq!(shrank.iter().map(|s| s.frame.as_str()).collect::<Vec<_>>(), ["get", "wait", "run"]);
        let (_, shrank) = ranked(&before, &after, 1, 0.1);
        assert_eq!(shrank.len(), 1, "at most n, changes under min_change left out");
        let (grew, shrank) = ranked(&before, &before, 3, 0.01);
        assert!(grew.is_empty() && shrank.is_empty());
    }
}

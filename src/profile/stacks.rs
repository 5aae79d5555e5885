//! A recording cut to the phase it was taken for, and folded. py-spy is started before the
//! phase and stopped after it, so a thread's first and last samples may be the worker waiting
//! for its next command (no Python frame on its stack: aerobench's worker reads its input
//! outside Python). Each thread keeps the samples from its first one with a Python frame to its
//! last one; a thread that never ran Python in the recording is left out whole. What lies
//! between stays, waits included: that is the phase.

use std::collections::BTreeMap;

use super::speedscope::{Frame, Sampled};

/// The samples of one phase, every thread together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stacks {
    pub frames: Vec<Frame>,
    /// Each sample's frames, outermost first.
    pub samples: Vec<Vec<usize>>,
    /// Samples taken before or after the phase, left out.
    pub dropped: u64,
}

impl Stacks {
    /// The samples of `sampled` taken while the phase ran.
    pub fn during_phase(sampled: Sampled) -> Stacks {
        let python: Vec<bool> = sampled.frames.iter().map(Frame::is_python).collect();
        let mut kept = Vec::new();
        let mut dropped = 0u64;
        for thread in sampled.threads {
            let runs_python = |s: &Vec<usize>| s.iter().any(|&f| python[f]);
            let (Some(first), Some(last)) = (thread.iter().position(runs_python), thread.iter().rposition(runs_python))
            else {
                dropped += thread.len() as u64;
                continue;
            };
            dropped += (first + thread.len() - 1 - last) as u64;
            kept.extend(thread.into_iter().skip(first).take(last + 1 - first));
        }
        Stacks { frames: sampled.frames, samples: kept, dropped }
    }

    /// One sample's frames, outermost first.
    pub fn frames_of<'a>(&'a self, sample: &'a [usize]) -> impl DoubleEndedIterator<Item = &'a Frame> + 'a {
        sample.iter().map(move |&i| &self.frames[i])
    }

    /// The folded stacks: `outer;…;inner` → samples (a sample with no frame is `[no frames]`).
    pub fn folded(&self) -> BTreeMap<String, u64> {
        let labels: Vec<String> = self.frames.iter().map(Frame::label).collect();
        let mut folded = BTreeMap::new();
        for sample in &self.samples {
            let line = if sample.is_empty() {
                "[no frames]".to_owned()
            } else {
                sample.iter().map(|&i| labels[i].as_str()).collect::<Vec<_>>().join(";")
            };
            *folded.entry(line).or_insert(0) += 1;
        }
        folded
    }
}

/// Folded stacks as text, a stack and its count per line.
pub fn folded_text(folded: &BTreeMap<String, u64>) -> String {
    folded.iter().map(|(stack, n)| format!("{stack} {n}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording(threads: Vec<Vec<Vec<usize>>>) -> Sampled {
        Sampled {
            frames: vec![
                Frame::new("read", "/lib/libc.so.6"),
                Frame::new("Sync.put", "<aerobench>/python_shim/aerobench_client_noop.py"),
                Frame::new("clock_gettime", "/lib/libc.so.6"),
            ],
            threads,
        }
    }

    #[test]
    fn the_waits_before_and_after_the_phase_are_left_out() {
        // Main thread: waiting for its command, the phase (with a native-only sample between
        // two calls), waiting again. A second thread never ran Python.
        let s = recording(vec![vec![vec![0], vec![0], vec![1], vec![2], vec![1, 2], vec![0]], vec![vec![0], vec![]]]);
        let stacks = Stacks::during_phase(s);
        assert_eq!(stacks.samples, vec![vec![1], vec![2], vec![1, 2]]);
        assert_eq!(stacks.dropped, 5);
        let folded = stacks.folded();
        assert_eq!(folded["Sync.put (python_shim/aerobench_client_noop.py)"], 1);
        assert_eq!(folded["clock_gettime (libc.so.6)"], 1);
        let text = folded_text(&folded);
        assert!(
            text.lines().any(|l| l == "Sync.put (python_shim/aerobench_client_noop.py);clock_gettime (libc.so.6) 1")
        );
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn a_recording_without_python_keeps_nothing() {
        let stacks = Stacks::during_phase(recording(vec![vec![vec![0], vec![0]]]));
        assert!(stacks.samples.is_empty());
        assert_eq!(stacks.dropped, 2);
    }
}

//! A recording cut to the phase it was taken for, and folded. py-spy is started before the
//! phase and stopped after it, so the worker's main thread begins and ends the recording waiting
//! for its next command: reading its input, outside Python (no Python frame on its stack, a
//! `read` innermost). Those samples, at the start and the end of a thread's samples, are left
//! out; everything between stays, waits included: that is the phase. Other threads (an
//! extension's runtime) are kept whole: they sampled the same few milliseconds around the
//! phase, a sample or two each.

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
        let frames = &sampled.frames;
        let waits_for_command = |s: &Vec<usize>| {
            let stack: Vec<&Frame> = s.iter().map(|&i| &frames[i]).collect();
            !stack.is_empty()
                && !stack.iter().any(|f| f.is_python())
                && super::speedscope::innermost_native(&stack)
                    .next()
                    .is_some_and(|f| f.name.trim_start_matches('_') == "read" || f.name == "__libc_read")
        };
        let mut kept = Vec::new();
        let mut dropped = 0u64;
        for thread in sampled.threads {
            let first = thread.iter().position(|s| !waits_for_command(s)).unwrap_or(thread.len());
            let last = thread.iter().rposition(|s| !waits_for_command(s)).map_or(first, |l| l + 1);
            dropped += (thread.len() - (last - first)) as u64;
            kept.extend(thread.into_iter().skip(first).take(last - first));
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
        // two calls, and a read inside a call), waiting again. A second thread never ran Python:
        // kept whole.
        let s = recording(vec![
            vec![vec![0], vec![0], vec![1], vec![2], vec![1, 0], vec![1, 2], vec![0]],
            vec![vec![2], vec![2]],
        ]);
        let stacks = Stacks::during_phase(s);
        assert_eq!(stacks.samples, vec![vec![1], vec![2], vec![1, 0], vec![1, 2], vec![2], vec![2]]);
        assert_eq!(stacks.dropped, 3);
        let folded = stacks.folded();
        assert_eq!(folded["Sync.put (python_shim/aerobench_client_noop.py)"], 1);
        assert_eq!(folded["clock_gettime (libc.so.6)"], 3);
        let text = folded_text(&folded);
        assert!(
            text.lines().any(|l| l == "Sync.put (python_shim/aerobench_client_noop.py);clock_gettime (libc.so.6) 1")
        );
        assert_eq!(text.lines().count(), 4, "{text}");
    }

    #[test]
    fn a_recording_of_the_wait_alone_keeps_nothing() {
        let stacks = Stacks::during_phase(recording(vec![vec![vec![0], vec![0]]]));
        assert!(stacks.samples.is_empty());
        assert_eq!(stacks.dropped, 2);
    }
}

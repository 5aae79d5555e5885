//! `--profile` in a service run: after the last step's rounds, one extra slice per app column at
//! the last step's load, counted in no cell or verdict, with py-spy attached to every ready
//! worker of the app (one py-spy per worker, started before the slice and stopped after). The
//! workers' samples are merged into one profile per column: the "where" shares, the top frames,
//! the folded stacks and the flame graph, and the slice's requests/s against the column's last
//! measured slice (what the sampling cost). The app floor columns are not profiled: they call no
//! client.

use std::time::Duration;

use crate::drivers::asgi_app::RunningApp;
use crate::model::profile::{Overhead, Profile, Profiles};
use crate::model::results::Column;
use crate::profile::flame;
use crate::profile::owners::{self, Client};
use crate::profile::py_spy::{RATE_HZ, Recording, Sampler};
use crate::profile::stacks::{self, Stacks};
use crate::run::profile_pass::{self, TOP_FRAMES, attach, file_name};
use crate::run::profile_settings::Settings;
use crate::service::http_load::{self, Slice};
use crate::service::measured::SliceRecord;

/// One app column to profile: its column, its running app and the slice to load it with.
pub struct Target<'a> {
    pub column: &'a Column,
    pub app: &'a RunningApp,
    pub slice: Slice,
}

/// Profiles every target in turn; `measured` are the run's slices (the last one of each column
/// gives the unsampled requests/s).
pub fn run(
    settings: &Settings,
    scenario: &str,
    targets: Vec<Target<'_>>,
    measured: &[SliceRecord],
    load: &tokio::runtime::Runtime,
    show: bool,
) -> Profiles {
    let mut out = profile_pass::nothing_yet(settings, targets.first().map_or(Duration::ZERO, |t| t.slice.duration));
    if targets.is_empty() {
        out.notes.push("--profile: no app column served to the end, so nothing was sampled".to_owned());
        return out;
    }
    let sampler = match profile_pass::ready(settings, show) {
        Ok(s) => s,
        Err(why) => {
            out.notes.push(why);
            return out;
        }
    };
    for target in targets {
        if crate::engine::stop::interrupted() {
            break;
        }
        let spin = crate::engine::progress::spinner(show, format!("profiling the app of {}", target.column.label));
        let profile = profile_one(settings, &sampler, scenario, &target, measured, load);
        spin.finish_and_clear();
        out.profiles.push(profile);
    }
    out
}

fn requests_per_sec(ok: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { ok as f64 / secs } else { 0.0 }
}

/// The sampled slice of one app column and its merged profile.
fn profile_one(
    settings: &Settings,
    sampler: &Sampler,
    scenario: &str,
    target: &Target<'_>,
    measured: &[SliceRecord],
    load: &tokio::runtime::Runtime,
) -> Profile {
    let column = target.column;
    let mut profile = profile_pass::named(&column.id, scenario);
    let name = file_name(&column.id);
    let pids = target.app.worker_pids();
    // One py-spy per worker, every one attached before the slice begins.
    let mut recordings: Vec<(u32, Recording)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for &pid in &pids {
        let raw = settings.dir.join(format!(".{name}-{scenario}-{pid}.speedscope.json"));
        match attach(sampler, pid, &raw) {
            Ok((recording, python_only)) => {
                if let Some(why) = python_only {
                    notes.push(format!(
                        "worker {pid}: Python frames only: py-spy could not sample its native frames ({why}), so the \
                         client's extension shows as the Python call that entered it"
                    ));
                }
                recordings.push((pid, recording));
            }
            Err(why) => notes.push(format!("worker {pid}: py-spy could not attach: {why}")),
        }
    }
    if recordings.is_empty() {
        notes.push(format!("no sample: py-spy attached to none of the app's {} workers", pids.len()));
        profile.note = Some(notes.join("; "));
        return profile;
    }
    let sampled = load.block_on(http_load::run_slice(&target.slice));
    let mut merged: Vec<Stacks> = Vec::new();
    for (pid, recording) in recordings {
        match recording.stop() {
            Ok(s) => {
                let stacks = Stacks::during_phase(s);
                if !stacks.samples.is_empty() {
                    merged.push(stacks);
                }
            }
            Err(why) => notes.push(format!("worker {pid}: {why}")),
        }
    }
    profile.workers = Some(merged.len() as u32);
    let last = measured.iter().rev().find(|s| s.column == column.id);
    if let Some(last) = last {
        let unprofiled = requests_per_sec(last.measure.ok, last.measure.elapsed);
        let profiled = requests_per_sec(sampled.ok, sampled.elapsed);
        if unprofiled > 0.0 {
            profile.overhead = Some(Overhead {
                unprofiled_ops_per_sec: unprofiled,
                profiled_ops_per_sec: profiled,
                slowdown: 1.0 - profiled / unprofiled,
            });
        }
    }
    let stacks = merge(merged);
    profile.samples = stacks.samples.len() as u64;
    profile.dropped_samples = stacks.dropped;
    if stacks.samples.is_empty() {
        notes.push("py-spy took no sample of the slice".to_owned());
        profile.note = Some(notes.join("; "));
        return profile;
    }
    profile.shares = owners::shares(&stacks, &Client::of(&column.client));
    profile.frames = owners::top_frames(&owners::frame_shares(&stacks), TOP_FRAMES);
    let folded = stacks::folded_text(&stacks.folded());
    let (folded_file, svg_file) = (format!("{name}/{scenario}.folded"), format!("{name}/{scenario}.svg"));
    let written = std::fs::create_dir_all(settings.dir.join(&name))
        .and_then(|()| std::fs::write(settings.dir.join(&folded_file), &folded))
        .map_err(|e| format!("cannot write {}: {e}", settings.dir.join(&folded_file).display()));
    match written {
        Ok(()) => profile.folded = Some(folded_file),
        Err(why) => notes.push(why),
    }
    let title = format!("{} — {scenario} (service, {} workers)", column.label, profile.workers.unwrap_or(0));
    let subtitle = format!(
        "{} samples at {RATE_HZ} Hz over {:.1} s, every app worker's merged",
        profile.samples,
        sampled.elapsed.as_secs_f64()
    );
    match flame::render(&folded, &title, &subtitle)
        .and_then(|svg| std::fs::write(settings.dir.join(&svg_file), svg).map_err(|e| e.to_string()))
    {
        Ok(()) => profile.flamegraph = Some(svg_file),
        Err(why) => notes.push(format!("no flame graph: {why}")),
    }
    profile.note = (!notes.is_empty()).then(|| notes.join("; "));
    profile
}

/// Several processes' samples as one: each one's frames appended, its samples pointing at them.
fn merge(parts: Vec<Stacks>) -> Stacks {
    let mut out = Stacks::default();
    for part in parts {
        let offset = out.frames.len();
        out.frames.extend(part.frames);
        out.samples.extend(part.samples.into_iter().map(|s| s.into_iter().map(|i| i + offset).collect()));
        out.dropped += part.dropped;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::speedscope::Frame;

    #[test]
    fn merged_workers_keep_every_sample_with_its_own_frames() {
        let one = Stacks {
            frames: vec![Frame::new("run", "a.py"), Frame::new("get", "client.py")],
            samples: vec![vec![0, 1], vec![0]],
            dropped: 1,
        };
        let two = Stacks { frames: vec![Frame::new("serve", "b.py")], samples: vec![vec![0]], dropped: 2 };
        let merged = merge(vec![one, two]);
        assert_eq!(merged.samples.len(), 3);
        assert_eq!(merged.dropped, 3);
        let folded = merged.folded();
        assert_eq!(folded.values().sum::<u64>(), 3);
        assert!(folded.keys().any(|k| k.starts_with("serve")), "{folded:?}");
        assert!(folded.keys().any(|k| k.contains("get")), "{folded:?}");
    }
}

//! The profile pass of `--profile`, after the measured rounds: for every Python column and
//! operation, an unprofiled phase and then the same phase sampled by py-spy, both counted in no
//! table or verdict. The first gives what the sampling costs (ops/s with and without it); the
//! second, cut to the phase, gives the folded stacks, the flame graph and the "where" shares.
//! With two builds of one client (two versions, a local build, two interpreters), each later
//! build's profile is compared with the first's. A column py-spy cannot attach to gets a note
//! and the run goes on.

use std::collections::HashMap;
use std::time::Duration;

use crate::engine::lane::Lane;
use crate::engine::{self, Phase, progress, stop};
use crate::model::profile::{Differential, Overhead, Profile, Profiles, WhereShares};
use crate::profile::owners::{self, Client};
use crate::profile::py_spy::{RATE_HZ, Sampler};
use crate::profile::stacks::{self, Stacks};
use crate::profile::{differential, flame};
use crate::run::plan::Plan;
use crate::run::profile_settings::Settings;
use crate::workload::Operation;

/// Frames named per profile in the report.
pub(crate) const TOP_FRAMES: usize = 12;
/// Frames named per differential, each way.
const TOP_SHIFTS: usize = 5;
/// A frame's change of share smaller than this is noise.
const MIN_SHIFT: f64 = 0.01;

/// One profile's samples, kept for the differentials.
struct Sampled {
    column: String,
    label: String,
    op: Operation,
    folded: String,
    shares: HashMap<String, (f64, f64)>,
    /// Sampled with native frames (else Python frames only: not comparable with one that was).
    native: bool,
}

/// A pass's report before anything was sampled, its phases `phase` long.
pub(crate) fn nothing_yet(settings: &Settings, phase: Duration) -> Profiles {
    Profiles {
        sampler: Sampler::describe(),
        rate_hz: RATE_HZ,
        phase_secs: phase.as_secs_f64(),
        dir: settings.dir.display().to_string(),
        profiles: Vec::new(),
        differentials: Vec::new(),
        notes: Vec::new(),
    }
}

/// py-spy installed and the profiles' folder made; the note saying why nothing was sampled, if
/// either could not be.
pub(crate) fn ready(settings: &Settings, show: bool) -> Result<Sampler, String> {
    let spin = progress::spinner(show, "installing py-spy for --profile".to_owned());
    let sampler = Sampler::install();
    spin.finish_and_clear();
    let sampler =
        sampler.map_err(|why| format!("--profile: py-spy could not be installed, so nothing was sampled: {why}"))?;
    std::fs::create_dir_all(&settings.dir)
        .map_err(|e| format!("--profile: cannot create {} ({e}), so nothing was sampled", settings.dir.display()))?;
    Ok(sampler)
}

/// Runs the pass on `lanes` (every lane still running; those without a worker are not
/// profiled) and returns what it found.
pub fn run(plan: &Plan, settings: &Settings, lanes: Vec<&mut Box<dyn Lane>>, show: bool) -> Profiles {
    let mut out = nothing_yet(settings, settings.phase);
    let lanes: Vec<&mut Box<dyn Lane>> =
        lanes.into_iter().filter(|l| l.pid().is_some() && l.column().error.is_none()).collect();
    if lanes.is_empty() {
        out.notes.push(
            "--profile: no Python column ran, so nothing was sampled (py-spy samples the Python columns' worker \
             processes; the Rust columns run inside aerobench)"
                .to_owned(),
        );
        return out;
    }
    let sampler = match ready(settings, show) {
        Ok(s) => s,
        Err(why) => {
            out.notes.push(why);
            return out;
        }
    };
    if plan.ops.contains(&Operation::Delete) {
        out.notes.push("--profile: delete is not profiled (its phase deletes each record once)".to_owned());
    }
    let ops: Vec<Operation> = plan.ops.iter().copied().filter(|&op| op != Operation::Delete).collect();
    let mut kept = Vec::new();
    'columns: for lane in lanes {
        let column = lane.column().clone();
        let client = Client::of(&column.client);
        let mut cannot_attach: Option<String> = None;
        for &op in &ops {
            if stop::interrupted() {
                break 'columns;
            }
            let spin = progress::spinner(show, format!("profiling {} {}", column.label, op.name()));
            let ran = profile_one(plan, settings, &sampler, lane.as_mut(), op, &client, cannot_attach.as_deref());
            spin.finish_and_clear();
            match ran {
                Ran::Profiled(profile, sampled) => {
                    out.profiles.push(*profile);
                    kept.extend(sampled);
                }
                Ran::Unsupported => {}
                Ran::NotAttached(why) => {
                    if cannot_attach.is_none() {
                        out.notes.push(format!(
                            "--profile: py-spy could not attach to the worker of {}, so it has no profile: {why}",
                            column.label
                        ));
                    }
                    out.profiles.push(Profile { note: Some(why.clone()), ..empty(&column.id, op) });
                    cannot_attach = Some(why);
                }
                Ran::Broken(why) => {
                    out.notes.push(format!(
                        "--profile: {} stopped during its profile of {}: {why}; its other profiles were skipped",
                        column.label,
                        op.name()
                    ));
                    continue 'columns;
                }
            }
        }
    }
    out.differentials = differentials(settings, &kept, &mut out.notes);
    out
}

/// What one column's pass of one operation gave.
enum Ran {
    Profiled(Box<Profile>, Option<Sampled>),
    /// The client lacks the operation.
    Unsupported,
    /// py-spy could not attach: why.
    NotAttached(String),
    /// The lane stopped working: why.
    Broken(String),
}

/// A profile with nothing in it yet.
pub(crate) fn empty(column: &str, op: Operation) -> Profile {
    named(column, op.name())
}

/// A profile of `column` and `operation` (an operation or a service scenario) with nothing in
/// it yet.
pub(crate) fn named(column: &str, operation: &str) -> Profile {
    Profile {
        column: column.to_owned(),
        operation: operation.to_owned(),
        samples: 0,
        dropped_samples: 0,
        shares: WhereShares::default(),
        frames: Vec::new(),
        folded: None,
        flamegraph: None,
        overhead: None,
        note: None,
        workers: None,
    }
}

/// The phase both passes run: the measured rounds' calls, for `settings.phase`, in a closed
/// loop.
fn phase_for(plan: &Plan, op: Operation, in_flight: u32, duration: Duration) -> Phase {
    let mut phase = Phase::measured(&plan.workload, op, plan.rounds + 1, Some(duration), in_flight, plan.patience);
    plan.aim_keys(&mut phase, op);
    phase
}

/// A file name for a column id (`aerospike-py-sync@local:py3.13` → `aerospike-py-sync@local_py3.13`).
pub(crate) fn file_name(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || "@.-_+".contains(c) { c } else { '_' }).collect()
}

fn ops_per_sec(m: &engine::Measured) -> f64 {
    if m.wall_secs > 0.0 { m.recorder.successes() as f64 / m.wall_secs } else { 0.0 }
}

/// Attaches with native frames before falling back to Python frames only.
const NATIVE_TRIES: usize = 3;

/// py-spy attached to `pid`, native frames first: a process whose native stacks py-spy cannot
/// unwind (it gives up at once, e.g. "UNW_EBADREG: bad register number") is sampled with its
/// Python frames only, and why comes back beside the recording. Why not at all, as py-spy said
/// it with native frames, when neither way attaches.
pub(crate) fn attach(
    sampler: &Sampler,
    pid: u32,
    raw: &std::path::Path,
) -> Result<(crate::profile::py_spy::Recording, Option<String>), String> {
    // py-spy's unwinder fails now and then on one attach and not the next: three tries.
    let mut native_why = String::new();
    for _ in 0..NATIVE_TRIES {
        match sampler.start(pid, raw, true) {
            Ok(r) => return Ok((r, None)),
            Err(why) => native_why = why,
        }
    }
    match sampler.start(pid, raw, false) {
        Ok(r) => Ok((r, Some(native_why))),
        Err(_) => Err(native_why),
    }
}

/// The unprofiled and the sampled phase of `op` on `lane`, and the profile.
fn profile_one(
    plan: &Plan,
    settings: &Settings,
    sampler: &Sampler,
    lane: &mut dyn Lane,
    op: Operation,
    client: &Client,
    cannot_attach: Option<&str>,
) -> Ran {
    let column = lane.column().clone();
    let phase = phase_for(plan, op, column.in_flight.max(1), settings.phase);
    let plain = match lane.run(&phase, &mut engine::Silent) {
        Ok(m) => m,
        Err(why) => return Ran::Broken(why),
    };
    if plain.unsupported.is_some() {
        return Ran::Unsupported;
    }
    if let Some(why) = cannot_attach {
        return Ran::NotAttached(why.to_owned());
    }
    let Some(pid) = lane.pid() else { return Ran::Unsupported };
    let name = file_name(&column.id);
    let raw = settings.dir.join(format!(".{name}-{}.speedscope.json", op.name()));
    let (recording, python_only) = match attach(sampler, pid, &raw) {
        Ok(attached) => attached,
        Err(why) => return Ran::NotAttached(why),
    };
    let sampled_phase = lane.run(&phase, &mut engine::Silent);
    let recorded = recording.stop();
    let measured = match sampled_phase {
        Ok(m) => m,
        Err(why) => return Ran::Broken(why),
    };
    let mut profile = empty(&column.id, op);
    if let Some(why) = &python_only {
        profile.note = Some(format!(
            "Python frames only: py-spy could not sample its native frames ({why}), so the client's extension \
             shows as the Python call that entered it"
        ));
    }
    let (unprofiled, profiled) = (ops_per_sec(&plain), ops_per_sec(&measured));
    if unprofiled > 0.0 {
        profile.overhead = Some(Overhead {
            unprofiled_ops_per_sec: unprofiled,
            profiled_ops_per_sec: profiled,
            slowdown: 1.0 - profiled / unprofiled,
        });
    }
    let sampled = match recorded {
        Ok(s) => s,
        Err(why) => {
            profile.note = Some(why);
            return Ran::Profiled(Box::new(profile), None);
        }
    };
    let stacks = Stacks::during_phase(sampled);
    profile.samples = stacks.samples.len() as u64;
    profile.dropped_samples = stacks.dropped;
    if stacks.samples.is_empty() {
        profile.note = Some("py-spy took no sample of the phase while it ran Python".to_owned());
        return Ran::Profiled(Box::new(profile), None);
    }
    profile.shares = owners::shares(&stacks, client);
    let shares = owners::frame_shares(&stacks);
    profile.frames = owners::top_frames(&shares, TOP_FRAMES);
    let folded = stacks::folded_text(&stacks.folded());
    let subtitle = format!(
        "{} samples at {RATE_HZ} Hz over {:.1} s ({} before or after the phase left out)",
        profile.samples, measured.wall_secs, profile.dropped_samples
    );
    let title = format!("{} — {}", column.label, op.name());
    let (folded_file, svg_file) = (format!("{name}/{}.folded", op.name()), format!("{name}/{}.svg", op.name()));
    let written = std::fs::create_dir_all(settings.dir.join(&name))
        .and_then(|()| std::fs::write(settings.dir.join(&folded_file), &folded))
        .map_err(|e| format!("cannot write {}: {e}", settings.dir.join(&folded_file).display()));
    match written {
        Ok(()) => profile.folded = Some(folded_file),
        Err(why) => profile.note = Some(why),
    }
    match flame::render(&folded, &title, &subtitle)
        .and_then(|svg| std::fs::write(settings.dir.join(&svg_file), svg).map_err(|e| e.to_string()))
    {
        Ok(()) => profile.flamegraph = Some(svg_file),
        Err(why) => profile.note = Some(format!("no flame graph: {why}")),
    }
    let kept = Sampled {
        column: column.id.clone(),
        label: column.label.clone(),
        op,
        folded,
        shares,
        native: python_only.is_none(),
    };
    Ran::Profiled(Box::new(profile), Some(kept))
}

/// Each later build of a client against its first build, per operation: builds are the
/// columns of one kind (`aerospike-py-async@0.12.0`, `aerospike-py-async@local`,
/// `aerospike-py-async:py3.13`).
fn differentials(settings: &Settings, kept: &[Sampled], notes: &mut Vec<String>) -> Vec<Differential> {
    let kind = |id: &str| crate::model::column_id::split_build(id).0.to_owned();
    let mut out = Vec::new();
    for (i, before) in kept.iter().enumerate() {
        // The first build of its kind with this operation is the one the others are compared with.
        if kept[..i].iter().any(|k| k.op == before.op && kind(&k.column) == kind(&before.column)) {
            continue;
        }
        for after in kept[i + 1..].iter().filter(|k| k.op == before.op && kind(&k.column) == kind(&before.column)) {
            // A profile with native frames against one without would show the extension's whole
            // time as grown (or shrunk): no differential, and the note says why.
            if before.native != after.native {
                notes.push(format!(
                    "--profile: {} not compared with {} on {}: one was sampled with native frames, the other with \
                     Python frames only",
                    after.label,
                    before.label,
                    before.op.name()
                ));
                continue;
            }
            let (grew, shrank) = differential::ranked(&before.shares, &after.shares, TOP_SHIFTS, MIN_SHIFT);
            let file =
                format!("diff/{}--{}-{}.svg", file_name(&before.column), file_name(&after.column), before.op.name());
            let title = format!("{} against {} — {}", after.label, before.label, before.op.name());
            let subtitle =
                "red: a larger share of samples in the later build; blue: smaller (both scaled to the same total)";
            let drawn = flame::render_differential(&before.folded, &after.folded, &title, subtitle).and_then(|svg| {
                std::fs::create_dir_all(settings.dir.join("diff"))
                    .and_then(|()| std::fs::write(settings.dir.join(&file), svg))
                    .map_err(|e| e.to_string())
            });
            let flamegraph = match drawn {
                Ok(()) => Some(file),
                Err(why) => {
                    notes.push(format!("--profile: no differential flame graph for {title}: {why}"));
                    None
                }
            };
            out.push(Differential {
                before: before.column.clone(),
                after: after.column.clone(),
                operation: before.op.name().to_owned(),
                flamegraph,
                grew,
                shrank,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A stand-in for py-spy: fails at once as `fail_with` says (`native`: only with --native;
    /// `always`), else says it is sampling and waits to be stopped.
    #[cfg(unix)]
    fn fake_py_spy(dir: &Path, fail_with: &str) -> Sampler {
        use std::os::unix::fs::PermissionsExt as _;
        let exe = dir.join(format!("py-spy-{fail_with}"));
        let fails = match fail_with {
            "native" => "*--native*",
            "always" => "*",
            _ => "never-matches",
        };
        let script = format!(
            "#!/bin/sh\ncase \"$*\" in {fails}) echo 'Error: UNW_EBADREG: bad register number' >&2; exit 1;; esac\n\
             echo 'py-spy> Sampling process 200 times a second. Press Control-C to exit.'\n\
             while :; do sleep 0.05; done\n"
        );
        std::fs::write(&exe, script).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        Sampler { exe }
    }

    #[test]
    fn a_profile_with_native_frames_is_not_compared_with_one_without() {
        let sampled = |column: &str, native: bool| Sampled {
            column: column.to_owned(),
            label: column.to_owned(),
            op: Operation::Get,
            folded: "main;call 10\n".to_owned(),
            shares: HashMap::from([("call".to_owned(), (1.0, 1.0))]),
            native,
        };
        let settings = Settings::new(None, None, Duration::from_secs(3));
        let mut notes = Vec::new();
        let kept = [sampled("aerospike-py-async@0.14.4", false), sampled("aerospike-py-async@local", true)];
        assert!(differentials(&settings, &kept, &mut notes).is_empty());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("Python frames only"), "{notes:?}");
    }

    #[cfg(unix)]
    #[test]
    fn native_frames_first_then_python_frames_only_with_the_reason() {
        let dir = std::env::temp_dir().join(format!("aerobench-fake-py-spy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let raw = dir.join("out.json");
        let pid = std::process::id();
        let (recording, python_only) = attach(&fake_py_spy(&dir, "never"), pid, &raw).expect("attaches");
        assert_eq!(python_only, None, "native frames when py-spy can unwind them");
        drop(recording);
        let (recording, python_only) = attach(&fake_py_spy(&dir, "native"), pid, &raw).expect("attaches");
        let why = python_only.expect("the reason native frames are off");
        assert!(why.contains("UNW_EBADREG"), "{why}");
        drop(recording);
        let why = attach(&fake_py_spy(&dir, "always"), pid, &raw).err().expect("cannot attach");
        assert!(why.contains("UNW_EBADREG"), "{why}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn file_names_and_the_default_folder() {
        assert_eq!(file_name("aerospike-py-sync@local:py3.13"), "aerospike-py-sync@local_py3.13");
        assert_eq!(file_name("a/b"), "a_b");
        let s = Settings::new(None, Some(Path::new("out/report.json")), Duration::from_secs(3));
        assert!(s.dir.starts_with("out/aerobench-profiles"), "{}", s.dir.display());
        let s = Settings::new(None, Some(Path::new("report.json")), Duration::from_secs(3));
        assert!(s.dir.starts_with("./aerobench-profiles"), "{}", s.dir.display());
        let s = Settings::new(Some("p".into()), None, Duration::from_secs(3));
        assert_eq!(s.dir, Path::new("p"));
    }
}

//! Who was running in each sample: the client's extension, the client's Python code,
//! aerobench's shim, the interpreter (garbage collection, waiting for the GIL), nobody (waiting
//! on I/O, a lock or a sleep), or something else; and which frames took most samples.
//!
//! A sample belongs to the innermost frame that has an owner: native code of a system library
//! (libc, libpython, zlib…) works for the code that called it, so `zlib.compress` called from
//! the shim is the shim's time, and a dict built by the client's extension through libpython is
//! the extension's. Python code of the standard library or another package is "other".

use std::collections::HashMap;

use super::speedscope::{Frame, innermost_native};
use super::stacks::Stacks;
use crate::model::profile::{FrameShare, WhereShares};

/// Who was running in one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    ClientExtension,
    ClientPython,
    Shim,
    Interpreter,
    Idle,
    Other,
}

/// Which files are the client's: its import names (`aerospike_py`; the official client's
/// `aerospike` and `aerospike_helpers`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Client {
    pub import_names: Vec<String>,
}

impl Client {
    /// The client of a column whose `client` is the package `pip_name` (none for the no-op
    /// client, whose adapter is aerobench's own).
    pub fn of(pip_name: &str) -> Client {
        let mut import_names = Vec::new();
        if let Some(p) = crate::drivers::embedded::packages::by_name(pip_name) {
            import_names.push(p.import_name.to_owned());
            if p.import_name == "aerospike" {
                import_names.push("aerospike_helpers".to_owned());
            }
        }
        Client { import_names }
    }

    fn owns(&self, frame: &Frame) -> bool {
        let file = frame.file.replace('\\', "/");
        let base = file.rsplit('/').next().unwrap_or(&file);
        self.import_names.iter().any(|name| {
            file.contains(&format!("/{name}/"))
                || (!frame.is_python()
                    && (base.starts_with(&format!("{name}.")) || base.starts_with(&format!("_{name}."))))
        })
    }
}

/// aerobench's Python files (the runner and the adapters), as the worker names them.
fn is_shim(frame: &Frame) -> bool {
    frame.file.starts_with("<aerobench>") || frame.file.contains("python_shim/")
}

/// Frames of the interpreter collecting garbage.
fn is_gc(frame: &Frame) -> bool {
    let n = frame.name.as_str();
    n.starts_with("gc_collect")
        || n.starts_with("_PyGC_Collect")
        || ((n == "collect" || n == "collect_with_callback" || n == "collect_generations")
            && (frame.file.contains("gcmodule") || frame.file.contains("libpython")))
}

/// The last part of a Rust path (`futex_wait` of `std::sys::pal::unix::futex::futex_wait`).
fn last_part(name: &str) -> &str {
    name.rsplit("::").next().unwrap_or(name)
}

/// Frames of a thread waiting to take the GIL (CPython's, and pyo3's attaching a thread).
fn is_gil_wait(frame: &Frame) -> bool {
    (frame.name.contains("pyo3") && (frame.name.contains("do_attach") || frame.name.contains("GILGuard::acquire")))
        || matches!(
            last_part(&frame.name),
            "take_gil"
                | "PyEval_RestoreThread"
                | "PyEval_AcquireThread"
                | "PyEval_AcquireLock"
                | "PyGILState_Ensure"
                | "_PyThreadState_Attach"
                | "tstate_wait_attach"
        )
}

/// Native calls that wait: for I/O, a lock, a condition, a timer.
fn is_wait(frame: &Frame) -> bool {
    let n = last_part(&frame.name).trim_start_matches('_');
    n.starts_with("epoll_")
        || n.starts_with("futex")
        || n.starts_with("GI___poll")
        || n.contains("futex_abstimed_wait")
        || n.starts_with("pthread_cond_")
        || n.starts_with("psynch_cvwait")
        || n.starts_with("semwait")
        || matches!(
            n,
            "select"
                | "pselect"
                | "pselect6"
                | "poll"
                | "ppoll"
                | "kevent"
                | "kevent64"
                | "nanosleep"
                | "clock_nanosleep"
                | "syscall"
                | "sem_wait"
                | "sem_timedwait"
                | "lll_lock_wait"
                | "read"
                | "libc_read"
                | "recv"
                | "recvfrom"
                | "recvmsg"
                | "libc_recv"
                | "accept"
                | "accept4"
                // A Python thread blocked on a lock or a queue (an executor's idle worker).
                | "PyThread_acquire_lock_timed"
                | "PyThread_acquire_lock"
                | "PyCOND_TIMEDWAIT"
        )
}

/// Native code of the operating system's libraries: time spent there is its caller's.
fn is_system(frame: &Frame) -> bool {
    if frame.is_python() {
        return false;
    }
    let file = frame.file.rsplit(['/', '\\']).next().unwrap_or(&frame.file);
    ["libc.", "libc-", "libpthread", "ld-linux", "ld-", "[vdso]", "linux-vdso", "libgcc_s", "libm.", "libdl", "librt"]
        .iter()
        .chain(&["libsystem_", "libdyld", "dyld", "libstdc++"])
        .any(|prefix| file.starts_with(prefix))
        || frame.name.starts_with("0x") && frame.file.is_empty()
}

/// Who was running in a sample whose frames are `frames`, outermost first.
pub fn owner(frames: &[&Frame], client: &Client) -> Owner {
    if frames.iter().any(|f| is_gc(f) || is_gil_wait(f)) {
        return Owner::Interpreter;
    }
    let innermost_python = frames.iter().rev().find(|f| f.is_python());
    let waits =
        innermost_native(frames).any(is_wait) || innermost_python.is_some_and(|f| f.file.ends_with("selectors.py"));
    if waits {
        return Owner::Idle;
    }
    for frame in frames.iter().rev() {
        let owner = if client.owns(frame) {
            if frame.is_python() { Owner::ClientPython } else { Owner::ClientExtension }
        } else if frame.is_python() {
            if is_shim(frame) { Owner::Shim } else { Owner::Other }
        } else if frame.file.ends_with(".rs") {
            // Rust source in a Python worker: only an extension module brings any.
            Owner::ClientExtension
        } else {
            continue;
        };
        return owner;
    }
    if frames.iter().any(|f| f.file.contains("libpython") || f.file.ends_with(".c")) {
        Owner::Interpreter
    } else {
        Owner::Other
    }
}

/// The shares of the samples of `stacks` by owner (all zero without samples).
pub fn shares(stacks: &Stacks, client: &Client) -> WhereShares {
    let n = stacks.samples.len() as f64;
    if n == 0.0 {
        return WhereShares::default();
    }
    let mut counts = [0u64; 6];
    for sample in &stacks.samples {
        let frames: Vec<&Frame> = stacks.frames_of(sample).collect();
        counts[owner(&frames, client) as usize] += 1;
    }
    let share = |o: Owner| counts[o as usize] as f64 / n;
    WhereShares {
        client_extension: share(Owner::ClientExtension),
        client_python: share(Owner::ClientPython),
        shim: share(Owner::Shim),
        interpreter: share(Owner::Interpreter),
        idle: share(Owner::Idle),
        other: share(Owner::Other),
    }
}

/// The frame a sample is counted in for its own share: the innermost one outside the system
/// libraries (or the innermost, when all are).
fn own_frame(sample: &[usize], frames: &[Frame]) -> Option<usize> {
    sample.iter().rev().copied().find(|&i| !is_system(&frames[i])).or_else(|| sample.last().copied())
}

/// Every frame's own and total share of the samples, by label.
pub fn frame_shares(stacks: &Stacks) -> HashMap<String, (f64, f64)> {
    let labels: Vec<String> = stacks.frames.iter().map(Frame::label).collect();
    let n = stacks.samples.len() as f64;
    let mut counts: HashMap<String, (u64, u64)> = HashMap::new();
    for sample in &stacks.samples {
        if let Some(own) = own_frame(sample, &stacks.frames) {
            counts.entry(labels[own].clone()).or_default().0 += 1;
        }
        let mut seen: Vec<&str> = sample.iter().map(|&i| labels[i].as_str()).collect();
        seen.sort_unstable();
        seen.dedup();
        for label in seen {
            counts.entry(label.to_owned()).or_default().1 += 1;
        }
    }
    counts.into_iter().map(|(label, (own, total))| (label, (own as f64 / n, total as f64 / n))).collect()
}

/// The frames worth naming: the `n` with the largest own share and the `n` with the largest
/// total share below the whole phase (frames every sample shares say nothing), by own share.
pub fn top_frames(shares: &HashMap<String, (f64, f64)>, n: usize) -> Vec<FrameShare> {
    let mut by_own: Vec<(&String, &(f64, f64))> = shares.iter().collect();
    by_own.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then_with(|| a.0.cmp(b.0)));
    let mut by_total: Vec<(&String, &(f64, f64))> = shares.iter().filter(|(_, s)| s.1 < 0.95).collect();
    by_total.sort_by(|a, b| b.1.1.total_cmp(&a.1.1).then_with(|| a.0.cmp(b.0)));
    let mut chosen: Vec<(&String, &(f64, f64))> = by_own.into_iter().take(n).filter(|(_, s)| s.0 > 0.0).collect();
    for entry in by_total.into_iter().take(n) {
        if !chosen.iter().any(|(l, _)| *l == entry.0) {
            chosen.push(entry);
        }
    }
    chosen.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then_with(|| b.1.1.total_cmp(&a.1.1)).then_with(|| a.0.cmp(b.0)));
    chosen
        .into_iter()
        .map(|(frame, &(own, total))| FrameShare { frame: frame.clone(), self_share: own, total_share: total })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, file: &str) -> Frame {
        Frame::new(name, file)
    }

    fn owner_of(frames: &[Frame], client: &str) -> Owner {
        owner(&frames.iter().collect::<Vec<_>>(), &Client::of(client))
    }

    const SITE: &str = "/cache/py3.11/aerospike-py-0.14.4";

    #[test]
    fn each_sample_goes_to_its_innermost_owner() {
        let runner = f("AsyncRunner.run_phase", "<aerobench>/python_shim/aerobench_shim.py");
        let get = f("AsyncClient.get", &format!("{SITE}/aerospike_py/_async_client.py"));
        let ext = f("0x7f00", &format!("{SITE}/aerospike_py/_aerospike.cpython-311-x86_64-linux-gnu.so"));
        let memcpy = f("memcpy", "/usr/lib/x86_64-linux-gnu/libc.so.6");
        let loop_ = f("BaseEventLoop._run_once", "/py/lib/python3.11/asyncio/base_events.py");
        let epoll = f("epoll_wait", "/usr/lib/x86_64-linux-gnu/libc.so.6");
        let select = f("EpollSelector.select", "/py/lib/python3.11/selectors.py");
        let take_gil = f("take_gil", "/py/lib/libpython3.11.so.1.0");
        let gc = f("gc_collect_main", "gcmodule.c");
        let dict = f("PyDict_SetItem", "/py/lib/libpython3.11.so.1.0");
        let rust = f("aerospike_py::client::as_dict", "src/client.rs");
        let zlib = f("deflate", "/usr/lib/x86_64-linux-gnu/libz.so.1");
        let c = |frames: &[&Frame]| frames.iter().map(|&x| x.clone()).collect::<Vec<_>>();
        assert_eq!(owner_of(&c(&[&runner, &get, &ext, &memcpy]), "aerospike-py"), Owner::ClientExtension);
        assert_eq!(owner_of(&c(&[&runner, &get, &dict]), "aerospike-py"), Owner::ClientPython);
        assert_eq!(owner_of(&c(&[&runner, &get, &rust, &dict]), "aerospike-py"), Owner::ClientExtension);
        assert_eq!(owner_of(&c(&[&runner, &zlib]), "aerospike-py"), Owner::Shim);
        assert_eq!(owner_of(&c(&[&runner, &loop_]), "aerospike-py"), Owner::Other);
        assert_eq!(owner_of(&c(&[&runner, &loop_, &select, &epoll]), "aerospike-py"), Owner::Idle);
        assert_eq!(owner_of(&c(&[&runner, &loop_, &select]), "aerospike-py"), Owner::Idle);
        assert_eq!(
            owner_of(&c(&[&runner, &get, &take_gil, &f("futex_wait", "libc.so.6")]), "aerospike-py"),
            Owner::Interpreter
        );
        assert_eq!(owner_of(&c(&[&runner, &get, &gc]), "aerospike-py"), Owner::Interpreter);
        // A thread of the extension attaching to the interpreter waits for the GIL.
        let attach = f("pyo3::internal::state::AttachGuard::do_attach_unchecked", "state.rs");
        let cond = f("pthread_cond_timedwait", "/lib/libc.so.6");
        let unnamed = f("0x7f11", "/lib/libc.so.6");
        assert_eq!(owner_of(&c(&[&attach, &cond, &unnamed]), "aerospike-py"), Owner::Interpreter);
        // A Rust thread parked on a futex (behind an unnamed libc frame) waits.
        let park = f("std::sys::pal::unix::futex::futex_wait", "futex.rs");
        assert_eq!(owner_of(&c(&[&runner, &get, &rust, &park, &unnamed]), "aerospike-py"), Owner::Idle);
        assert_eq!(owner_of(&c(&[&dict]), "aerospike-py"), Owner::Interpreter);
        // An executor's worker thread waiting for work on its queue's lock waits.
        let worker = f("_worker", "/py/lib/python3.11/concurrent/futures/thread.py");
        let lock = f("PyThread_acquire_lock_timed", "/py/lib/libpython3.11.so.1.0");
        assert_eq!(owner_of(&c(&[&worker, &lock, &unnamed]), "aerospike"), Owner::Idle);
        assert_eq!(owner_of(&c(&[&f("0x1", "[unknown]")]), "aerospike-py"), Owner::Other);
        // The no-op client has no package: its adapter is aerobench's shim.
        let noop = f("Sync.put", "<aerobench>/python_shim/aerobench_client_noop.py");
        assert_eq!(owner_of(&c(&[&noop, &zlib]), "noop"), Owner::Shim);
        // The official client's extension sits beside its helpers, not in a folder.
        let official = f("0x7f", "/cache/aerospike-19.3.0/aerospike.cpython-311-x86_64-linux-gnu.so");
        assert_eq!(owner_of(&c(&[&runner, &official]), "aerospike"), Owner::ClientExtension);
        assert_eq!(owner_of(&c(&[&runner, &official]), "aerospike-py"), Owner::Shim);
    }

    #[test]
    fn shares_add_up_and_frames_count_their_own_and_total_samples() {
        let frames = vec![
            f("Sync.put", "<aerobench>/python_shim/aerobench_client_noop.py"),
            f("work", "<aerobench>/python_shim/aerobench_client_noop.py"),
            f("clock_gettime", "/lib/libc.so.6"),
            f("clock_nanosleep", "/lib/libc.so.6"),
        ];
        let stacks =
            Stacks { frames, samples: vec![vec![0, 1], vec![0, 1, 2], vec![0, 1, 2], vec![0, 3], vec![0]], dropped: 0 };
        let w = shares(&stacks, &Client::of("noop"));
        assert!((w.shim - 0.8).abs() < 1e-9 && (w.idle - 0.2).abs() < 1e-9, "{w:?}");
        let s = frame_shares(&stacks);
        let work = s["work (python_shim/aerobench_client_noop.py)"];
        assert!((work.0 - 0.6).abs() < 1e-9 && (work.1 - 0.6).abs() < 1e-9, "libc's time is its caller's: {work:?}");
        let put = s["Sync.put (python_shim/aerobench_client_noop.py)"];
        assert!((put.0 - 0.4).abs() < 1e-9 && (put.1 - 1.0).abs() < 1e-9, "the sleep in libc is put's own: {put:?}");
        assert_eq!(s["clock_nanosleep (libc.so.6)"].0, 0.0);
        let top = top_frames(&s, 2);
        assert_eq!(top[0].frame, "work (python_shim/aerobench_client_noop.py)");
        assert!(top.iter().all(|t| t.frame != "clock_gettime (libc.so.6)" || t.self_share == 0.0));
    }
}

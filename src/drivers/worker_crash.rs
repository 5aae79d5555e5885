//! A worker process that dies of a signal says where: the parent names a file
//! ([`CRASH_FILE_ENV`]), the worker arms Python's `faulthandler` on it (the Python stack of
//! every thread at the crash) behind a fatal-signal handler of its own that adds the native
//! backtrace of the crashing thread, where the C library offers one (glibc, macOS; elsewhere
//! only the Python stacks). The parent reads the file when the worker ended abnormally and
//! puts it in the report ([`WorkerCrash`]).

use std::path::{Path, PathBuf};

use crate::model::results::WorkerCrash;

/// The environment variable naming the file a worker writes its crash report to.
pub const CRASH_FILE_ENV: &str = "AEROBENCH_WORKER_CRASH_FILE";

/// The line the native backtrace starts with in the crash file.
const NATIVE_HEADER: &str = "Native backtrace of the crashing thread (most recent call first):";

/// In the worker: arms the crash report on the file the parent named, if it named one. Call
/// once, after the embedded interpreter is initialised.
pub fn arm() -> anyhow::Result<()> {
    let Some(path) = std::env::var_os(CRASH_FILE_ENV) else { return Ok(()) };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open the crash report file {}: {e}", Path::new(&path).display()))?;
    let fd = native::arm(file);
    use pyo3::prelude::*;
    pyo3::Python::attach(|py| -> anyhow::Result<()> {
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("file", fd)?;
        kwargs.set_item("all_threads", true)?;
        py.import("faulthandler")?.call_method("enable", (), Some(&kwargs))?;
        Ok(())
    })
}

/// In the parent: the file one worker reports a crash in, removed when dropped.
pub struct CrashFile {
    path: PathBuf,
}

impl CrashFile {
    /// A fresh file name in the temporary folder, unique to this process and worker.
    pub fn new() -> CrashFile {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("aerobench-worker-{}-{n}.crash", std::process::id()));
        let _ = std::fs::remove_file(&path);
        CrashFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the worker wrote before it `ended` (e.g. `killed by signal 11 (SIGSEGV)`); `None`
    /// when it wrote nothing (it ended without a fatal signal, or before it was armed).
    pub fn read(&self, ended: &str) -> Option<WorkerCrash> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        parse(&text, ended)
    }
}

impl Drop for CrashFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A crash file's text, split into the Python stacks and the native backtrace.
fn parse(text: &str, ended: &str) -> Option<WorkerCrash> {
    if text.trim().is_empty() {
        return None;
    }
    let (python, native) = match text.find(NATIVE_HEADER) {
        Some(at) => (&text[..at], Some(text[at + NATIVE_HEADER.len()..].trim().to_string())),
        None => (text, None),
    };
    Some(WorkerCrash {
        ended: ended.to_string(),
        python_stacks: python.trim().to_string(),
        native_backtrace: native.filter(|n| !n.is_empty()),
    })
}

/// The crashing thread's innermost Python frames on one line, for the column's error text:
/// `in f (file.py:12) ← g (other.py:3)`; `None` when the report holds no stack.
pub fn summary(crash: &WorkerCrash) -> Option<String> {
    const FRAMES: usize = 4;
    // faulthandler marks the thread that crashed "Current thread"; a crash in a thread Python
    // does not know has no Python stack of its own.
    let mut lines = crash.python_stacks.lines().skip_while(|l| !l.starts_with("Current thread"));
    lines.next()?;
    let frames: Vec<String> = lines
        .map(str::trim)
        .take_while(|l| l.starts_with("File "))
        .filter_map(|l| {
            // File "/path/to/module.py", line 12 in function
            let rest = l.strip_prefix("File \"")?;
            let (file, rest) = rest.split_once("\", line ")?;
            let (line, function) = rest.split_once(" in ")?;
            let file = Path::new(file).file_name().map_or(file.into(), |f| f.to_string_lossy());
            Some(format!("{function} ({file}:{line})"))
        })
        .collect();
    if frames.is_empty() {
        return None;
    }
    let more = if frames.len() > FRAMES { " ← …" } else { "" };
    Some(format!("in {}{more}", frames[..frames.len().min(FRAMES)].join(" ← ")))
}

#[cfg(unix)]
mod native {
    use std::os::fd::IntoRawFd as _;
    use std::sync::atomic::{AtomicI32, Ordering};

    /// The crash file's descriptor, for the signal handler (-1: not armed).
    static FD: AtomicI32 = AtomicI32::new(-1);

    const FATAL: [libc::c_int; 5] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT];

    /// Installs the native handler on the fatal signals, writing to `file` (kept open for the
    /// process's life); returns its descriptor for `faulthandler`, which is armed after it, runs
    /// first and hands the signal on to this handler.
    pub fn arm(file: std::fs::File) -> i32 {
        let fd = file.into_raw_fd();
        FD.store(fd, Ordering::SeqCst);
        preload_backtrace();
        for signal in FATAL {
            // SAFETY: a zeroed sigaction with a handler that only makes async-signal-safe calls.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fatal_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_ONSTACK | libc::SA_NODEFER | libc::SA_RESETHAND;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
        fd
    }

    /// Writes the native backtrace, then dies of the same signal with its default action (the
    /// parent sees the signal, as without this handler).
    extern "C" fn on_fatal_signal(signal: libc::c_int) {
        let fd = FD.load(Ordering::SeqCst);
        if fd >= 0 {
            let header = format_header();
            // SAFETY: write(2) of a static buffer is async-signal-safe.
            unsafe { libc::write(fd, header.as_ptr().cast(), header.len()) };
            write_backtrace(fd);
        }
        // SAFETY: signal(2) and raise(3) are async-signal-safe.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }

    fn format_header() -> &'static [u8] {
        const HEADER: &str = concat!("\n", "Native backtrace of the crashing thread (most recent call first):", "\n");
        HEADER.as_bytes()
    }

    #[cfg(any(all(target_os = "linux", target_env = "gnu"), target_os = "macos"))]
    fn write_backtrace(fd: libc::c_int) {
        let mut frames = [std::ptr::null_mut::<libc::c_void>(); 64];
        // SAFETY: the buffer holds 64 frames; backtrace_symbols_fd writes to fd without
        // allocating (backtrace was called once before, so its unwinder is loaded).
        unsafe {
            let n = libc::backtrace(frames.as_mut_ptr(), frames.len() as libc::c_int);
            libc::backtrace_symbols_fd(frames.as_ptr(), n, fd);
        }
    }

    /// Without `backtrace(3)` (musl, the BSDs): only the Python stacks.
    #[cfg(not(any(all(target_os = "linux", target_env = "gnu"), target_os = "macos")))]
    fn write_backtrace(fd: libc::c_int) {
        const NONE: &[u8] = b"(no backtrace(3) in this C library)\n";
        // SAFETY: write(2) of a static buffer is async-signal-safe.
        unsafe { libc::write(fd, NONE.as_ptr().cast(), NONE.len()) };
    }

    /// The first call of `backtrace(3)` may load the unwinder (allocating): done here, not in
    /// the signal handler.
    fn preload_backtrace() {
        #[cfg(any(all(target_os = "linux", target_env = "gnu"), target_os = "macos"))]
        {
            let mut frames = [std::ptr::null_mut::<libc::c_void>(); 4];
            // SAFETY: the buffer holds 4 frames.
            unsafe { libc::backtrace(frames.as_mut_ptr(), frames.len() as libc::c_int) };
        }
    }
}

/// Elsewhere (Windows): `faulthandler` alone, on a descriptor Python opens itself.
#[cfg(not(unix))]
mod native {
    pub fn arm(file: std::fs::File) -> i32 {
        use std::os::windows::io::IntoRawHandle as _;
        // faulthandler takes a C runtime descriptor; without one the Python stacks go to stderr.
        let _ = file.into_raw_handle();
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAULTHANDLER: &str = "Fatal Python error: Segmentation fault

Thread 0x00007f858bfff6c0 (most recent call first):
  File \"/usr/lib/python3.11/threading.py\", line 327 in wait

Current thread 0x00007faaacced6c0 (most recent call first):
  File \"/x/aerobench_client_official.py\", line 80 in batch_get
  File \"/x/aerobench_client_official.py\", line 160 in call
  File \"/usr/lib/python3.11/concurrent/futures/thread.py\", line 58 in run
  File \"/usr/lib/python3.11/concurrent/futures/thread.py\", line 83 in _worker
  File \"/usr/lib/python3.11/threading.py\", line 982 in run

Extension modules: aerospike (total: 1)
";

    #[test]
    fn a_crash_file_splits_into_python_stacks_and_native_frames_and_names_the_crashing_frames() {
        let text = format!("{FAULTHANDLER}\n{NATIVE_HEADER}\n/lib/libc.so.6(+0x42520)[0x7f]\n");
        let crash = parse(&text, "killed by signal 11 (SIGSEGV)").unwrap();
        assert!(crash.python_stacks.starts_with("Fatal Python error: Segmentation fault"));
        assert!(crash.python_stacks.contains("Thread 0x00007f858bfff6c0") && !crash.python_stacks.contains("libc"));
        assert_eq!(crash.native_backtrace.as_deref(), Some("/lib/libc.so.6(+0x42520)[0x7f]"));
        assert_eq!(
            summary(&crash).unwrap(),
            "in batch_get (aerobench_client_official.py:80) ← call (aerobench_client_official.py:160) ← run \
             (thread.py:58) ← _worker (thread.py:83) ← …"
        );
        assert!(parse(" \n", "exited with code 1").is_none(), "nothing written: no crash report");
        let no_python = parse(&format!("\n{NATIVE_HEADER}\n"), "killed").unwrap();
        assert_eq!((summary(&no_python), no_python.native_backtrace), (None, None));
    }
}

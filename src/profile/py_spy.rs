//! py-spy, the sampler: pinned and installed from PyPI like the client packages (once, into
//! the cache of the interpreter aerobench embeds: it is a program, not a module), started on a
//! worker's pid before a phase, stopped with SIGINT after it (py-spy then writes what it
//! sampled), and its output read back. Native frames on, so the extensions' Rust and C frames
//! show; idle threads included, so waiting shows too.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::speedscope::{self, Sampled};
use crate::drivers::embedded::interpreter::Interpreter;
use crate::drivers::embedded::packages::{self, Package, Source};

/// py-spy on PyPI (a wheel holding the binary, for Linux, macOS and Windows).
pub const PY_SPY: Package =
    Package { pip_name: "py-spy", import_name: "py_spy", default_version: "0.4.3", extension: None };

/// Samples per second per thread.
pub const RATE_HZ: u32 = 200;

/// How long py-spy may take to attach before the phase is left unprofiled.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(30);

/// How long py-spy may take to write its output once told to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// py-spy, installed.
#[derive(Debug, Clone)]
pub struct Sampler {
    pub exe: PathBuf,
}

impl Sampler {
    /// Installs the pinned py-spy on first use (or finds it installed); why not, if it cannot.
    pub fn install() -> Result<Sampler, String> {
        let linked = Interpreter::linked();
        let resolved = packages::resolve(&PY_SPY, &Source::Version(PY_SPY.default_version.into()), &linked)
            .map_err(|e| e.to_string())?;
        let exe = resolved.dir.join("bin").join(if cfg!(windows) { "py-spy.exe" } else { "py-spy" });
        if !exe.is_file() {
            return Err(format!("the py-spy wheel installed in {} holds no {}", resolved.dir.display(), exe.display()));
        }
        Ok(Sampler { exe })
    }

    /// What the report calls the sampler.
    pub fn describe() -> String {
        format!("py-spy {}, native frames, idle threads included", PY_SPY.default_version)
    }

    /// Starts sampling process `pid` into `output` (with its native frames when `native`), and
    /// returns once py-spy has attached; why not, when it could not (no permission to read the
    /// process, an interpreter it does not support, native stacks it cannot unwind).
    pub fn start(&self, pid: u32, output: &Path, native: bool) -> Result<Recording, String> {
        let _ = std::fs::remove_file(output);
        let mut child = Command::new(&self.exe)
            .args(["record", "--pid", &pid.to_string(), "--idle", "--rate", &RATE_HZ.to_string()])
            .args(native.then_some("--native"))
            .args(["--format", "speedscope", "--output"])
            .arg(output)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.exe.display()))?;
        crate::engine::signals::register_child(child.id());
        let said = Arc::new(Mutex::new(String::new()));
        let (attached_tx, attached) = mpsc::channel();
        // py-spy says it is sampling on stdout, and what went wrong on stderr.
        let stdout = child.stdout.take().map(|o| Box::new(o) as Box<dyn std::io::Read + Send>);
        let stderr = child.stderr.take().map(|e| Box::new(e) as Box<dyn std::io::Read + Send>);
        for output in [stdout, stderr].into_iter().flatten() {
            let (said, attached_tx) = (said.clone(), attached_tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(output).lines().map_while(Result::ok) {
                    if line.contains("Sampling process") {
                        let _ = attached_tx.send(());
                    }
                    let mut s = said.lock().unwrap_or_else(|e| e.into_inner());
                    s.push_str(&line);
                    s.push('\n');
                }
            });
        }
        let mut recording = Recording { child, output: output.to_owned(), said };
        let deadline = Instant::now() + ATTACH_TIMEOUT;
        loop {
            if attached.recv_timeout(Duration::from_millis(50)).is_ok() {
                return Ok(recording);
            }
            if let Ok(Some(status)) = recording.child.try_wait() {
                // Let the reader take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!("py-spy {status}: {}", recording.why()));
            }
            if Instant::now() >= deadline || crate::engine::stop::interrupted() {
                return Err(format!(
                    "py-spy did not attach within {} s: {}",
                    ATTACH_TIMEOUT.as_secs(),
                    recording.why()
                ));
            }
        }
    }
}

/// py-spy sampling one process.
pub struct Recording {
    child: Child,
    output: PathBuf,
    said: Arc<Mutex<String>>,
}

impl Recording {
    /// What py-spy said that explains a failure: its error line, without the backtrace.
    fn why(&self) -> String {
        let said = self.said.lock().unwrap_or_else(|e| e.into_inner()).clone();
        error_line(&said)
    }

    /// Stops sampling (SIGINT: py-spy writes what it sampled) and reads the samples back.
    pub fn stop(mut self) -> Result<Sampled, String> {
        if !crate::engine::signals::send(self.child.id(), crate::engine::signals::Kill::Interrupt) {
            let _ = self.child.kill();
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    return Err(format!("py-spy did not stop within {} s of SIGINT", STOP_TIMEOUT.as_secs()));
                }
            }
        }
        let text = std::fs::read_to_string(&self.output)
            .map_err(|e| format!("py-spy wrote no samples to {} ({e}): {}", self.output.display(), self.why()))?;
        let _ = std::fs::remove_file(&self.output);
        speedscope::parse(&text)
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        crate::engine::signals::forget_child(self.child.id());
    }
}

/// The line of py-spy's stderr that says what went wrong (`Error: …`, or its first line that is
/// neither its own chatter nor a backtrace).
pub fn error_line(said: &str) -> String {
    let lines = said.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("py-spy>"));
    let mut first = None;
    for line in lines {
        if let Some(e) = line.strip_prefix("Error:") {
            return e.trim().to_owned();
        }
        if line.starts_with("Stack backtrace") {
            break;
        }
        first.get_or_insert(line);
    }
    first.map_or_else(|| "it said nothing".to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_without_the_backtrace() {
        let said = "Error: Failed to find python version from target process\n\nStack backtrace:\n   0: anyhow::msg\n";
        assert_eq!(error_line(said), "Failed to find python version from target process");
        let said =
            "Permission Denied: Try running again with elevated permissions by going 'sudo env \"PATH=$PATH\" !!'\n";
        assert!(error_line(said).starts_with("Permission Denied"));
        assert_eq!(error_line("py-spy> Sampling process\n"), "it said nothing");
    }
}

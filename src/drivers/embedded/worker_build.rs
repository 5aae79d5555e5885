//! A worker binary for an interpreter other than the one aerobench was linked with: aerobench
//! carries its own source (packed by `build.rs`), and on first use builds it with cargo,
//! `PYO3_PYTHON` set to that interpreter, into its cache. The binary is kept under a name made
//! of aerobench's version, its source hash, the build profile and the interpreter, so later runs
//! start it at once; the compile folder is shared, so the crates that do not depend on Python
//! compile once for every interpreter. The worker speaks the same line protocol as `aerobench
//! worker` (it is the same program) and owns the clock the same way.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use thiserror::Error;

use super::interpreter::Interpreter;

/// aerobench's source, as `build.rs` packed it.
const SOURCE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/source.tar.gz"));
/// The first 16 hex digits of the packed source's SHA-256.
const SOURCE_HASH: &str = env!("AEROBENCH_SOURCE_HASH");

#[derive(Debug, Error)]
pub enum BuildError {
    #[error(
        "a worker for Python {tag} ({exe}) is built on first use, which needs cargo (Rust's build tool), \
         and none was found (looked at $CARGO, PATH and ~/.cargo/bin). Install it from https://rustup.rs, \
         or run this column under the Python aerobench was built with ({linked})"
    )]
    NoCargo { tag: String, exe: String, linked: String },
    #[error("cannot build a worker for Python {tag} ({exe}): {detail}\nfull log: {log}")]
    Failed { tag: String, exe: String, detail: String, log: String },
    #[error("cannot prepare a worker for Python {tag} in {dir}: {detail}")]
    Io { tag: String, dir: String, detail: String },
}

/// The cargo profile workers are built with: the one aerobench itself was built with, so a
/// release aerobench measures with release workers (`AEROBENCH_WORKER_PROFILE` overrides it).
pub fn profile() -> String {
    std::env::var("AEROBENCH_WORKER_PROFILE")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| if cfg!(debug_assertions) { "dev".into() } else { "release".into() })
}

/// `~/.cache/aerobench/workers` (under `$AEROBENCH_CACHE_DIR` or `$XDG_CACHE_HOME` when set).
pub fn workers_root() -> PathBuf {
    super::packages::cache_base().join("workers")
}

/// Where workers are compiled (`AEROBENCH_WORKER_TARGET_DIR`, else `workers/target`).
fn target_dir() -> PathBuf {
    std::env::var_os("AEROBENCH_WORKER_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workers_root().join("target"))
}

/// The file name of the worker for `interp`: aerobench's version and source, the profile, the
/// interpreter's tag and a hash of its path (two 3.13 installs get a worker each).
pub fn worker_name(interp: &Interpreter, profile: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let path_hash: String = Sha256::digest(interp.executable.to_string_lossy().as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("aerobench-{}-{SOURCE_HASH}-{profile}-py{}-{path_hash}", env!("CARGO_PKG_VERSION"), interp.tag)
}

/// The cargo to build with: `$CARGO`, `cargo` on `PATH`, or `~/.cargo/bin/cargo`.
fn cargo() -> Option<PathBuf> {
    let works = |p: &Path| {
        Command::new(p).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    };
    let candidates = [
        std::env::var_os("CARGO").map(PathBuf::from),
        Some(PathBuf::from("cargo")),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo").join("bin").join("cargo")),
    ];
    candidates.into_iter().flatten().find(|p| works(p))
}

/// The executable that runs a column under `interp`: aerobench itself for the interpreter it
/// embeds, else the worker built for `interp` (built now if it is not yet; `show` prints
/// progress while it builds).
pub fn worker_for(interp: &Interpreter, show: bool) -> Result<PathBuf, BuildError> {
    if interp.is_linked() {
        return std::env::current_exe().map_err(|e| BuildError::Io {
            tag: interp.tag.clone(),
            dir: String::new(),
            detail: format!("cannot find the aerobench executable: {e}"),
        });
    }
    let profile = profile();
    let root = workers_root();
    let worker = root.join(worker_name(interp, &profile));
    if worker.is_file() {
        return Ok(worker);
    }
    let tag = interp.tag.clone();
    let exe = interp.executable.display().to_string();
    let io = |dir: &Path, e: std::io::Error| BuildError::Io {
        tag: tag.clone(),
        dir: dir.display().to_string(),
        detail: e.to_string(),
    };
    let cargo = cargo().ok_or_else(|| BuildError::NoCargo {
        tag: tag.clone(),
        exe: exe.clone(),
        linked: super::PYTHON_EXECUTABLE.to_string(),
    })?;
    let source = unpack(&root).map_err(|e| io(&root, e))?;
    let log = root.join(format!("{}.log", worker_name(interp, &profile)));
    let log_file = std::fs::File::create(&log).map_err(|e| io(&root, e))?;
    let target = target_dir();
    let started = std::time::Instant::now();
    let spin = crate::engine::progress::spinner(
        show,
        format!(
            "building an aerobench worker for Python {tag} ({exe}): first use only, a few minutes; log {}",
            log.display()
        ),
    );
    let mut build = Command::new(&cargo);
    // What cargo sets for the program it runs (aerobench under `cargo run` or `cargo test`) is
    // no setting for this build: build scripts that watch those variables (ring's) would rebuild
    // their crates whenever aerobench was started another way.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(inherited_from_cargo) {
            build.env_remove(&name);
        }
    }
    let status = build
        .args(["build", "--locked", "--bin", "aerobench", "--profile", &profile, "--manifest-path"])
        .arg(source.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env("PYO3_PYTHON", &interp.executable)
        .env_remove("PYO3_CONFIG_FILE")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|e| io(&root, e))?)
        .stderr(log_file)
        .status();
    spin.finish_and_clear();
    let failed = |detail: String| BuildError::Failed {
        tag: tag.clone(),
        exe: exe.clone(),
        detail,
        log: log.display().to_string(),
    };
    let status = status.map_err(|e| failed(format!("cannot run {}: {e}", cargo.display())))?;
    if !status.success() {
        let mut text = String::new();
        let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_string(&mut text));
        let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(failed(format!("cargo {status}:\n{}", tail.join("\n"))));
    }
    let dir = if profile == "dev" { "debug".to_string() } else { profile.clone() };
    let built = target.join(dir).join(format!("aerobench{}", std::env::consts::EXE_SUFFIX));
    // Copied out under its own name (the compile folder's binary is overwritten by the next
    // interpreter's build), into a temp file renamed when complete.
    let tmp = root.join(format!(".{}.tmp-{}", worker_name(interp, &profile), std::process::id()));
    std::fs::copy(&built, &tmp).map_err(|e| io(&built, e))?;
    std::fs::rename(&tmp, &worker).map_err(|e| io(&worker, e))?;
    prune(&root, &worker_name(interp, &profile));
    if show {
        eprintln!(
            "built the aerobench worker for Python {tag} in {:.0} s: {}",
            started.elapsed().as_secs_f64(),
            worker.display()
        );
    }
    Ok(worker)
}

/// Removes the workers (and their logs) this aerobench version built earlier for the same
/// interpreter and profile from another source: a rebuilt aerobench replaces its workers instead
/// of piling up binaries of a hundred megabytes or more. Other versions' workers are kept.
fn prune(root: &Path, keep: &str) {
    // aerobench-<version>-<source>-<profile>-py<tag>-<path hash>
    let version = format!("aerobench-{}-", env!("CARGO_PKG_VERSION"));
    let Some(rest) = keep.strip_prefix(&version) else { return };
    let Some((_, same)) = rest.split_once('-') else { return };
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stem = name.strip_suffix(".log").unwrap_or(&name);
        let earlier = stem
            .strip_prefix(&version)
            .and_then(|r| r.split_once('-'))
            .is_some_and(|(source, tail)| tail == same && source != SOURCE_HASH);
        if earlier {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The variables cargo sets for a program it builds or runs (and the target folder, which the
/// worker build chooses itself).
fn inherited_from_cargo(name: &str) -> bool {
    const PREFIXES: &[&str] = &["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_", "CARGO_CFG_", "CARGO_CRATE_"];
    const NAMES: &[&str] =
        &["CARGO_PRIMARY_PACKAGE", "CARGO_RUSTC_CURRENT_DIR", "CARGO_TARGET_DIR", "CARGO_TARGET_TMPDIR", "OUT_DIR"];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

/// Unpacks the source once into `root/src-<hash>` (through a temp folder, renamed when complete).
fn unpack(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join(format!("src-{SOURCE_HASH}"));
    if dir.join("Cargo.toml").is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(root)?;
    let tmp = root.join(format!(".src-{SOURCE_HASH}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    tar::Archive::new(flate2::read::GzDecoder::new(SOURCE)).unpack(&tmp)?;
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another run unpacked it first.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packed_source_holds_what_a_build_needs() {
        let mut names = Vec::new();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(SOURCE));
        for entry in archive.entries().unwrap() {
            names.push(entry.unwrap().path().unwrap().display().to_string());
        }
        for wanted in ["Cargo.toml", "Cargo.lock", "build.rs", "src/main.rs", "src/drivers/embedded/worker_build.rs"] {
            assert!(names.iter().any(|n| n == wanted), "{wanted} missing from {names:?}");
        }
        assert!(names.iter().any(|n| n.starts_with("python_shim/")), "{names:?}");
        assert!(!names.iter().any(|n| n.starts_with("target/") || n.starts_with("tests/")), "{names:?}");
    }

    #[test]
    fn workers_are_named_by_version_source_profile_and_interpreter() {
        let a = Interpreter { executable: "/a/bin/python3.13".into(), tag: "3.13".into(), version: "3.13.0".into() };
        let b = Interpreter { executable: "/b/bin/python3.13".into(), ..a.clone() };
        let t = Interpreter { executable: "/c/bin/python3.14t".into(), tag: "3.14t".into(), version: "3.14.7".into() };
        let name = worker_name(&a, "release");
        assert!(name.starts_with(&format!("aerobench-{}-{SOURCE_HASH}-release-py3.13-", env!("CARGO_PKG_VERSION"))));
        assert_ne!(name, worker_name(&b, "release"), "two installs of one version get a worker each");
        assert_ne!(name, worker_name(&a, "dev"));
        assert!(worker_name(&t, "release").contains("-py3.14t-"));
    }

    #[test]
    fn what_cargo_sets_for_a_program_is_not_passed_to_the_build() {
        for name in ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME", "CARGO_TARGET_DIR", "CARGO_TARGET_TMPDIR", "OUT_DIR"] {
            assert!(inherited_from_cargo(name), "{name}");
        }
        let kept = ["CARGO_HOME", "CARGO_NET_OFFLINE", "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER", "PATH"];
        for name in kept {
            assert!(!inherited_from_cargo(name), "{name}");
        }
    }

    #[test]
    fn a_new_worker_replaces_this_versions_earlier_ones_for_its_interpreter() {
        let root = std::env::temp_dir().join(format!("aerobench-workers-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let v = env!("CARGO_PKG_VERSION");
        let keep = format!("aerobench-{v}-{SOURCE_HASH}-dev-py3.13-aaaa");
        let names = [
            keep.clone(),
            format!("{keep}.log"),
            format!("aerobench-{v}-0123456789abcdef-dev-py3.13-aaaa"),
            format!("aerobench-{v}-0123456789abcdef-dev-py3.13-aaaa.log"),
            format!("aerobench-{v}-0123456789abcdef-dev-py3.13-bbbb"),
            format!("aerobench-{v}-0123456789abcdef-release-py3.13-aaaa"),
            format!("aerobench-{v}-0123456789abcdef-dev-py3.14t-aaaa"),
            "aerobench-9.9.9-0123456789abcdef-dev-py3.13-aaaa".to_string(),
        ];
        for n in &names {
            std::fs::write(root.join(n), "").unwrap();
        }
        prune(&root, &keep);
        let mut left: Vec<String> =
            std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        let mut want: Vec<String> = names
            .iter()
            .filter(|n| !n.contains("0123456789abcdef-dev-py3.13-aaaa") || n.contains("9.9.9"))
            .cloned()
            .collect();
        want.sort();
        assert_eq!(left, want);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_linked_interpreter_needs_no_build() {
        let exe = worker_for(&Interpreter::linked(), false).unwrap();
        assert_eq!(exe, std::env::current_exe().unwrap());
    }
}

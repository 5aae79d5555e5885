//! Which CPython a Python column runs under: `--python` and a column id's `:py3.13` suffix,
//! resolved to an installed interpreter (through pyenv, then `PATH`, or a path given as is) and
//! checked before anything runs: CPython ≥ 3.11 with a shared libpython, free-threaded builds
//! (`3.14t`) included. The interpreter aerobench was linked with needs no worker of its own;
//! any other gets one built for it (`worker_build`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use thiserror::Error;

use super::{PYTHON_EXECUTABLE, PYTHON_FREE_THREADED, PYTHON_VERSION};

/// An installed interpreter a column can run under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// Its executable, symbolic links resolved.
    pub executable: PathBuf,
    /// `3.13`, or `3.14t` for a free-threaded build: the key of its package cache and its
    /// suffix in column ids.
    pub tag: String,
    /// The full version, e.g. `3.13.0` (the linked one's `major.minor` until probed).
    pub version: String,
}

impl Interpreter {
    /// The interpreter aerobench's own binary embeds.
    pub fn linked() -> Interpreter {
        let executable = PathBuf::from(PYTHON_EXECUTABLE);
        Interpreter {
            executable: std::fs::canonicalize(&executable).unwrap_or(executable),
            tag: format!("{PYTHON_VERSION}{PYTHON_FREE_THREADED}"),
            version: PYTHON_VERSION.to_string(),
        }
    }

    /// True for the interpreter aerobench's own binary embeds: its columns run in `aerobench
    /// worker` itself.
    pub fn is_linked(&self) -> bool {
        self.executable == Interpreter::linked().executable
    }

    /// The `pythonX.Y[t]` folder name under a virtualenv's or prefix's `lib/`.
    pub fn lib_name(&self) -> String {
        format!("python{}", self.tag)
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum InterpreterError {
    #[error(
        "--python {asked}: no such interpreter here (looked for {looked}). Install it, e.g. \
         `env PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install {asked}` (a free-threaded build: \
         `pyenv install {asked}t`, or CPython's source configured with --disable-gil --enable-shared), \
         or give the interpreter's path: --python /path/to/python3"
    )]
    NotFound { asked: String, looked: String },
    #[error("--python {asked}: {why}")]
    Unusable { asked: String, why: String },
    #[error(
        "--python {asked}: {executable} is Python {version}; aerobench runs clients under CPython 3.11 or \
         newer. Install one, e.g. `env PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install 3.13`"
    )]
    TooOld { asked: String, executable: String, version: String },
    #[error(
        "--python {asked}: {executable} (Python {version}) was built without a shared libpython, which \
         aerobench embeds. Reinstall it with one, e.g. `env PYTHON_CONFIGURE_OPTS=--enable-shared pyenv \
         install --force {version}` (or configure CPython's source with --enable-shared)"
    )]
    NotShared { asked: String, executable: String, version: String },
    #[error("{0:?} is not an interpreter: give a version (3.13, 3.14t) or the path of a python executable")]
    BadRequest(String),
}

/// Splits a column id's interpreter suffix off: `aerospike-py-sync:py3.14t` gives
/// (`aerospike-py-sync`, `Some("3.14t")`). The rest of the id (a build suffix `@…` included) is
/// left as it is.
pub fn split_suffix(id: &str) -> Result<(&str, Option<&str>), InterpreterError> {
    match id.split_once(":py") {
        None => Ok((id, None)),
        Some((base, asked)) => {
            check_request(asked)?;
            Ok((base, Some(asked)))
        }
    }
}

/// Checks the form of an interpreter request: `3.13`, `3.14t`, `py3.13`, or a path.
fn check_request(asked: &str) -> Result<(), InterpreterError> {
    if asked.contains('/') || asked.contains(std::path::MAIN_SEPARATOR) {
        return Ok(());
    }
    parse_version(asked).map(|_| ()).ok_or_else(|| InterpreterError::BadRequest(asked.to_string()))
}

/// `3.14t` → (3, 14, free-threaded); `py3.13` is accepted too.
fn parse_version(asked: &str) -> Option<(u32, u32, bool)> {
    let v = asked.strip_prefix("py").unwrap_or(asked);
    let (v, threaded) = match v.strip_suffix('t') {
        Some(v) => (v, true),
        None => (v, false),
    };
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?, threaded))
}

/// Splits `--python` values (`3.11,3.13`, repeated or not) into requests, in order, once each.
pub fn parse_list(values: &[String]) -> Result<Vec<String>, InterpreterError> {
    let mut out: Vec<String> = Vec::new();
    for item in values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
        check_request(item)?;
        if !out.iter().any(|o| o == item) {
            out.push(item.to_string());
        }
    }
    Ok(out)
}

/// Where pyenv keeps its versions: `$PYENV_ROOT`, else `~/.pyenv`.
fn pyenv_versions() -> Option<PathBuf> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))?;
    Some(root.join("versions"))
}

/// Candidate executables for `major.minor[t]`, best first: pyenv's newest matching version,
/// then `pythonX.Y[t]` on `PATH`.
fn candidates(major: u32, minor: u32, threaded: bool) -> (Vec<PathBuf>, String) {
    let exe = format!("python{major}.{minor}{}", if threaded { "t" } else { "" });
    let mut found = Vec::new();
    let mut looked = Vec::new();
    if let Some(versions) = pyenv_versions() {
        looked.push(format!("{}/{major}.{minor}*{}/bin/{exe}", versions.display(), if threaded { "t" } else { "" }));
        let mut matching: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(&versions)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let (numbers, is_threaded) = match name.strip_suffix('t') {
                    Some(n) => (n.to_string(), true),
                    None => (name.clone(), false),
                };
                let parts: Vec<u32> = numbers.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
                (parts.len() >= 2 && parts[0] == major && parts[1] == minor && is_threaded == threaded)
                    .then(|| (parts, e.path().join("bin").join(&exe)))
            })
            .filter(|(_, p)| p.is_file())
            .collect();
        matching.sort();
        found.extend(matching.into_iter().rev().map(|(_, p)| p));
    }
    looked.push(format!("{exe} on PATH"));
    for dir in std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default() {
        // pyenv's shims would only send us back to a version found above, or fail.
        if dir.ends_with("shims") {
            continue;
        }
        let p = dir.join(&exe);
        if p.is_file() {
            found.push(p);
        }
    }
    (found, looked.join(", "))
}

/// What the interpreter says about itself.
#[derive(Debug, Deserialize)]
struct Probe {
    executable: String,
    version: String,
    major: u32,
    minor: u32,
    free_threaded: bool,
    shared: bool,
    implementation: String,
}

const PROBE: &str = "import json, sys, sysconfig, platform; v = sysconfig.get_config_var; \
print(json.dumps({'executable': sys.executable, 'version': platform.python_version(), \
'major': sys.version_info[0], 'minor': sys.version_info[1], 'free_threaded': bool(v('Py_GIL_DISABLED')), \
'shared': bool(v('Py_ENABLE_SHARED') or v('PYTHONFRAMEWORK')), 'implementation': sys.implementation.name}))";

fn probe(asked: &str, exe: &Path) -> Result<Interpreter, InterpreterError> {
    let unusable = |why: String| InterpreterError::Unusable { asked: asked.to_string(), why };
    let out = Command::new(exe)
        .args(["-I", "-c", PROBE])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| unusable(format!("cannot run {}: {e}", exe.display())))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(unusable(format!(
            "{} did not answer as a Python 3 interpreter ({}): {}",
            exe.display(),
            out.status,
            stderr.lines().last().unwrap_or("")
        )));
    }
    let p: Probe = serde_json::from_slice(&out.stdout)
        .map_err(|e| unusable(format!("{} did not answer as a Python 3 interpreter: {e}", exe.display())))?;
    let executable = std::fs::canonicalize(&p.executable).unwrap_or_else(|_| PathBuf::from(&p.executable));
    let shown = executable.display().to_string();
    if p.implementation != "cpython" {
        return Err(unusable(format!("{shown} is {} {}; aerobench embeds CPython only", p.implementation, p.version)));
    }
    if (p.major, p.minor) < (3, 11) {
        return Err(InterpreterError::TooOld { asked: asked.into(), executable: shown, version: p.version });
    }
    if !p.shared {
        return Err(InterpreterError::NotShared { asked: asked.into(), executable: shown, version: p.version });
    }
    Ok(Interpreter {
        executable,
        tag: format!("{}.{}{}", p.major, p.minor, if p.free_threaded { "t" } else { "" }),
        version: p.version,
    })
}

/// Finds and checks the interpreter `asked` names: a version (`3.13`, `3.14t`) through pyenv
/// and `PATH`, or a path.
pub fn resolve(asked: &str) -> Result<Interpreter, InterpreterError> {
    if asked.contains('/') || asked.contains(std::path::MAIN_SEPARATOR) {
        let path = Path::new(asked);
        if !path.is_file() {
            return Err(InterpreterError::NotFound { asked: asked.into(), looked: path.display().to_string() });
        }
        return probe(asked, path);
    }
    let (major, minor, threaded) = parse_version(asked).ok_or_else(|| InterpreterError::BadRequest(asked.into()))?;
    let linked = Interpreter::linked();
    if linked.tag == format!("{major}.{minor}{}", if threaded { "t" } else { "" }) {
        return Ok(linked);
    }
    let (found, looked) = candidates(major, minor, threaded);
    let mut last = None;
    for exe in found {
        match probe(asked, &exe) {
            Ok(i) if i.tag.ends_with('t') == threaded => return Ok(i),
            Ok(_) => {}
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(InterpreterError::NotFound { asked: asked.into(), looked }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_suffixes_split_off_and_keep_the_rest_of_the_id() {
        assert_eq!(split_suffix("aerospike-py-sync:py3.14t"), Ok(("aerospike-py-sync", Some("3.14t"))));
        assert_eq!(split_suffix("aerospike-py-sync@0.14.4:py3.13"), Ok(("aerospike-py-sync@0.14.4", Some("3.13"))));
        assert_eq!(split_suffix("official-c"), Ok(("official-c", None)));
        assert_eq!(split_suffix("x:py/opt/py/bin/python3"), Ok(("x", Some("/opt/py/bin/python3"))));
        assert_eq!(split_suffix("x:pythree"), Err(InterpreterError::BadRequest("three".into())));
        assert!(split_suffix("x:py3").is_err());
    }

    /// A free-threaded build (Py_GIL_DISABLED=1) is told apart by the probe the real
    /// interpreters answer: the tag gets its `t`, which names its columns and its worker.
    #[cfg(unix)]
    #[test]
    fn a_free_threaded_build_gets_a_t_in_its_tag() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("aerobench-ft-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let answer = |gil_disabled: bool| {
            let path = dir.join(format!("python3.14{}", if gil_disabled { "t" } else { "" }));
            // A stand-in that runs the real probe's Python with sysconfig answering as that build.
            let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
            let patch = format!(
                "import sysconfig; real = sysconfig.get_config_var; \
                 sysconfig.get_config_var = lambda n: {} if n == 'Py_GIL_DISABLED' else 1 if n == 'Py_ENABLE_SHARED' else real(n)",
                if gil_disabled { 1 } else { 0 }
            );
            // Called as `exe -I -c PROBE`: the probe is the last argument.
            let script = format!("#!/bin/sh\nexec '{python}' -c \"{patch}; import sys; exec(sys.argv[-1])\" \"$@\"\n");
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            probe("3.14t", &path).map(|i| i.tag)
        };
        let (free, gil) = (answer(true), answer(false));
        let _ = std::fs::remove_dir_all(&dir);
        let free = free.expect("a free-threaded build probes");
        assert!(free.ends_with('t'), "{free}");
        assert!(!gil.expect("a GIL build probes").ends_with('t'));
    }

    #[test]
    fn versions_parse_with_and_without_py_and_t() {
        assert_eq!(parse_version("3.13"), Some((3, 13, false)));
        assert_eq!(parse_version("py3.14t"), Some((3, 14, true)));
        assert_eq!(parse_version("3.x"), None);
        assert_eq!(parse_version("3"), None);
    }

    #[test]
    fn lists_split_on_commas_and_drop_repeats() {
        let list = parse_list(&["3.11,3.13".into(), " 3.13 ".into(), "3.14t".into()]).unwrap();
        assert_eq!(list, ["3.11", "3.13", "3.14t"]);
        assert_eq!(parse_list(&["3.11,latest".into()]), Err(InterpreterError::BadRequest("latest".into())));
    }

    #[test]
    fn a_missing_version_says_what_to_install() {
        let err = resolve("3.99").unwrap_err();
        assert!(matches!(err, InterpreterError::NotFound { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("pyenv install 3.99") && text.contains("--enable-shared"), "{text}");
        let err = resolve("/nonexistent/python3").unwrap_err().to_string();
        assert!(err.contains("no such interpreter"), "{err}");
    }

    #[test]
    fn the_linked_interpreter_resolves_to_itself() {
        let linked = Interpreter::linked();
        assert!(linked.is_linked());
        let by_path = resolve(PYTHON_EXECUTABLE).unwrap();
        assert!(by_path.is_linked(), "{by_path:?}");
        assert_eq!(by_path.tag, linked.tag);
        assert_eq!(resolve(&linked.tag).unwrap(), linked);
    }
}

//! Where each Python client package comes from: a pinned or chosen PyPI version installed on
//! first use into its own cache folder (with the column's interpreter's `pip install --target`,
//! one cache per interpreter, so each gets its own wheel tag: `cp313`, `cp314t`), a local folder
//! (site-packages or a virtualenv), a wheel, or the active `VIRTUAL_ENV`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use thiserror::Error;

use super::interpreter::Interpreter;

/// A Python client distribution aerobench knows how to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    /// Name on PyPI, also the key of `--client-version` / `--client-path`.
    pub pip_name: &'static str,
    pub import_name: &'static str,
    pub default_version: &'static str,
    /// Its compiled extension module inside the package folder, if it has one by that name.
    pub extension: Option<&'static str>,
}

pub const AEROSPIKE_PY: Package = Package {
    pip_name: "aerospike-py",
    import_name: "aerospike_py",
    default_version: "0.14.4",
    extension: Some("_aerospike"),
};
pub const OFFICIAL: Package =
    Package { pip_name: "aerospike", import_name: "aerospike", default_version: "19.3.0", extension: None };
pub const NATIVE: Package = Package {
    pip_name: "aerospike-native",
    import_name: "aerospike_native",
    default_version: "1.0.0",
    extension: None,
};
/// The Python SDK layered on aerospike-native; installing it installs the aerospike-native it
/// pins into the same folder, so its columns run on that build whatever the native columns use.
pub const SDK: Package =
    Package { pip_name: "aerospike-sdk", import_name: "aerospike_sdk", default_version: "1.0.0", extension: None };
pub const UVLOOP: Package =
    Package { pip_name: "uvloop", import_name: "uvloop", default_version: "0.23.0", extension: None };
/// NumPy, for `--materialise numpy` (2.2 has wheels for Python 3.10 to 3.13).
pub const NUMPY: Package =
    Package { pip_name: "numpy", import_name: "numpy", default_version: "2.2.6", extension: None };
/// uvicorn, the ASGI server a column's app runs under in service mode (its `pip install --target`
/// brings its own dependencies, click and h11, into the same folder).
pub const UVICORN: Package =
    Package { pip_name: "uvicorn", import_name: "uvicorn", default_version: "0.54.0", extension: None };
/// httptools, uvicorn's faster HTTP parser, used where it installs for the interpreter (h11 otherwise).
pub const HTTPTOOLS: Package =
    Package { pip_name: "httptools", import_name: "httptools", default_version: "0.9.0", extension: None };
pub const PACKAGES: &[Package] = &[AEROSPIKE_PY, OFFICIAL, NATIVE, SDK, UVLOOP, NUMPY, UVICORN, HTTPTOOLS];

/// Where to take one package from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A version from PyPI, installed into the cache on first use.
    Version(String),
    /// A folder holding the package (site-packages), or a virtualenv.
    Folder(PathBuf),
    /// A wheel file, installed into the cache.
    Wheel(PathBuf),
    /// The virtualenv named by `VIRTUAL_ENV`.
    ActiveVirtualEnv,
}

impl Source {
    /// This source in a column id or label: the version, or the path.
    pub fn tag(&self) -> String {
        match self {
            Source::Version(v) => v.clone(),
            Source::Folder(p) | Source::Wheel(p) => p.display().to_string(),
            Source::ActiveVirtualEnv => "venv".into(),
        }
    }

    /// What aerobench tries for `package`, as a failed column's source says before anything
    /// was resolved.
    pub fn planned(&self, package: &Package) -> String {
        match self {
            Source::Version(v) => format!("PyPI {}=={v} (tried)", package.pip_name),
            Source::Folder(p) => format!("local folder {} (tried)", p.display()),
            Source::Wheel(p) => format!("wheel {} (tried)", p.display()),
            Source::ActiveVirtualEnv => match std::env::var_os("VIRTUAL_ENV") {
                Some(v) => format!("active virtualenv {} (tried)", Path::new(&v).display()),
                None => "active virtualenv (VIRTUAL_ENV is not set)".into(),
            },
        }
    }
}

/// A package ready to import: folders for `sys.path`, and how to describe its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub dir: PathBuf,
    pub origin: String,
}

#[derive(Debug, Error)]
pub enum PackageError {
    #[error(
        "cannot install {package}=={version} into {dir}:\n{detail}\nInstall it yourself with:\n  {command}\n\
         or point aerobench at an existing install with --client-path {package}=FOLDER"
    )]
    Install { package: String, version: String, dir: String, detail: String, command: String },
    #[error("{package}: {path} does not exist")]
    Missing { package: String, path: String },
    #[error("{package}: --client-path {package}=venv needs an active virtualenv, but VIRTUAL_ENV is not set")]
    NoVirtualEnv { package: String },
    #[error("{package}: no site-packages folder under the virtualenv {path}")]
    NoSitePackages { package: String, path: String },
}

/// `~/.cache/aerobench` (or `$AEROBENCH_CACHE_DIR`, or under `$XDG_CACHE_HOME`).
pub fn cache_base() -> PathBuf {
    std::env::var_os("AEROBENCH_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("aerobench")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("aerobench")))
        .unwrap_or_else(|| std::env::temp_dir().join("aerobench-cache"))
}

/// The package cache of `interp`: `~/.cache/aerobench/py3.13`, `…/py3.14t`.
pub fn cache_root_for(interp: &Interpreter) -> PathBuf {
    cache_base().join(format!("py{}", interp.tag))
}

/// Written last into an install folder: the install is complete. Holds the requirement.
pub const COMPLETE_MARKER: &str = ".aerobench-complete";
/// Touched whenever a column uses an install folder, so `cache clean --older-than` sees use.
pub const LAST_USED: &str = ".aerobench-last-used";

/// Written into every interpreter's package cache aerobench creates: the folder is aerobench's,
/// and `cache clean` may remove what is in it.
pub const OWN_MARKER: &str = ".aerobench-cache";

/// Marks `root` (an interpreter's package cache) as aerobench's, creating it if needed. Marking
/// an existing folder adopts an older aerobench's cache of that interpreter.
pub fn mark(root: &Path) -> std::io::Result<()> {
    if root.join(OWN_MARKER).is_file() {
        return Ok(());
    }
    std::fs::create_dir_all(root)?;
    std::fs::write(
        root.join(OWN_MARKER),
        "aerobench's cache of Python client packages for one interpreter; `aerobench cache clean` removes \
         what is in it.\n",
    )
}

/// Marks the package cache of `interp` as aerobench's, so that `cache clean` may remove what is
/// in it (a folder it cannot mark is left unmarked: the install says why if it fails too).
fn mark_cache(interp: &Interpreter) {
    let _ = mark(&cache_root_for(interp));
}

/// Records that a column uses the install in `dir` now.
fn touch(dir: &Path) {
    let _ = std::fs::write(dir.join(LAST_USED), "");
}

/// The first 16 hex digits of the SHA-256 of the file at `path`: a rebuilt wheel with the same
/// content reuses its cache folder, a changed one gets a new folder.
pub fn file_hash(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect())
}

/// The pip command that installs `requirement` into `dir`.
fn pip_command(python: &Path, requirement: &str, dir: &Path) -> Vec<String> {
    vec![
        python.display().to_string(),
        "-m".into(),
        "pip".into(),
        "install".into(),
        "--quiet".into(),
        "--disable-pip-version-check".into(),
        "--no-input".into(),
        "--target".into(),
        dir.display().to_string(),
        requirement.into(),
    ]
}

/// Installs `requirement` into `dir` once: into a sibling temp folder first, renamed when
/// complete, so an interrupted or concurrent install never leaves a half-filled folder.
fn install(package: &Package, version: &str, requirement: &str, dir: &Path, python: &Path) -> Result<(), PackageError> {
    if dir.join(COMPLETE_MARKER).exists() {
        return Ok(());
    }
    let shown = pip_command(python, requirement, dir).join(" ");
    let fail = |detail: String| PackageError::Install {
        package: package.pip_name.into(),
        version: version.into(),
        dir: dir.display().to_string(),
        detail,
        command: shown.clone(),
    };
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let cmd = pip_command(python, requirement, &tmp);
    let output = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(format!("cannot run {}: {e}", python.display())))?;
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let mut detail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
        if stderr.contains("No matching distribution") || stderr.contains("from versions: none") {
            detail.push_str(&format!(
                "\n{requirement} has no wheel (or source) pip can install for {}: pick a version that \
                 publishes one for it (see https://pypi.org/project/{}/#files), or run this client under \
                 another Python (--python)",
                python.display(),
                package.pip_name
            ));
        }
        return Err(fail(if detail.is_empty() { format!("pip exited with {}", output.status) } else { detail }));
    }
    let _ = std::fs::write(tmp.join(COMPLETE_MARKER), requirement);
    if std::fs::rename(&tmp, dir).is_err() {
        // Another process finished first: keep its folder.
        let _ = std::fs::remove_dir_all(&tmp);
        if !dir.join(COMPLETE_MARKER).exists() {
            return Err(fail(format!("cannot move the install into {}", dir.display())));
        }
    }
    Ok(())
}

/// The site-packages folder of a virtualenv, or the folder itself.
fn site_packages(package: &Package, path: &Path, interp: &Interpreter) -> Result<PathBuf, PackageError> {
    if !path.exists() {
        return Err(PackageError::Missing { package: package.pip_name.into(), path: path.display().to_string() });
    }
    if !path.join("pyvenv.cfg").exists() {
        return Ok(path.to_path_buf());
    }
    let preferred = path.join("lib").join(interp.lib_name()).join("site-packages");
    if preferred.is_dir() {
        return Ok(preferred);
    }
    let found = std::fs::read_dir(path.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir());
    found.ok_or_else(|| PackageError::NoSitePackages {
        package: package.pip_name.into(),
        path: path.display().to_string(),
    })
}

/// Makes `package` importable from `source` under `interp`, installing it if needed.
pub fn resolve(package: &Package, source: &Source, interp: &Interpreter) -> Result<Resolved, PackageError> {
    match source {
        Source::Version(v) => {
            mark_cache(interp);
            let dir = cache_root_for(interp).join(format!("{}-{v}", package.pip_name));
            install(package, v, &format!("{}=={v}", package.pip_name), &dir, &interp.executable)?;
            touch(&dir);
            Ok(Resolved { origin: format!("PyPI {}=={v}, installed in {}", package.pip_name, dir.display()), dir })
        }
        Source::Folder(path) => {
            let dir = site_packages(package, path, interp)?;
            Ok(Resolved { origin: format!("local folder {}", dir.display()), dir })
        }
        Source::ActiveVirtualEnv => {
            let venv = std::env::var_os("VIRTUAL_ENV")
                .ok_or_else(|| PackageError::NoVirtualEnv { package: package.pip_name.into() })?;
            let dir = site_packages(package, Path::new(&venv), interp)?;
            Ok(Resolved { origin: format!("active virtualenv {}", dir.display()), dir })
        }
        Source::Wheel(path) => {
            let dir = wheel_dir(path, interp).map_err(|_| PackageError::Missing {
                package: package.pip_name.into(),
                path: path.display().to_string(),
            })?;
            mark_cache(interp);
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            install(package, &stem, &path.display().to_string(), &dir, &interp.executable)?;
            touch(&dir);
            Ok(Resolved { origin: format!("wheel {}, installed in {}", path.display(), dir.display()), dir })
        }
    }
}

/// The cache folder of the wheel at `path`: its name and the hash of its content.
pub fn wheel_dir(path: &Path, interp: &Interpreter) -> std::io::Result<PathBuf> {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(cache_root_for(interp).join("wheels").join(format!("{stem}-{}", file_hash(path)?)))
}

/// The exact command that puts `package` where aerobench looks for it — only for the folders
/// aerobench owns (its cache); empty for a user's folder or virtualenv, where the import failure
/// is explained by [`super::diagnose`] instead.
pub fn install_hint(package: &Package, source: &Source, dir: Option<&Path>, interp: &Interpreter) -> String {
    let requirement = match source {
        Source::Version(v) => format!("{}=={v}", package.pip_name),
        Source::Wheel(w) => w.display().to_string(),
        Source::Folder(_) | Source::ActiveVirtualEnv => return String::new(),
    };
    match dir {
        Some(d) => pip_command(&interp.executable, &requirement, d).join(" "),
        None => format!("{} -m pip install {requirement}", interp.executable.display()),
    }
}

/// Parses the value of `--client-path NAME=…`: `venv`, a `.whl` file, or a folder.
pub fn parse_path_source(value: &str) -> Source {
    if value == "venv" {
        Source::ActiveVirtualEnv
    } else if value.ends_with(".whl") {
        Source::Wheel(PathBuf::from(value))
    } else {
        Source::Folder(PathBuf::from(value))
    }
}

/// Finds the package a `NAME=…` option names.
pub fn by_name(name: &str) -> Option<Package> {
    PACKAGES.iter().copied().find(|p| p.pip_name == name || p.import_name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_sources() {
        assert_eq!(parse_path_source("venv"), Source::ActiveVirtualEnv);
        assert_eq!(parse_path_source("/x/a-1.0-cp311.whl"), Source::Wheel("/x/a-1.0-cp311.whl".into()));
        assert_eq!(parse_path_source("/x/site-packages"), Source::Folder("/x/site-packages".into()));
        assert_eq!(by_name("aerospike_py"), Some(AEROSPIKE_PY));
        assert_eq!(by_name("aerospike"), Some(OFFICIAL));
        assert_eq!(by_name("aerospike-sdk"), Some(SDK));
        assert_eq!(by_name("aerospike_sdk"), Some(SDK));
        assert_eq!(by_name("nope"), None);
    }

    #[test]
    fn folders_and_virtualenvs() {
        let tmp = std::env::temp_dir().join(format!("aerobench-pkg-test-{}", std::process::id()));
        let venv = tmp.join("venv");
        let linked = Interpreter::linked();
        let sp = venv.join("lib").join(linked.lib_name()).join("site-packages");
        std::fs::create_dir_all(&sp).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        assert_eq!(resolve(&AEROSPIKE_PY, &Source::Folder(venv.clone()), &linked).unwrap().dir, sp);
        assert_eq!(resolve(&AEROSPIKE_PY, &Source::Folder(sp.clone()), &linked).unwrap().dir, sp);
        let missing = resolve(&AEROSPIKE_PY, &Source::Folder(tmp.join("nope")), &linked).unwrap_err();
        assert!(missing.to_string().contains("does not exist"), "{missing}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn wheels_are_cached_by_content() {
        let tmp = std::env::temp_dir().join(format!("aerobench-wheel-test-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let (a, b) = (tmp.join("x-1.0-py3-none-any.whl"), tmp.join("y").join("x-1.0-py3-none-any.whl"));
        std::fs::create_dir_all(b.parent().unwrap()).unwrap();
        std::fs::write(&a, "same bytes").unwrap();
        std::fs::write(&b, "same bytes").unwrap();
        let linked = Interpreter::linked();
        // SHA-256("same bytes"), first 8 bytes.
        let first = wheel_dir(&a, &linked).unwrap();
        assert_eq!(
            first.file_name().unwrap().to_string_lossy(),
            format!("x-1.0-py3-none-any-{}", file_hash(&a).unwrap())
        );
        assert_eq!(file_hash(&a).unwrap().len(), 16);
        assert_eq!(wheel_dir(&b, &linked).unwrap(), first, "a rebuilt wheel with the same content reuses the folder");
        std::fs::write(&b, "other bytes").unwrap();
        assert_ne!(wheel_dir(&b, &linked).unwrap(), first);
        assert!(wheel_dir(&tmp.join("missing.whl"), &linked).is_err());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn failed_install_names_package_folder_and_command() {
        let dir = std::env::temp_dir().join(format!("aerobench-pkg-fail-{}", std::process::id()));
        let linked = Interpreter::linked().executable;
        let err = install(&AEROSPIKE_PY, "0.0.0-does-not-exist", "aerospike-py==0.0.0-does-not-exist", &dir, &linked)
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("aerospike-py==0.0.0-does-not-exist"), "{text}");
        assert!(text.contains(&dir.display().to_string()), "{text}");
        assert!(text.contains("-m pip install"), "{text}");
        assert!(!dir.exists());
    }
}

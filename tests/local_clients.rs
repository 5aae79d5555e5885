//! Python clients from a developer's own environment, end to end with the real binary and the
//! built-in server: an editable install (setuptools' PEP 660 finder) in a real virtualenv, a
//! `.pth`-only layout as `maturin develop` leaves it, and the explanation when the compiled
//! extension is missing. The "checkout" is a copy of the pinned aerospike-py package (its
//! compiled extension linked, not copied), so no Rust toolchain for the client is needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::{cache_dir, column, report, scratch};

fn aerobench(args: &[&str], env: &[(&str, &Path)]) -> Output {
    aerobench_as("json", 1, args, env)
}

/// A run with the report in `format`, over `rounds` rounds.
fn aerobench_as(format: &str, rounds: u32, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--builtin-server", "--format", format, "--quiet", "--count", "40", "--warmup", "0"])
        .args(["--rounds", &rounds.to_string(), "--min-phase-calls", "0", "--min-phase-time", "0"])
        .args(args);
    cmd.env("AEROBENCH_CACHE_DIR", cache_dir()).env_remove("VIRTUAL_ENV");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run aerobench")
}

/// The pinned aerospike-py's package folder, installed into the shared cache on first use.
fn pinned_aerospike_py() -> PathBuf {
    let dir = common::python_cache_dir().join("aerospike-py-0.14.4");
    if !dir.join(".aerobench-complete").exists() {
        let out = aerobench(&["--ops", "put", "--clients", "aerospike-py-sync"], &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    dir.join("aerospike_py")
}

/// A source checkout holding `aerospike_py`: the pinned package's Python files, and its
/// compiled extension linked in when `with_extension`.
fn checkout(root: &Path, with_extension: bool) -> PathBuf {
    let pinned = pinned_aerospike_py();
    let package = root.join("aerospike_py");
    std::fs::create_dir_all(&package).unwrap();
    for entry in std::fs::read_dir(&pinned).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".so") {
            if with_extension {
                std::os::unix::fs::symlink(entry.path(), package.join(&name)).unwrap();
            }
        } else if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), package.join(&name)).unwrap();
        }
    }
    package
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A virtualenv's site-packages folder.
fn site_packages(venv: &Path) -> PathBuf {
    venv.join("lib").join("python3.11").join("site-packages")
}

fn assert_ran_from(out: &Output, id: &str, package: &Path) {
    let r = report(out);
    assert!(out.status.success(), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let c = column(&r, id);
    assert!(c["error"].is_null(), "{}", c["error"]);
    assert_eq!(c["client_version"], "0.14.4");
    let source = c["source"].as_str().unwrap();
    assert!(source.ends_with(&format!("(module at {})", package.display())), "{source}");
    let cells: Vec<&Value> = r["cells"].as_array().unwrap().iter().filter(|c| c["column"] == id).collect();
    assert_eq!(cells.len(), 2);
    assert!(cells.iter().all(|c| c["count"] == 40 && c["errors"] == 0), "{cells:?}");
}

#[test]
fn an_editable_install_in_a_virtualenv_is_imported_from_its_checkout() {
    let root = scratch("editable");
    let src = root.join("aerospike-py");
    let package = checkout(&src, true);
    std::fs::write(
        src.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"aerospike-py\"\nversion = \"0.14.4\"\n\n\
         [tool.setuptools]\npackages = [\"aerospike_py\"]\n",
    )
    .unwrap();
    let venv = root.join("venv");
    run(Command::new(common::python_exe()).args(["-m", "venv"]).arg(&venv));
    let pip = |args: &[&str]| {
        let mut cmd = Command::new(venv.join("bin").join("python"));
        cmd.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]).args(args);
        cmd
    };
    // setuptools 65 (what Python 3.11's venv ships) builds editable wheels with `wheel`.
    run(&mut pip(&["wheel"]));
    run(pip(&["--no-build-isolation", "--no-deps", "-e"]).arg(&src));
    let site = site_packages(&venv);
    let finder =
        std::fs::read_dir(&site).unwrap().flatten().any(|e| e.file_name().to_string_lossy().ends_with("_finder.py"));
    assert!(finder, "setuptools made a finder-style editable install in {}", site.display());

    let arg = format!("aerospike-py={}", venv.display());
    let out = aerobench(&["--ops", "put,get", "--clients", "aerospike-py-sync", "--client-path", &arg], &[]);
    assert_ran_from(&out, "aerospike-py-sync", &package);
    let source = column(&report(&out), "aerospike-py-sync")["source"].as_str().unwrap().to_string();
    assert!(source.starts_with(&format!("local folder {}", site.display())), "{source}");

    // The same virtualenv, active.
    let out = aerobench(
        &[
            "--ops",
            "put,get",
            "--clients",
            "aerospike-py-async",
            "--concurrency",
            "4",
            "--client-path",
            "aerospike-py=venv",
        ],
        &[("VIRTUAL_ENV", &venv)],
    );
    assert_ran_from(&out, "aerospike-py-async", &package);
    let source = column(&report(&out), "aerospike-py-async")["source"].as_str().unwrap().to_string();
    assert!(source.starts_with(&format!("active virtualenv {}", site.display())), "{source}");
    let _ = std::fs::remove_dir_all(&root);
}

/// A virtualenv as `maturin develop` leaves it: `aerospike_py.pth` naming the checkout's
/// `python/` folder, and the package's .dist-info.
fn maturin_like_venv(root: &Path, with_extension: bool) -> (PathBuf, PathBuf) {
    let package = checkout(&root.join("aerospike-py").join("python"), with_extension);
    let venv = root.join("venv");
    let site = site_packages(&venv);
    let dist_info = site.join("aerospike_py-0.14.4.dist-info");
    std::fs::create_dir_all(&dist_info).unwrap();
    std::fs::write(dist_info.join("METADATA"), "Metadata-Version: 2.1\nName: aerospike-py\nVersion: 0.14.4\n").unwrap();
    std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    std::fs::write(site.join("aerospike_py.pth"), format!("{}\n", package.parent().unwrap().display())).unwrap();
    (venv, package)
}

#[test]
fn a_pth_layout_like_maturin_develop_is_followed() {
    let root = scratch("maturin-like");
    let (venv, package) = maturin_like_venv(&root, true);
    let out = aerobench(
        &["--ops", "put,get", "--clients", "aerospike-py-sync", "--client-path", "aerospike-py=venv"],
        &[("VIRTUAL_ENV", &venv)],
    );
    assert_ran_from(&out, "aerospike-py-sync", &package);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_missing_extension_module_asks_for_maturin_develop() {
    let root = scratch("no-extension");
    let (venv, package) = maturin_like_venv(&root, false);
    let site = site_packages(&venv);
    let arg = format!("aerospike-py={}", venv.display());
    let out = aerobench(&["--ops", "put", "--clients", "aerospike-py-sync,rust-sync", "--client-path", &arg], &[]);
    assert_eq!(out.status.code(), Some(1), "a failed column makes the run fail");
    let r = report(&out);
    let c = column(&r, "aerospike-py-sync");
    let error = c["error"].as_str().unwrap();
    assert!(error.contains(&format!("cannot import aerospike_py (aerospike-py) from {}", site.display())), "{error}");
    assert!(
        error.contains(&format!(
            "found aerospike-py 0.14.4 in {} (`aerospike_py.pth` → {})",
            site.display(),
            package.display()
        )),
        "{error}"
    );
    assert!(error.contains("`_aerospike*.so` is missing: run `maturin develop` again"), "{error}");
    assert!(!error.contains("--target"), "never install into the user's virtualenv: {error}");
    // The column says what was tried.
    assert!(c["source"].as_str().unwrap().contains(&site.display().to_string()), "{}", c["source"]);
    assert!(column(&r, "rust-sync")["error"].is_null());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn cache_commands_list_and_clean_the_cache() {
    let cache = scratch("cache-commands");
    let root = cache.join(concat!("py", env!("AEROBENCH_PYTHON_VERSION")));
    let install = root.join("aerospike-py-0.12.0");
    std::fs::create_dir_all(install.join("aerospike_py")).unwrap();
    std::fs::write(install.join("aerospike_py").join("__init__.py"), vec![b'#'; 2048]).unwrap();
    std::fs::write(install.join(".aerobench-complete"), "aerospike-py==0.12.0").unwrap();
    // As aerobench marks every interpreter's cache it creates.
    std::fs::write(root.join(".aerobench-cache"), "").unwrap();
    let cache_cmd = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_aerobench"))
            .arg("cache")
            .args(args)
            .env("AEROBENCH_CACHE_DIR", &cache)
            .output()
            .unwrap()
    };
    let text = |out: &Output| String::from_utf8_lossy(&out.stdout).into_owned();

    let out = cache_cmd(&["list"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = text(&out);
    assert!(listed.contains("aerospike-py==0.12.0") && listed.contains(&install.display().to_string()), "{listed}");
    assert!(listed.contains("1 folder(s), 2.") && listed.contains("kB in total"), "{listed}");

    // Just used: not older than a day; a dry run removes nothing.
    let out = cache_cmd(&["clean", "--older-than", "1d"]);
    assert!(text(&out).contains("freed 0 B in 0 folder(s)"), "{}", text(&out));
    let out = cache_cmd(&["clean", "--dry-run"]);
    assert!(text(&out).contains("would remove aerospike-py==0.12.0"), "{}", text(&out));
    assert!(install.is_dir());
    let out = cache_cmd(&["clean"]);
    assert!(out.status.success() && text(&out).contains("removed aerospike-py==0.12.0"), "{}", text(&out));
    assert!(!install.exists());

    let out = cache_cmd(&["clean", "--older-than", "3w"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("e.g. 30d, 12h, 90m"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&cache);
}

/// The version the local copy reports, so its columns cannot be mistaken for the release's.
const LOCAL_VERSION: &str = "0.15.0.dev0";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=aerobench", "-c", "user.email=aerobench@localhost", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A `maturin develop`-like virtualenv whose checkout is a git repository with one commit (its
/// full hash returned) and a version of its own, its extension module built after the commit;
/// with uncommitted changes when `dirty`, and an untracked file (which changes no build).
fn local_build_in_git(root: &Path, dirty: bool) -> (PathBuf, PathBuf, String) {
    let (venv, package) = maturin_like_venv(root, true);
    let site = site_packages(&venv);
    let dist_info = site.join(format!("aerospike_py-{LOCAL_VERSION}.dist-info"));
    std::fs::rename(site.join("aerospike_py-0.14.4.dist-info"), &dist_info).unwrap();
    std::fs::write(
        dist_info.join("METADATA"),
        format!("Metadata-Version: 2.1\nName: aerospike-py\nVersion: {LOCAL_VERSION}\n"),
    )
    .unwrap();
    let checkout = root.join("aerospike-py");
    // As a Rust extension's repository ignores them: the built module and Python's caches.
    std::fs::write(checkout.join(".gitignore"), "*.so\n__pycache__/\n").unwrap();
    git(&checkout, &["init", "-q"]);
    git(&checkout, &["add", "."]);
    git(&checkout, &["commit", "-q", "-m", "a local change"]);
    // Built after the commit, as `maturin develop` run on it would.
    set_extension_modified(&package, std::time::SystemTime::now());
    std::fs::write(checkout.join("scratch.txt"), "an untracked file\n").unwrap();
    if dirty {
        std::fs::write(package.join("types.py"), "# an uncommitted change\n").unwrap();
        let original = std::fs::read(pinned_aerospike_py().join("types.py")).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(package.join("types.py"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, &original))
            .unwrap();
    }
    let commit = git(&checkout, &["rev-parse", "HEAD"]);
    (venv, package, commit)
}

/// Sets when the package's extension module was last written.
fn set_extension_modified(package: &Path, when: std::time::SystemTime) {
    let extension = std::fs::read_dir(package)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("_aerospike.") && [".so", ".pyd", ".dylib"].iter().any(|e| name.ends_with(e))
        })
        .expect("the extension module");
    // A module linked from the package cache is made this build's own copy first: the cached
    // file is shared with other tests.
    if std::fs::symlink_metadata(&extension).unwrap().file_type().is_symlink() {
        let shared = std::fs::read_link(&extension).unwrap();
        std::fs::remove_file(&extension).unwrap();
        std::fs::copy(shared, &extension).unwrap();
    }
    std::fs::File::options().write(true).open(extension).unwrap().set_modified(when).unwrap();
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_local_build_runs_beside_the_release_and_names_its_commit() {
    let root = scratch("local-beside-release");
    let (venv, package, commit) = local_build_in_git(&root, false);
    let out = aerobench_as(
        "json",
        2,
        &[
            "--ops",
            "put,get",
            "--concurrency",
            "4",
            "--clients",
            "aerospike-py-sync,aerospike-py-async",
            "--client-version",
            "aerospike-py=0.14.4",
            "--client-path",
            "aerospike-py=venv",
        ],
        &[("VIRTUAL_ENV", &venv)],
    );
    assert!(out.status.success(), "stderr:\n{}", stderr(&out));
    let r = report(&out);
    common::assert_schema_valid(&r);
    let ids: Vec<&str> = r["columns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "aerospike-py-sync@0.14.4",
            "aerospike-py-sync@local",
            "aerospike-py-async@0.14.4",
            "aerospike-py-async@local"
        ]
    );
    assert_eq!(r["baseline"], "aerospike-py-sync@0.14.4", "the release is the baseline");
    for kind in ["aerospike-py-sync", "aerospike-py-async"] {
        let release = column(&r, &format!("{kind}@0.14.4"));
        assert!(release["error"].is_null(), "{}", release["error"]);
        assert_eq!(release["client_version"], "0.14.4");
        assert!(release["build"].is_null(), "a published version is no local build: {}", release["build"]);

        let id = format!("{kind}@local");
        let local = column(&r, &id);
        assert!(local["error"].is_null(), "{}", local["error"]);
        assert_eq!(local["client_version"], LOCAL_VERSION);
        let build = &local["build"];
        assert_eq!(build["path"], package.display().to_string(), "{build}");
        assert_eq!(build["commit"], commit.as_str(), "{build}");
        assert_eq!(build["dirty"], false, "an untracked file changes no build: {build}");
        assert_eq!(build["built_before_head"], false, "{build}");
        assert!(build["extension"].as_str().unwrap().starts_with(&package.join("_aerospike.").display().to_string()));
        assert!(build["extension_modified"].as_str().unwrap().ends_with('Z'), "{build}");
        let label = local["label"].as_str().unwrap();
        assert!(label.ends_with(&format!(" local {}", &commit[..10])), "{label}");
        // Each build is compared with the release of its own kind, on every operation.
        for op in ["put", "get"] {
            let compared = r["ratios"].as_array().unwrap().iter().any(|x| {
                x["column"] == id.as_str()
                    && x["baseline"] == format!("{kind}@0.14.4").as_str()
                    && x["operation"] == op
                    && x["metric"] == "ops_per_sec"
            });
            assert!(compared, "{id} / {op} is compared with {kind}@0.14.4");
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_dirty_local_build_says_so_in_the_markdown() {
    let root = scratch("local-dirty-markdown");
    let (venv, package, commit) = local_build_in_git(&root, true);
    // Built an hour before the commit: the build predates HEAD, and says so.
    set_extension_modified(&package, std::time::SystemTime::now() - std::time::Duration::from_secs(3600));
    let arg = format!("aerospike-py={}", venv.display());
    let out = aerobench_as(
        "markdown",
        2,
        &[
            "--ops",
            "put",
            "--clients",
            "aerospike-py-sync",
            "--client-path",
            &arg,
            "--client-version",
            "aerospike-py=0.14.4",
        ],
        &[],
    );
    assert!(out.status.success(), "stderr:\n{}", stderr(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    let short = &commit[..10];
    let line = format!(
        "- **Local build**: aerospike-py-sync@local: imported from {}, git {short} with uncommitted changes, extension \
         _aerospike.",
        package.display()
    );
    assert!(md.contains(&line), "{line}\nnot in:\n{md}");
    let stale = format!(", built before HEAD {short} was committed (");
    assert!(md.lines().any(|l| l.starts_with(&line) && l.contains(&stale)), "{stale}\nnot in:\n{md}");
    let verdict = format!("- **Builds**: aerospike-py-sync local build built before HEAD {short}-dirty, ops/s: put ");
    let at = md.find(&verdict).unwrap_or_else(|| panic!("{verdict}\nnot in:\n{md}"));
    let rest = &md[at + verdict.len()..];
    assert!(
        ["than 0.14.4 (", "from 0.14.4 (", "of 0.14.4 (", "from 0.14.4, ", "from 0.14.4 beyond "].iter().any(|w| rest
            .lines()
            .next()
            .unwrap()
            .contains(w)),
        "the verdict names the release: {}",
        rest.lines().next().unwrap()
    );
    assert!(md.contains(&format!("| aerospike-py (Rust) local built before HEAD {short}-dirty | 1 |")), "{md}");
    assert!(md.contains("| ops/s vs aerospike-py (Rust) 0.14.4 |"), "{md}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn two_builds_with_one_name_are_a_usage_error_that_says_how_to_run_both() {
    let root = scratch("build-clash");
    let wheel = root.join("aerospike_py-0.14.4-cp311-cp311-linux_x86_64.whl");
    let venv = root.join("venv");
    for (args, says) in [
        (
            vec![
                "--client-version".to_string(),
                "aerospike-py=0.14.4".into(),
                "--client-path".into(),
                format!("aerospike-py={}", wheel.display()),
            ],
            format!("--client-path aerospike-py@NAME={}", wheel.display()),
        ),
        (
            vec![
                "--client-path".to_string(),
                "aerospike-py=venv".into(),
                "--client-path".into(),
                format!("aerospike-py={}", venv.display()),
            ],
            format!("--client-path aerospike-py@NAME={}", venv.display()),
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = aerobench(&args, &[("VIRTUAL_ENV", &venv)]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("two builds both named") && err.contains(&says), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "nothing measured");
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// aerospike-py 0.14.4's wheel for this interpreter, from PyPI (downloaded once per checkout).
fn released_wheel() -> PathBuf {
    let dir = common::target_dir().join("py-clients").join("wheels");
    let find = || {
        std::fs::read_dir(&dir).ok()?.flatten().map(|e| e.path()).find(|p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("aerospike_py-0.14.4-"))
                && p.extension().is_some_and(|e| e == "whl")
        })
    };
    if let Some(wheel) = find() {
        return wheel;
    }
    run(Command::new(common::python_exe())
        .args(["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"])
        .args(["--only-binary", ":all:", "aerospike-py==0.14.4", "-d"])
        .arg(&dir));
    find().expect("pip downloaded the wheel")
}

#[test]
fn a_wheel_runs_beside_a_published_version() {
    let wheel = released_wheel();
    let arg = format!("aerospike-py={}", wheel.display());
    let out = aerobench_as(
        "json",
        2,
        &[
            "--ops",
            "put,get",
            "--clients",
            "aerospike-py-sync",
            "--client-version",
            "aerospike-py=0.12.0",
            "--client-path",
            &arg,
        ],
        &[],
    );
    assert!(out.status.success(), "stderr:\n{}", stderr(&out));
    let r = report(&out);
    let ids: Vec<&str> = r["columns"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["aerospike-py-sync@0.12.0", "aerospike-py-sync@0.14.4"],
        "the wheel's column is named by its version"
    );
    assert_eq!(r["baseline"], "aerospike-py-sync@0.12.0");
    let from_wheel = column(&r, "aerospike-py-sync@0.14.4");
    assert!(from_wheel["error"].is_null(), "{}", from_wheel["error"]);
    assert_eq!(from_wheel["client_version"], "0.14.4");
    assert!(
        from_wheel["source"].as_str().unwrap().starts_with(&format!("wheel {}", wheel.display())),
        "{}",
        from_wheel["source"]
    );
    assert!(from_wheel["build"].is_null(), "an installed wheel is no local build");
    assert_eq!(column(&r, "aerospike-py-sync@0.12.0")["client_version"], "0.12.0");
}

/// `src` copied to `dst` file by file as hard links (no second copy of the bytes).
fn link_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap().flatten() {
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            link_tree(&from, &to);
        } else if kind.is_file() {
            std::fs::hard_link(&from, &to).unwrap();
        }
    }
}

#[test]
fn cache_clean_removes_only_folders_aerobench_marked_as_its_own() {
    // A cache directory shared with other tools, as with AEROBENCH_CACHE_DIR=~/.cache.
    let cache = scratch("cache-shared");
    let others = [cache.join("pypoetry").join("virtualenvs"), cache.join("pyright").join("stubs")];
    for dir in &others {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("data"), "not aerobench's").unwrap();
        // Untouched for a day, as aerobench's stale temporary folders would be.
        let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
        std::fs::File::open(dir).unwrap().set_modified(day_ago).unwrap();
    }
    // This Python's cache as an aerobench before the marker left it: the pinned aerospike-py
    // installed, no marker.
    let root = cache.join(concat!("py", env!("AEROBENCH_PYTHON_VERSION")));
    let install = root.join("aerospike-py-0.14.4");
    link_tree(pinned_aerospike_py().parent().unwrap(), &install);
    assert!(install.join(".aerobench-complete").is_file());
    let cache_cmd = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
            .arg("cache")
            .args(args)
            .env("AEROBENCH_CACHE_DIR", &cache)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // Unmarked: named with how to remove it by hand, never listed for removal.
    for args in [&["clean", "--dry-run"][..], &["clean"][..], &["list"][..]] {
        let text = cache_cmd(args);
        assert!(!text.contains("pypoetry") && !text.contains("pyright"), "{args:?}: {text}");
        assert!(!text.contains("remove aerospike-py") && !text.contains("removed "), "{args:?}: {text}");
        assert!(text.contains(&format!("left alone: {} holds aerobench installs", root.display())), "{text}");
        assert!(text.contains(&format!("rm -rf {}", root.display())), "{text}");
    }
    assert!(install.join(".aerobench-complete").is_file());

    // A Python column using that interpreter marks its cache as aerobench's.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--builtin-server", "--quiet", "--count", "20", "--warmup", "0", "--ops", "put"])
        .args(["--clients", "aerospike-py-sync", "--min-phase-calls", "0", "--min-phase-time", "0"])
        .env("AEROBENCH_CACHE_DIR", &cache)
        .env_remove("VIRTUAL_ENV");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(root.join(".aerobench-cache").is_file(), "the run did not mark {}", root.display());

    let text = cache_cmd(&["clean", "--dry-run"]);
    assert!(text.contains("would remove aerospike-py==0.14.4"), "{text}");
    assert!(!text.contains("pypoetry") && !text.contains("pyright") && !text.contains("left alone"), "{text}");
    let text = cache_cmd(&["clean"]);
    assert!(text.contains("removed aerospike-py==0.14.4"), "{text}");
    assert!(!install.exists());
    for dir in &others {
        assert_eq!(std::fs::read_to_string(dir.join("data")).unwrap(), "not aerobench's", "{}", dir.display());
    }
    let _ = std::fs::remove_dir_all(&cache);
}

//! What a local build of a Python client is, so that two reports of two builds can be told
//! apart: the folder it was imported from, the git commit of the source tree holding that folder
//! and whether the tree had uncommitted changes to tracked files, when its compiled extension
//! module was written, and whether that was before the commit was made (a build older than the
//! commit it is shown with). Read with `git` when it is installed; without it, or outside a
//! checkout, the commit is simply unknown.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::model::results::LocalBuild;

/// The build imported from `path` (the package folder, or the module file itself), whose
/// extension module is named `extension` (e.g. `_aerospike`).
pub fn inspect(path: &Path, extension: &str) -> LocalBuild {
    let (commit, dirty, committed) = match source_tree(path) {
        Some(top) => {
            let commit = git(&top, &["rev-parse", "HEAD"]);
            // Changes to tracked files only: an untracked scratch file changes no build.
            let status = git(&top, &["status", "--porcelain", "--untracked-files=no"]);
            let dirty = commit.as_ref().and(status).map(|s| !s.is_empty());
            let committed = commit
                .as_ref()
                .and(git(&top, &["log", "-1", "--format=%ct", "HEAD"]))
                .and_then(|secs| secs.parse::<u64>().ok())
                .map(|secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
            (commit, dirty, committed)
        }
        None => (None, None, None),
    };
    let module = extension_module(path, extension);
    let modified = module.as_ref().and_then(|m| std::fs::metadata(m).and_then(|m| m.modified()).ok());
    let rfc3339 = |t: std::time::SystemTime| humantime::format_rfc3339_seconds(t).to_string();
    LocalBuild {
        path: path.display().to_string(),
        commit,
        dirty,
        extension: module.map(|m| m.display().to_string()),
        extension_modified: modified.map(rfc3339),
        commit_time: committed.map(rfc3339),
        // Whole seconds, as git keeps the commit's time: a build in the commit's second is not before it.
        built_before_head: modified.zip(committed).map(|(built, committed)| {
            built.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
                < committed.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
        }),
    }
}

/// The top of the git checkout `path` belongs to, unless git ignores `path` there (a
/// virtualenv inside a project, say: what is installed in it is no part of the project's
/// commit).
fn source_tree(path: &Path) -> Option<PathBuf> {
    let dir = if path.is_dir() { path } else { path.parent()? };
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    let ignored = git_command(dir).args(["check-ignore", "-q"]).arg(dir).status().is_ok_and(|s| s.success());
    (!ignored).then_some(top)
}

fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    // The checkout is the one holding `dir`, whatever the caller's environment points git at.
    for var in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"] {
        cmd.env_remove(var);
    }
    cmd
}

/// `git -C dir args…`'s output, trimmed, when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = git_command(dir).args(args).stdout(Stdio::piped()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The compiled module named `name` (`name.cpython-311-x86_64-linux-gnu.so`, `name.abi3.so`,
/// `name.pyd`…) that `path` is or holds.
fn extension_module(path: &Path, name: &str) -> Option<PathBuf> {
    let is_module = |p: &Path| {
        let file = p.file_name().and_then(|f| f.to_str()).unwrap_or_default();
        file.starts_with(&format!("{name}.")) && [".so", ".pyd", ".dylib"].iter().any(|e| file.ends_with(e))
    };
    if path.is_file() {
        return is_module(path).then(|| path.to_path_buf());
    }
    let mut found: Vec<PathBuf> =
        std::fs::read_dir(path).ok()?.flatten().map(|e| e.path()).filter(|p| is_module(p)).collect();
    found.sort();
    found.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn a_checkout_gives_its_commit_dirtiness_and_extension_time() {
        let root = std::env::temp_dir().join(format!("aerobench-provenance-{}", std::process::id()));
        let package = root.join("python").join("pkg");
        std::fs::create_dir_all(&package).unwrap();
        std::fs::write(package.join("__init__.py"), "").unwrap();
        std::fs::write(package.join("_ext.cpython-311-x86_64-linux-gnu.so"), "").unwrap();
        std::fs::write(package.join("_extra.so"), "").unwrap();
        std::fs::write(root.join(".gitignore"), "*.so\n.venv/\n").unwrap();

        // Not a checkout yet: no commit, but the extension is found.
        let build = inspect(&package, "_ext");
        assert_eq!((build.commit.as_deref(), build.dirty), (None, None));
        assert!(build.extension.as_deref().unwrap().ends_with("_ext.cpython-311-x86_64-linux-gnu.so"));
        let modified = build.extension_modified.unwrap();
        assert!(modified.ends_with('Z') && modified.len() == 20, "{modified}");

        run(&root, &["init", "-q"]);
        run(&root, &["add", "."]);
        run(&root, &["commit", "-q", "-m", "first"]);
        // Built now, after the commit (written just before it, a busy machine can put the two
        // in different seconds, and the build would be older than its commit).
        std::fs::File::options()
            .write(true)
            .open(package.join("_ext.cpython-311-x86_64-linux-gnu.so"))
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .unwrap();
        let build = inspect(&package, "_ext");
        let commit = build.commit.clone().unwrap();
        assert_eq!(commit.len(), 40);
        assert_eq!(build.dirty, Some(false), "the ignored extension is no change");
        assert_eq!(build.short_commit().unwrap(), commit[..10]);
        assert!(build.commit_time.as_deref().is_some_and(|t| t.ends_with('Z')), "{:?}", build.commit_time);

        // An untracked file is no part of the build: still clean.
        std::fs::write(root.join("notes.txt"), "scratch\n").unwrap();
        assert_eq!(inspect(&package, "_ext").dirty, Some(false), "untracked files do not make a build dirty");

        // An extension written an hour before the commit was built from an older tree.
        let extension = std::fs::File::options().write(true).open(package.join("_ext.cpython-311-x86_64-linux-gnu.so"));
        let extension = extension.unwrap();
        let hour = std::time::Duration::from_secs(3600);
        extension.set_modified(std::time::SystemTime::now() - hour).unwrap();
        let stale = inspect(&package, "_ext");
        assert_eq!(stale.built_before_head, Some(true));
        assert_eq!(stale.short_commit().unwrap(), format!("built before HEAD {}", &commit[..10]));
        extension.set_modified(std::time::SystemTime::now() + hour).unwrap();
        assert_eq!(inspect(&package, "_ext").built_before_head, Some(false), "built after the commit");

        std::fs::write(package.join("__init__.py"), "# changed\n").unwrap();
        let build = inspect(&package, "_ext");
        assert_eq!(build.dirty, Some(true));
        assert_eq!(build.short_commit().unwrap(), format!("{}-dirty", &commit[..10]));

        // A virtualenv the checkout ignores is not the checkout's build.
        let venv_package = root.join(".venv").join("pkg");
        std::fs::create_dir_all(&venv_package).unwrap();
        assert_eq!(inspect(&venv_package, "_ext").commit, None);
        assert_eq!(inspect(&venv_package, "_ext").extension, None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}

//! The Kubernetes manifests in `deploy/k8s/` are valid against the Kubernetes API schemas
//! (`kubernetes-validate --strict`, from PyPI, schemas bundled: no network), and wire the
//! completion index to `--shard` and the shards' reports to `aerobench merge`.
//!
//! The checker is looked up in `$AEROBENCH_K8S_VALIDATE_DIR` (a `pip install --target` folder;
//! `.ci/run` installs it there) or `target/k8s-validate`. The project installs it itself, so it
//! is required: without it the test fails and says how to install it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn manifests() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no manifests in {}", dir.display());
    out
}

/// The checker's folder; fails, saying how to install it, when it is not there.
fn checker_dir() -> PathBuf {
    let dir = std::env::var_os("AEROBENCH_K8S_VALIDATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::target_dir().join("k8s-validate"));
    assert!(
        dir.join("kubernetes_validate").is_dir(),
        "kubernetes-validate is not installed in {}: install it with\n  \
         {} -m pip install --target target/k8s-validate kubernetes-validate==1.37.0\n\
         (as .ci/run does), or point AEROBENCH_K8S_VALIDATE_DIR at such a folder",
        dir.display(),
        common::python_exe()
    );
    dir
}

/// `kubernetes-validate --strict` on `files`: (passed, output).
fn validate(dir: &Path, files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(common::python_exe())
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .args(files)
        .env("PYTHONPATH", dir)
        .output()
        .expect("run python -m kubernetes_validate");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn manifests_match_the_kubernetes_schemas() {
    let dir = checker_dir();
    let files = manifests();
    let (ok, output) = validate(&dir, &files);
    assert!(ok, "deploy/k8s manifests do not validate:\n{output}");
    // The checker does fail: a misspelt field in a copy is caught.
    let scratch = common::scratch("k8s");
    let bad = scratch.join("bad.yaml");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("parallelism:"));
    std::fs::write(&bad, text.replacen("parallelism:", "paralelism:", 1)).unwrap();
    let (ok, output) = validate(&dir, &[bad]);
    assert!(!ok && output.contains("paralelism"), "{output}");
}

#[test]
fn the_completion_index_picks_the_shard_and_a_job_merges() {
    let text: String = manifests().iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    assert!(text.contains("completionMode: Indexed"));
    assert!(text.contains(r#"--shard "${JOB_COMPLETION_INDEX}/${SHARDS}""#));
    assert!(text.contains("aerobench merge /results/shard-*.json --output /results/merged.json"));
    let completions = text.split("completions: ").nth(1).and_then(|s| s.lines().next()).unwrap();
    let parallelism = text.split("parallelism: ").nth(1).and_then(|s| s.lines().next()).unwrap();
    assert_eq!(completions, parallelism);
    let shards: Vec<&str> = text.match_indices("name: SHARDS").map(|(i, _)| &text[i..]).collect();
    assert_eq!(shards.len(), 2);
    for s in shards {
        let value = s.lines().nth(1).unwrap().trim();
        assert_eq!(value, format!("value: \"{completions}\""), "SHARDS must equal completions");
    }
    let docker = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile")).unwrap();
    assert!(docker.contains("cargo build --release --locked"));
}

//! Build script: links the embedded Python with an rpath to the libpython pyo3 chose (so the
//! binary runs without LD_LIBRARY_PATH and never picks up another libpython), and records the
//! interpreter and `aerospike` crate versions the report names. Also tells the tests whether
//! this machine has an IPv6 loopback (`cfg(no_ipv6_loopback)`), so a test that needs one is
//! listed as ignored, with the reason, where there is none. Packs aerobench's own source
//! (`source.tar.gz` in `OUT_DIR`, with its hash) so a run can build a worker for another
//! Python interpreter on first use (`src/drivers/embedded/worker_build.rs`).

use std::fs;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    pyo3_build_config::add_libpython_rpath_link_args();
    let config = pyo3_build_config::get();
    let executable = config.executable().map(str::to_string).unwrap_or_else(|| "python3".to_string());
    println!("cargo:rustc-env=AEROBENCH_PYTHON_EXECUTABLE={executable}");
    println!("cargo:rustc-env=AEROBENCH_PYTHON_VERSION={}.{}", config.version().major, config.version().minor);

    let lock = fs::read_to_string("Cargo.lock").unwrap_or_default();
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"aerospike\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_else(|| "3".to_string());
    println!("cargo:rustc-env=AEROSPIKE_CRATE_VERSION={version}");

    let free_threaded = config.is_free_threaded();
    println!("cargo:rustc-env=AEROBENCH_PYTHON_FREE_THREADED={}", if free_threaded { "t" } else { "" });
    pack_source();

    println!("cargo::rustc-check-cfg=cfg(no_ipv6_loopback)");
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("cargo:rustc-cfg=no_ipv6_loopback");
    }

    println!("cargo::rustc-check-cfg=cfg(no_free_threaded_python)");
    println!("cargo:rerun-if-env-changed=AEROBENCH_FREE_THREADED_PYTHON");
    let free_threaded = free_threaded_python();
    if free_threaded.is_none() {
        println!("cargo:rustc-cfg=no_free_threaded_python");
    }
    println!("cargo:rustc-env=AEROBENCH_FREE_THREADED_PYTHON={}", free_threaded.unwrap_or_default());
}

/// A free-threaded CPython with a shared libpython for the tests (py-spy cannot attach to one):
/// `AEROBENCH_FREE_THREADED_PYTHON`, else pyenv's `3.13t`/`3.14t`, else `python3.14t` or
/// `python3.13t` on `PATH`.
fn free_threaded_python() -> Option<String> {
    if let Some(p) = std::env::var_os("AEROBENCH_FREE_THREADED_PYTHON").filter(|p| Path::new(p).is_file()) {
        return Some(p.to_string_lossy().into_owned());
    }
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")));
    let mut found: Vec<std::path::PathBuf> = pyenv
        .and_then(|p| fs::read_dir(p.join("versions")).ok())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let minor = name.strip_suffix('t')?.split('.').take(2).collect::<Vec<_>>().join(".");
            Some(e.path().join("bin").join(format!("python{minor}t")))
        })
        .filter(|p| p.is_file())
        .collect();
    for name in ["python3.14t", "python3.13t"] {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            found.push(dir.join(name));
        }
    }
    found.into_iter().find(|p| p.is_file()).map(|p| p.display().to_string())
}

/// What a worker build needs: the manifest, the lock file, this script and the crate's sources
/// (benches too: the manifest names them).
const PACKED: &[&str] = &["Cargo.toml", "Cargo.lock", "build.rs", "src", "python_shim", "benches"];

/// Writes `OUT_DIR/source.tar.gz` (sorted, without timestamps, so the same source packs the same
/// bytes) and `AEROBENCH_SOURCE_HASH`, the first 16 hex digits of its SHA-256.
fn pack_source() {
    use sha2::Digest as _;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mut files = Vec::new();
    for entry in PACKED {
        println!("cargo:rerun-if-changed={entry}");
        collect(Path::new(entry), &mut files);
    }
    files.sort();
    let mut builder = tar::Builder::new(Vec::new());
    for file in &files {
        let data = fs::read(file).expect("read a source file");
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        builder.append_data(&mut header, file, data.as_slice()).expect("pack a source file");
    }
    let tar = builder.into_inner().expect("pack the source");
    let hash: String = sha2::Sha256::digest(&tar).iter().take(8).map(|b| format!("{b:02x}")).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).expect("compress the source");
    fs::write(out.join("source.tar.gz"), gz.finish().expect("compress the source")).expect("write source.tar.gz");
    println!("cargo:rustc-env=AEROBENCH_SOURCE_HASH={hash}");
}

fn collect(path: &Path, files: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in fs::read_dir(path).into_iter().flatten().flatten() {
            collect(&entry.path(), files);
        }
    } else if path.is_file() {
        files.push(path.to_path_buf());
    }
}

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

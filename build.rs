//! Build script: links the embedded Python with an rpath to the libpython pyo3 chose (so the
//! binary runs without LD_LIBRARY_PATH and never picks up another libpython), and records the
//! interpreter and `aerospike` crate versions the report names. Also tells the tests whether
//! this machine has an IPv6 loopback (`cfg(no_ipv6_loopback)`), so a test that needs one is
//! listed as ignored, with the reason, where there is none.

use std::fs;

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

    println!("cargo::rustc-check-cfg=cfg(no_ipv6_loopback)");
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("cargo:rustc-cfg=no_ipv6_loopback");
    }
}

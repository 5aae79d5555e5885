//! Build script: records the version of the `aerospike` crate this binary links, so reports
//! can name the client version.

use std::fs;

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = fs::read_to_string("Cargo.lock").unwrap_or_default();
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"aerospike\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_else(|| "3".to_string());
    println!("cargo:rustc-env=AEROSPIKE_CRATE_VERSION={version}");
}

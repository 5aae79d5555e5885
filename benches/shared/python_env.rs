//! What the Python cross-check benches share: the interpreter that runs the independent scripts,
//! and the folder where aerobench installed the client packages they import.

use std::path::PathBuf;

/// `$AEROBENCH_PYTHON`, else `$PYO3_PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("AEROBENCH_PYTHON").or_else(|_| std::env::var("PYO3_PYTHON")).unwrap_or_else(|_| "python3".into())
}

/// aerobench's package cache for Python 3.11 (`$AEROBENCH_CACHE_DIR`, else `~/.cache/aerobench`).
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("AEROBENCH_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache").join("aerobench"));
    base.join("py3.11")
}

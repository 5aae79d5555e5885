//! What the Python cross-check benches share: the interpreter that runs the independent scripts,
//! and the folder where aerobench installed the client packages they import.

use std::path::PathBuf;

/// `$AEROBENCH_PYTHON`, else `$PYO3_PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("AEROBENCH_PYTHON").or_else(|_| std::env::var("PYO3_PYTHON")).unwrap_or_else(|_| "python3".into())
}

/// aerobench's package cache for the Python it embeds (`$AEROBENCH_CACHE_DIR`, else
/// `~/.cache/aerobench`, then `py3.X` as the build script found it).
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("AEROBENCH_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache").join("aerobench"));
    base.join(concat!("py", env!("AEROBENCH_PYTHON_VERSION")))
}

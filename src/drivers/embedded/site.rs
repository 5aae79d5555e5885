//! Client folders on the embedded interpreter's `sys.path`, added the way Python's own `site`
//! module adds site-packages: its `.pth` files are processed, so editable installs (a path line,
//! or setuptools' import-hook finder) and `maturin develop` layouts import as they do in that
//! environment. The folders and what their `.pth` files add go first, in order, ahead of every
//! entry the interpreter started with.

use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::PyList;

/// Adds `dirs` (first one first) and their `.pth` entries to the front of `sys.path`.
pub fn add_first(py: Python<'_>, dirs: &[&Path]) -> PyResult<()> {
    let sys = py.import("sys")?;
    let site = py.import("site")?;
    let path = sys.getattr("path")?.cast_into::<PyList>()?;
    let before: Vec<String> = path.extract()?;
    let wanted: Vec<String> = dirs.iter().map(|d| d.to_string_lossy().into_owned()).collect();
    for dir in &wanted {
        site.call_method1("addsitedir", (dir,))?;
    }
    let after: Vec<String> = path.extract()?;
    let mut front = wanted.clone();
    front.extend(after.iter().filter(|p| !before.contains(p) && !wanted.contains(p)).cloned());
    let rest = after.into_iter().filter(|p| !front.contains(p));
    let order: Vec<String> = front.iter().cloned().chain(rest).collect();
    sys.setattr("path", PyList::new(py, order)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pth_entries_follow_their_folder_at_the_front() {
        let tmp = std::env::temp_dir().join(format!("aerobench-site-test-{}", std::process::id()));
        let (site_a, site_b, src) = (tmp.join("a"), tmp.join("b"), tmp.join("src"));
        for d in [&site_a, &site_b, &src] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(site_a.join("pkg.pth"), format!("{}\n", src.display())).unwrap();
        crate::drivers::embedded::initialize();
        let path: Vec<String> = Python::attach(|py| {
            add_first(py, &[&site_a, &site_b]).unwrap();
            py.import("sys").unwrap().getattr("path").unwrap().extract().unwrap()
        });
        let shown = |p: &Path| p.display().to_string();
        assert_eq!(path[..3], [shown(&site_a), shown(&site_b), shown(&src)], "{path:?}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}

//! Why a client package did not import from a folder aerobench does not own (a virtualenv, a
//! site-packages folder, a checkout after `maturin develop`): what was tried, what was found
//! there — the package itself, an editable install (a `.pth` path line or setuptools' finder), a
//! `.dist-info` with its version — and the fix that fits, which is never to install into the
//! user's environment with `pip --target`.

use std::path::{Path, PathBuf};

use super::packages::Package;
use super::{PYTHON_EXECUTABLE, PYTHON_VERSION};

/// Where a package's code was found in a site folder, and how it got there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The package folder (or the extension module's folder for a single-file module).
    pub location: PathBuf,
    /// How the site folder points there: `None` when it holds the package itself.
    pub via: Option<String>,
}

/// The explanation for a failed import of `package` from `site` (`error` is Python's).
pub fn import_failure(package: &Package, site: &Path, error: &str) -> String {
    let name = package.import_name;
    let mut text = format!("cannot import {name} ({}) from {}: {error}\n", package.pip_name, site.display());
    let (version, editable) = dist_info(package, site);
    let what = match (&version, editable) {
        (Some(v), true) => format!("an editable install of {} {v}", package.pip_name),
        (Some(v), false) => format!("{} {v}", package.pip_name),
        (None, _) => name.to_string(),
    };
    let Some(found) = locate(package, site) else {
        let dist = version.map_or(String::new(), |v| format!(" (a {}-{v} .dist-info is there)", name));
        text.push_str(&format!(
            "no {name} in {}{dist}, and no .pth file there names a folder that holds it.\n\
             Install it into that environment (e.g. `maturin develop` in your aerospike-py checkout with the \
             virtualenv active, or that environment's own `python -m pip install {}`), or let aerobench \
             install a published version with --client-version {}=VERSION",
            site.display(),
            package.pip_name,
            package.pip_name
        ));
        return text;
    };
    let via = found.via.as_ref().map_or(String::new(), |v| format!(" ({v} → {})", found.location.display()));
    let at = format!("found {what} in {}{via}", site.display());
    let extension =
        package.extension.map_or("its compiled extension module (*.so)".to_string(), |e| format!("`{e}*.so`"));
    let tag = format!("cpython-{}", PYTHON_VERSION.replace('.', ""));
    let compiled = compiled_modules(&found.location, package);
    if compiled.is_empty() && package.extension.is_some() {
        text.push_str(&format!(
            "{at} whose extension module {extension} is missing: run `maturin develop` again in that checkout \
             (with the virtualenv active), then run aerobench again"
        ));
    } else if !compiled.is_empty() && !compiled.iter().any(|m| m.contains(&tag) || m.contains(".abi3.")) {
        let built: Vec<String> = compiled.iter().filter_map(|m| python_tag(m)).collect();
        text.push_str(&format!(
            "{at} built for another Python ({}), but aerobench embeds Python {PYTHON_VERSION} ({PYTHON_EXECUTABLE}): \
             rebuild it with that interpreter (e.g. `maturin develop` in a virtualenv made with it)",
            if built.is_empty() { compiled.join(", ") } else { built.join(", ") }
        ));
    } else {
        text.push_str(&format!(
            "{at}, with {extension} present: the error above comes from the package itself; check that it \
             imports in that environment (`python -c 'import {name}'`)"
        ));
    }
    text
}

/// The version from `<name>-<version>.dist-info`, and whether pip marked it editable.
fn dist_info(package: &Package, site: &Path) -> (Option<String>, bool) {
    let prefix = format!("{}-", package.import_name);
    for entry in std::fs::read_dir(site).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(version) = file.strip_prefix(&prefix).and_then(|r| r.strip_suffix(".dist-info")) {
            let direct = std::fs::read_to_string(entry.path().join("direct_url.json")).unwrap_or_default();
            let editable = direct.replace(' ', "").contains("\"editable\":true");
            return (Some(version.to_string()), editable);
        }
    }
    (None, false)
}

/// Where the package is: in `site` itself, or where one of its `.pth` files points.
pub fn locate(package: &Package, site: &Path) -> Option<Found> {
    if let Some(location) = holds(package, site) {
        return Some(Found { location, via: None });
    }
    let mut pth: Vec<PathBuf> = std::fs::read_dir(site)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pth"))
        .collect();
    pth.sort();
    for file in pth {
        let shown = format!("`{}`", file.file_name().unwrap_or_default().to_string_lossy());
        for line in std::fs::read_to_string(&file).unwrap_or_default().lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with("import ") {
                // setuptools' editable finder: `import __editable___x_finder; ….install()`.
                let module = line.trim_start_matches("import ").split(';').next().unwrap_or_default().trim();
                if let Some(location) = finder_mapping(&site.join(format!("{module}.py")), package.import_name) {
                    return Some(Found { location, via: Some(format!("{shown} and {module}.py")) });
                }
                continue;
            }
            let dir = site.join(line);
            if let Some(location) = holds(package, &dir) {
                return Some(Found { location, via: Some(shown) });
            }
        }
    }
    None
}

/// The package folder or single-file module for `package` directly in `dir`.
fn holds(package: &Package, dir: &Path) -> Option<PathBuf> {
    let folder = dir.join(package.import_name);
    if folder.is_dir() {
        return Some(folder);
    }
    let single = format!("{}.", package.import_name);
    let file = std::fs::read_dir(dir).ok()?.flatten().any(|e| {
        let n = e.file_name().to_string_lossy().into_owned();
        n.starts_with(&single) && (n.ends_with(".so") || n.ends_with(".py") || n.ends_with(".pyd"))
    });
    file.then(|| dir.to_path_buf())
}

/// The folder setuptools' editable finder maps `name` to: `MAPPING = {'name': '/path', …}`.
fn finder_mapping(finder: &Path, name: &str) -> Option<PathBuf> {
    let source = std::fs::read_to_string(finder).ok()?;
    let line = source.lines().find(|l| l.starts_with("MAPPING"))?;
    let after = line.split(&format!("'{name}': '")).nth(1)?;
    Some(PathBuf::from(after.split('\'').next()?))
}

/// Compiled modules of the package found at `location`.
fn compiled_modules(location: &Path, package: &Package) -> Vec<String> {
    let is_folder = location.ends_with(package.import_name);
    let mut out: Vec<String> = std::fs::read_dir(location)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".so") || n.ends_with(".pyd"))
        .filter(|n| match (is_folder, package.extension) {
            (true, Some(ext)) => n.starts_with(&format!("{ext}.")),
            (true, None) => true,
            (false, _) => n.starts_with(&format!("{}.", package.import_name)),
        })
        .collect();
    out.sort();
    out
}

/// `cpython-312` from `_aerospike.cpython-312-x86_64-linux-gnu.so`.
fn python_tag(module: &str) -> Option<String> {
    let tag = module.split('.').find(|p| p.starts_with("cpython-"))?;
    Some(tag.split('-').take(2).collect::<Vec<_>>().join("-"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::embedded::packages::AEROSPIKE_PY;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aerobench-diagnose-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_pth_checkout_without_its_extension_asks_for_maturin_develop() {
        let root = tmp("pth");
        let (site, src) = (root.join("site-packages"), root.join("checkout").join("python"));
        std::fs::create_dir_all(src.join("aerospike_py")).unwrap();
        std::fs::create_dir_all(site.join("aerospike_py-0.14.4.dist-info")).unwrap();
        std::fs::write(site.join("aerospike_py.pth"), format!("{}\n", src.display())).unwrap();
        let text = import_failure(&AEROSPIKE_PY, &site, "ImportError: no _aerospike");
        assert!(text.contains("found aerospike-py 0.14.4 in"), "{text}");
        assert!(text.contains(&format!("(`aerospike_py.pth` → {})", src.join("aerospike_py").display())), "{text}");
        assert!(text.contains("`_aerospike*.so` is missing: run `maturin develop` again"), "{text}");
        assert!(!text.contains("--target"), "{text}");

        std::fs::write(src.join("aerospike_py").join("_aerospike.cpython-312-x86_64-linux-gnu.so"), "").unwrap();
        let text = import_failure(&AEROSPIKE_PY, &site, "ImportError");
        assert!(text.contains("built for another Python (cpython-312)"), "{text}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_empty_folder_says_nothing_names_the_package() {
        let site = tmp("empty");
        let text = import_failure(&AEROSPIKE_PY, &site, "ModuleNotFoundError");
        assert!(text.contains(&format!("no aerospike_py in {}", site.display())), "{text}");
        assert!(text.contains("no .pth file"), "{text}");
        assert!(!text.contains("--target"), "{text}");
        std::fs::remove_dir_all(&site).unwrap();
    }

    #[test]
    fn setuptools_editable_finders_are_followed() {
        let site = tmp("finder");
        let pkg = site.join("elsewhere").join("aerospike_py");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(
            site.join("__editable__.aerospike_py-1.0.pth"),
            "import __editable___f; __editable___f.install()",
        )
        .unwrap();
        std::fs::write(site.join("__editable___f.py"), format!("MAPPING = {{'aerospike_py': '{}'}}\n", pkg.display()))
            .unwrap();
        let found = locate(&AEROSPIKE_PY, &site).unwrap();
        assert_eq!(found.location, pkg);
        assert!(found.via.unwrap().contains("__editable___f.py"));
        std::fs::remove_dir_all(&site).unwrap();
    }
}

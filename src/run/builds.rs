//! The builds of one Python client that run side by side, each its own column: published
//! versions (`--client-version`), wheels and local folders or virtualenvs (`--client-path`). Each
//! build has the tag its column id ends in: the version (`aerospike-py-sync@0.14.4`, a wheel's
//! too), `local` for a folder, or the name given with `--client-path PACKAGE@NAME=PATH`. Two builds
//! of one package with the same tag are a clash, refused before anything runs: aerobench never
//! picks one of them silently.

use thiserror::Error;

use crate::drivers::embedded::packages::{self, Package, Source};

/// The tag of a local folder or virtualenv given without a name.
pub use crate::model::column_id::LOCAL;

/// One build of a package, as planned.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    /// What its column id ends in, after `@`.
    pub tag: String,
    pub source: Source,
    /// The option that gave it, as typed: `--client-version aerospike-py=0.14.4`.
    pub given_as: String,
}

/// Two builds of one package that would carry the same column id.
#[derive(Debug, Error, PartialEq)]
#[error(
    "{package}: `{first}` and `{second}` are two builds both named {tag:?} (their columns would both end in \
     @{tag}), and aerobench will not pick one silently. To run both side by side, give the second its own name: \
     --client-path {package}@NAME={path} (its columns then end in @NAME); to run one, leave the other out"
)]
pub struct Clash {
    pub package: String,
    pub tag: String,
    pub first: String,
    pub second: String,
    /// The path of the build to name (always a `--client-path` one: versions are never repeated).
    pub path: String,
}

/// The tag of a build given without a name: the version, a wheel's version (from its file
/// name), or [`LOCAL`].
pub fn tag_of(source: &Source) -> String {
    match source {
        Source::Version(v) => v.clone(),
        Source::Wheel(p) => p
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.split('-').nth(1))
            .filter(|v| valid_name(v))
            .map_or_else(|| "wheel".to_string(), str::to_string),
        Source::Folder(_) | Source::ActiveVirtualEnv => LOCAL.to_string(),
    }
}

/// A build name that reads well in a column id: letters, digits and `.-_+`, at most 40.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 40 && name.chars().all(|c| c.is_ascii_alphanumeric() || ".-_+".contains(c))
}

/// Parses one `--client-path` value, `PACKAGE[@NAME]=PATH`: the package, the build (tagged with
/// its name when given) and where it comes from.
pub fn parse_client_path(value: &str) -> anyhow::Result<(Package, Build)> {
    const OPT: &str = "--client-path";
    let (name, path) = value.split_once('=').filter(|(_, r)| !r.trim().is_empty()).ok_or_else(|| {
        anyhow::anyhow!("{OPT} takes PACKAGE=PATH or PACKAGE@NAME=PATH, e.g. {OPT} aerospike-py=./.venv; got {value:?}")
    })?;
    let (package_name, build_name) = match name.split_once('@') {
        Some((p, b)) => (p.trim(), Some(b.trim())),
        None => (name.trim(), None),
    };
    let package = packages::by_name(package_name).ok_or_else(|| {
        let names: Vec<&str> = packages::PACKAGES.iter().map(|p| p.pip_name).collect();
        anyhow::anyhow!("{OPT}: unknown package {package_name:?}; known packages: {}", names.join(", "))
    })?;
    let source = packages::parse_path_source(path.trim());
    let tag = match build_name {
        Some(b) if valid_name(b) => b.to_string(),
        Some(b) => anyhow::bail!(
            "{OPT} {value:?}: {b:?} is not a build name; use letters, digits and . - _ + (at most 40), e.g. \
             {OPT} {}@mine={}",
            package.pip_name,
            path.trim()
        ),
        None => tag_of(&source),
    };
    Ok((package, Build { tag, source, given_as: format!("{OPT} {}", value.trim()) }))
}

/// The builds of `package` that run: the published `versions` first, in the order given (the
/// first of them is what the others are compared with), then the `paths`. A build whose tag
/// another one already has is a [`Clash`].
pub fn combine(package: &Package, versions: &[String], paths: Vec<Build>) -> Result<Vec<Build>, Clash> {
    let mut out: Vec<Build> = versions
        .iter()
        .map(|v| Build {
            tag: v.clone(),
            source: Source::Version(v.clone()),
            given_as: format!("--client-version {}={v}", package.pip_name),
        })
        .collect();
    for build in paths {
        if let Some(first) = out.iter().find(|b| b.tag == build.tag) {
            let path = match &build.source {
                Source::ActiveVirtualEnv => "venv".to_string(),
                other => other.tag(),
            };
            return Err(Clash {
                package: package.pip_name.to_string(),
                tag: build.tag,
                first: first.given_as.clone(),
                second: build.given_as,
                path,
            });
        }
        out.push(build);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::embedded::packages::AEROSPIKE_PY;

    #[test]
    fn tags_are_versions_or_local() {
        assert_eq!(tag_of(&Source::Version("0.14.4".into())), "0.14.4");
        assert_eq!(
            tag_of(&Source::Wheel("/d/aerospike_py-0.15.0.dev1-cp311-cp311-linux_x86_64.whl".into())),
            "0.15.0.dev1"
        );
        assert_eq!(tag_of(&Source::Wheel("/d/odd.whl".into())), "wheel");
        assert_eq!(tag_of(&Source::Folder("/x/.venv".into())), "local");
        assert_eq!(tag_of(&Source::ActiveVirtualEnv), "local");
    }

    #[test]
    fn client_paths_take_an_optional_build_name() {
        let (p, b) = parse_client_path("aerospike-py=venv").unwrap();
        assert_eq!((p, b.tag.as_str(), &b.source), (AEROSPIKE_PY, "local", &Source::ActiveVirtualEnv));
        let (_, b) = parse_client_path("aerospike_py@fix-42 = ./.venv").unwrap();
        assert_eq!((b.tag.as_str(), &b.source), ("fix-42", &Source::Folder("./.venv".into())));
        for (bad, says) in [
            ("aerospike-py", "PACKAGE=PATH"),
            ("aerospike-py=", "PACKAGE=PATH"),
            ("java=/x", "unknown package"),
            ("aerospike-py@=/x", "not a build name"),
            ("aerospike-py@a:b=/x", "not a build name"),
        ] {
            let err = parse_client_path(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn versions_come_first_and_equal_tags_clash() {
        let path = |v: &str| parse_client_path(v).unwrap().1;
        let builds = combine(&AEROSPIKE_PY, &["0.14.4".into()], vec![path("aerospike-py=venv")]).unwrap();
        let tags: Vec<&str> = builds.iter().map(|b| b.tag.as_str()).collect();
        assert_eq!(tags, ["0.14.4", "local"]);
        // A wheel of the release's version is the same package given two ways.
        let wheel = "aerospike-py=/d/aerospike_py-0.14.4-cp311-cp311-linux_x86_64.whl";
        let clash = combine(&AEROSPIKE_PY, &["0.14.4".into()], vec![path(wheel)]).unwrap_err();
        assert_eq!(clash.tag, "0.14.4");
        let text = clash.to_string();
        assert!(text.contains("`--client-version aerospike-py=0.14.4` and `--client-path aerospike-py=/d/"), "{text}");
        assert!(text.contains("--client-path aerospike-py@NAME=/d/aerospike_py-0.14.4-cp311"), "{text}");
        // Two local folders: both `local` unless one is named.
        let clash = combine(&AEROSPIKE_PY, &[], vec![path("aerospike-py=venv"), path("aerospike-py=/x")]).unwrap_err();
        assert!(clash.to_string().contains("--client-path aerospike-py@NAME=/x"), "{clash}");
        let named = combine(&AEROSPIKE_PY, &[], vec![path("aerospike-py=venv"), path("aerospike-py@main=/x")]).unwrap();
        assert_eq!(named.iter().map(|b| b.tag.as_str()).collect::<Vec<_>>(), ["local", "main"]);
        // A name may not take a release's.
        assert!(combine(&AEROSPIKE_PY, &["0.14.4".into()], vec![path("aerospike-py@0.14.4=venv")]).is_err());
    }
}

//! From measured phases to conclusions: cells aggregated over rounds, clients compared with
//! intervals and verdicts, two runs compared (the CI gate), load hosts merged, node loss and spread, a cluster that changed under the run, a client's own stage timers.

pub mod aggregate;
pub mod cluster_change;
pub mod compare;
pub mod compare_runs;
pub mod merge;
pub mod node_loss;
pub mod node_spread;
pub mod numbers;
pub mod service;
pub mod stage_histogram;
pub mod stages;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The stages above analysis: it computes on data it is handed, so it neither reaches a
    /// server (drivers) nor renders (report); the run fetches and the report renders.
    const ABOVE: [&str; 2] = ["drivers", "report"];

    /// Whether `rest` begins with the module `name` as a whole path segment.
    fn names(rest: &str, name: &str) -> bool {
        rest.strip_prefix(name).is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    }

    /// The stages above analysis that `source` names through `crate::`, alone or in a group.
    fn reached(source: &str) -> Vec<String> {
        let code: String =
            source.lines().filter(|l| !l.trim_start().starts_with("//")).flat_map(|l| [l, "\n"]).collect();
        let mut found = Vec::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let heads: Vec<&str> = match rest.strip_prefix('{') {
                // `crate::{a, b::c, …}`: each item at the group's top level.
                Some(group) => {
                    let mut depth = 0;
                    let end = group
                        .char_indices()
                        .find(|&(_, c)| {
                            depth += match c {
                                '{' => 1,
                                '}' => -1,
                                _ => 0,
                            };
                            depth < 0
                        })
                        .map_or(group.len(), |(i, _)| i);
                    let mut items = Vec::new();
                    let (mut depth, mut start) = (0, 0);
                    for (i, c) in group[..end].char_indices() {
                        match c {
                            '{' => depth += 1,
                            '}' => depth -= 1,
                            ',' if depth == 0 => {
                                items.push(group[start..i].trim());
                                start = i + 1;
                            }
                            _ => {}
                        }
                    }
                    items.push(group[start..end].trim());
                    items
                }
                None => vec![rest],
            };
            for head in heads {
                found.extend(ABOVE.iter().filter(|name| names(head, name)).map(|name| format!("crate::{name}")));
            }
        }
        found
    }

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn the_check_sees_an_import_alone_grouped_or_nested() {
        // Written in pieces, so that this file does not name what it looks for.
        let crate_ = "crate";
        let (report, drivers) = (format!("{crate_}::report"), format!("{crate_}::drivers"));
        assert_eq!(reached(&format!("use {report}::numbers;")), std::slice::from_ref(&report));
        assert_eq!(reached(&format!("let x = {drivers}::wire_cluster::dial(a);")), [drivers]);
        assert_eq!(
            reached(&format!("use {crate_}::{{\n    model::results::Cell,\n    report::{{live, numbers}},\n}};")),
            [report]
        );
        assert!(reached(&format!("use {crate_}::model::{{report, drivers}};\nuse {crate_}::reports;")).is_empty());
        assert!(reached(&format!("// see {crate_}::report::live")).is_empty());
    }

    #[test]
    fn no_file_of_analysis_reaches_drivers_or_report() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/analysis");
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        files.sort();
        assert!(files.len() > 5, "the analysis files are found under {}", dir.display());
        let offenders: Vec<String> = files
            .iter()
            .flat_map(|path| {
                let source = std::fs::read_to_string(path).unwrap();
                let shown = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path).display().to_string();
                reached(&source).into_iter().map(move |m| format!("{shown} names {m}"))
            })
            .collect();
        assert!(offenders.is_empty(), "analysis computes on data it is handed:\n{}", offenders.join("\n"));
    }
}

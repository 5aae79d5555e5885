//! Records as applications store them (`--record`): a spec that describes the bins of a record,
//! from scalars to nested lists and maps ([`spec`]), the named shapes for the common cases
//! ([`shapes`]), the values every column writes and reads, made from the record index and
//! `--seed` ([`generate`]), their MessagePack form inside list and map bins ([`msgpack`]), and
//! the bytes a record takes, capped before any value is made ([`size`]).

pub mod generate;
pub mod msgpack;
pub mod shapes;
pub mod size;
pub mod spec;

pub use spec::{RecordSpec, ValueSpec};

/// `--record SPEC|NAME`: a named shape or a spec, parsed for clap (a syntax error exits 2 with
/// the message pointing at the error, and so does a record larger than [`size::MAX_RECORD_BYTES`]).
pub fn parse_arg(text: &str) -> Result<RecordSpec, String> {
    let record = match shapes::lookup(text) {
        Some(shape) => RecordSpec::parse(shape.spec).map(|r| r.named(shape.name)).map_err(|e| e.to_string()),
        None => RecordSpec::parse(text).map_err(|e| {
            format!("{e}\n(a named shape is one of: {}; see docs/records.md)", shapes::names().join(", "))
        }),
    }?;
    size::check_record(&crate::workload::spec_bins(&record))?;
    Ok(record)
}

/// `--read-bins N|NAME,…`: the bins get, batch_get and scan ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadBins {
    /// The first N bins of the record.
    First(usize),
    /// These bins, by name.
    Names(Vec<String>),
}

impl ReadBins {
    pub fn parse(text: &str) -> Result<ReadBins, String> {
        let text = text.trim();
        if let Ok(n) = text.parse::<usize>() {
            if n == 0 {
                return Err("--read-bins 0 reads no bin; use exists to ask only whether a record is there".into());
            }
            return Ok(ReadBins::First(n));
        }
        let names: Vec<String> = text.split(',').map(|n| n.trim().to_string()).collect();
        if names.iter().any(String::is_empty) {
            return Err(format!("--read-bins {text:?} has an empty name; give N or names separated by commas"));
        }
        Ok(ReadBins::Names(names))
    }

    /// The bin names asked for, checked against the record's bins (`all`, in order).
    pub fn resolve(&self, all: &[&str]) -> anyhow::Result<Vec<String>> {
        match self {
            ReadBins::First(n) => {
                anyhow::ensure!(
                    *n <= all.len(),
                    "--read-bins {n} asks for more bins than the record's {}; give at most {}",
                    all.len(),
                    all.len()
                );
                Ok(all[..*n].iter().map(|s| s.to_string()).collect())
            }
            ReadBins::Names(names) => {
                for (k, name) in names.iter().enumerate() {
                    anyhow::ensure!(
                        all.contains(&name.as_str()),
                        "--read-bins names {name:?}, which the record has no bin of; its bins are {}",
                        preview(all)
                    );
                    anyhow::ensure!(!names[..k].contains(name), "--read-bins names {name:?} twice");
                }
                Ok(names.clone())
            }
        }
    }
}

fn preview(all: &[&str]) -> String {
    if all.len() <= 12 {
        return all.join(", ");
    }
    format!("{}, … {} (of {})", all[..10].join(", "), all[all.len() - 1], all.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_bins_take_a_count_or_names_and_check_them() {
        let all = ["a", "b", "c"];
        assert_eq!(ReadBins::parse("2").unwrap().resolve(&all).unwrap(), ["a", "b"]);
        assert_eq!(ReadBins::parse("c, a").unwrap().resolve(&all).unwrap(), ["c", "a"]);
        assert!(ReadBins::parse("0").is_err());
        assert!(ReadBins::parse("a,,b").is_err());
        let err = ReadBins::parse("4").unwrap().resolve(&all).unwrap_err().to_string();
        assert!(err.contains("at most 3"), "{err}");
        let err = ReadBins::parse("a,zz").unwrap().resolve(&all).unwrap_err().to_string();
        assert!(err.contains("\"zz\"") && err.contains("a, b, c"), "{err}");
        assert!(ReadBins::parse("a,a").unwrap().resolve(&all).is_err());
    }

    #[test]
    fn named_shapes_and_specs_parse_and_errors_point_at_the_mistake() {
        assert_eq!(parse_arg("feature-vector").unwrap().bins.len(), 64);
        let err = parse_arg("i,s:x").unwrap_err();
        assert!(err.contains('^') && err.contains("feature-vector"), "{err}");
        let err = parse_arg("[100000*[100000*I]]").unwrap_err();
        assert!(err.contains("more than the 8.0 MiB"), "{err}");
    }
}

//! What a column id says beyond its kind: the build it runs, after an `@`
//! (`aerospike-py-sync@0.14.4`, `aerospike-py-sync@local`). Planning writes these ids; the
//! comparisons and the report read them back.

/// The build tag of a local folder or virtualenv given without a name.
pub const LOCAL: &str = "local";

/// Splits a column id into its kind and its build tag: `aerospike-py-sync@0.14.4` gives
/// (`aerospike-py-sync`, `Some("0.14.4")`). Whatever follows the build after a `:` (an
/// interpreter, `:py3.13`) belongs to neither.
pub fn split_build(id: &str) -> (&str, Option<&str>) {
    let (kind, rest) = match id.find(['@', ':']) {
        Some(i) => (&id[..i], &id[i..]),
        None => return (id, None),
    };
    let build = rest.strip_prefix('@').map(|b| b.split(':').next().unwrap_or(b));
    (kind, build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_ids_split_into_kind_and_build() {
        assert_eq!(split_build("aerospike-py-sync"), ("aerospike-py-sync", None));
        assert_eq!(split_build("aerospike-py-sync@0.14.4"), ("aerospike-py-sync", Some("0.14.4")));
        assert_eq!(split_build("aerospike-py-sync@local:py3.13"), ("aerospike-py-sync", Some("local")));
        assert_eq!(split_build("aerospike-py-sync:py3.13"), ("aerospike-py-sync", None));
    }
}

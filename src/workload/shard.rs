//! Splitting one benchmark between load hosts: `--shard INDEX/COUNT` gives this run a key space
//! disjoint from every other shard's (keys `{key_prefix}{index}-{i}`), the workload otherwise
//! unchanged, so N hosts each drive `--count` records of their own and `aerobench merge` adds
//! their histograms into one report.

use crate::model::results::Shard;

/// Parses `INDEX/COUNT` (0-based index below count), e.g. `0/4`, `3/4`.
pub fn parse(text: &str) -> Result<Shard, String> {
    let usage = || format!("{text:?} is not a shard; use INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4");
    let (index, count) = text.trim().split_once('/').ok_or_else(usage)?;
    let index: u32 = index.trim().parse().map_err(|_| usage())?;
    let count: u32 = count.trim().parse().map_err(|_| usage())?;
    if count == 0 || index >= count {
        return Err(usage());
    }
    Ok(Shard { index, count })
}

/// The key prefix shard `shard` writes and reads under, given the user's `prefix`.
pub fn key_prefix(prefix: &str, shard: Option<Shard>) -> String {
    match shard {
        Some(s) => format!("{prefix}{}-", s.index),
        None => prefix.to_string(),
    }
}

/// The prefix given by the user, from the prefix shard `shard` used (inverse of [`key_prefix`]).
pub fn given_prefix(used: &str, shard: Option<Shard>) -> &str {
    match shard {
        Some(s) => used.strip_suffix(&format!("{}-", s.index)).unwrap_or(used),
        None => used,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_index_over_count() {
        assert_eq!(parse("0/2"), Ok(Shard { index: 0, count: 2 }));
        assert_eq!(parse(" 3/4 "), Ok(Shard { index: 3, count: 4 }));
        for bad in ["", "1", "2/2", "0/0", "-1/2", "a/b", "1/2/3"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_never_share_a_key() {
        // Keys are prefix + number: shard 1's "p1-1" can't be shard 11's "p11-", nor unsharded "p11".
        let keys = |shard: Option<Shard>| -> Vec<String> {
            let p = key_prefix("p", shard);
            (0..200).map(|i| format!("{p}{i}")).collect()
        };
        let mut all: Vec<String> = keys(None);
        for index in 0..12 {
            all.extend(keys(Some(Shard { index, count: 12 })));
        }
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
        let s = Some(Shard { index: 11, count: 12 });
        assert_eq!(given_prefix(&key_prefix("ab-", s), s), "ab-");
        assert_eq!(given_prefix("ab-", None), "ab-");
    }
}

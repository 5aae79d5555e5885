//! How many bytes a record takes on the wire, and the caps that refuse a record, or a run, too
//! large to write before anything is generated: each list, map, string and blob of a spec is
//! capped on its own, but their product is not (`[100000*[100000*I]]` is 90 GB a record), so
//! the record as a whole is measured here, with saturating arithmetic, from its spec alone.

use super::spec::{KeySpec, ValueSpec};
use crate::workload::BinSpec;

/// Most bytes one record may encode to: 8 MiB, the largest record an Aerospike server accepts
/// (its `max-record-size` goes no higher).
pub const MAX_RECORD_BYTES: u64 = 8 << 20;

/// Most bytes of records a run may write in all (record size × `--count`): 16 GiB, which the
/// built-in server, holding every record in memory, already needs as much memory for.
pub const MAX_RUN_BYTES: u64 = 16 << 30;

/// Bytes of a put's op for each bin, besides its name and value: size, op, particle type,
/// version and name length.
const OP_HEADER: u64 = 8;

/// Bytes `bins` take in a put: each bin's op header, name and value. Values of lists and maps
/// are their MessagePack, counted at the longest form of each integer; the sum saturates.
pub fn record_bytes(bins: &[BinSpec]) -> u64 {
    bins.iter().fold(0u64, |sum, b| sum.saturating_add(bin_bytes(b)))
}

/// Bytes one bin takes in a put.
pub fn bin_bytes(bin: &BinSpec) -> u64 {
    let value = match bin {
        BinSpec::Int(_) | BinSpec::Double(_) => 8,
        BinSpec::Str(_, n) => u64::from(*n),
        BinSpec::Value(_, v) => particle_bytes(v),
    };
    (OP_HEADER + bin.name().len() as u64).saturating_add(value)
}

/// Bytes of a bin's value as its particle: scalars as themselves, lists and maps as MessagePack.
fn particle_bytes(v: &ValueSpec) -> u64 {
    match v {
        ValueSpec::Int | ValueSpec::Float => 8,
        ValueSpec::Bool => 1,
        ValueSpec::Str(n) | ValueSpec::Bytes(n) => u64::from(*n),
        ValueSpec::List(..) | ValueSpec::Tuple(_) | ValueSpec::Map(..) => msgpack_bytes(v),
    }
}

/// Bytes of `v` as MessagePack inside a list or map (an upper bound for integers).
fn msgpack_bytes(v: &ValueSpec) -> u64 {
    match v {
        ValueSpec::Int | ValueSpec::Float => 9,
        ValueSpec::Bool => 1,
        ValueSpec::Str(n) | ValueSpec::Bytes(n) => raw_bytes(*n),
        ValueSpec::List(n, e) => header(*n).saturating_add(u64::from(*n).saturating_mul(msgpack_bytes(e))),
        ValueSpec::Tuple(es) => es.iter().fold(header(es.len() as u32), |sum, e| sum.saturating_add(msgpack_bytes(e))),
        ValueSpec::Map(n, k, e) => {
            let key = match k {
                KeySpec::Int => 9,
                KeySpec::Str(len) => raw_bytes(*len),
            };
            header(*n).saturating_add(u64::from(*n).saturating_mul(key.saturating_add(msgpack_bytes(e))))
        }
    }
}

/// A MessagePack string of `n` bytes and its particle-type byte, with its header.
fn raw_bytes(n: u32) -> u64 {
    let len = u64::from(n) + 1;
    let header = match len {
        0..32 => 1,
        32..256 => 2,
        256..65_536 => 3,
        _ => 5,
    };
    header + len
}

/// A list or map header for `n` entries.
fn header(n: u32) -> u64 {
    match n {
        0..16 => 1,
        16..65_536 => 3,
        _ => 5,
    }
}

/// Bytes shown to a person: exact, with the nearest binary unit when it helps.
pub fn show(bytes: u64) -> String {
    let exact = group(bytes);
    match bytes {
        u64::MAX => "more than 18 EB".to_string(),
        0..1024 => format!("{exact} bytes"),
        _ => {
            let (value, unit) = [("KiB", 10), ("MiB", 20), ("GiB", 30), ("TiB", 40), ("PiB", 50), ("EiB", 60)]
                .iter()
                .rev()
                .find(|(_, shift)| bytes >> shift > 0)
                .map(|(unit, shift)| (bytes as f64 / (1u64 << shift) as f64, *unit))
                .unwrap_or((bytes as f64, "bytes"));
            format!("{value:.1} {unit} ({exact} bytes)")
        }
    }
}

/// `1234567` as `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Refuses a record over [`MAX_RECORD_BYTES`], naming its size, the cap, its largest bin and
/// what to do.
pub fn check_record(bins: &[BinSpec]) -> Result<u64, String> {
    let bytes = record_bytes(bins);
    if bytes <= MAX_RECORD_BYTES {
        return Ok(bytes);
    }
    let largest = bins.iter().max_by_key(|b| bin_bytes(b)).filter(|_| bins.len() > 1);
    let largest =
        largest.map_or(String::new(), |b| format!(" (the largest bin, {}, takes {})", b.name(), show(bin_bytes(b))));
    Err(format!(
        "a record of these bins takes {} on the wire{largest}, more than the {} a record may take (the largest \
         record an Aerospike server accepts); make its strings, blobs, lists or maps smaller, or give it fewer bins",
        show(bytes),
        show(MAX_RECORD_BYTES)
    ))
}

/// Refuses a run whose records (`record` bytes each, `count` of them) pass [`MAX_RUN_BYTES`].
pub fn check_run(record: u64, count: u64) -> Result<(), String> {
    let total = record.saturating_mul(count);
    if total <= MAX_RUN_BYTES {
        return Ok(());
    }
    Err(format!(
        "{} records of {} each come to {}, more than the {} a run may write; lower --count (at most {} records of \
         this size) or make the record smaller",
        group(count),
        show(record),
        show(total),
        show(MAX_RUN_BYTES),
        group(MAX_RUN_BYTES / record.max(1))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::records::RecordSpec;
    use crate::workload::records::generate;

    fn spec_bins(text: &str) -> Vec<BinSpec> {
        crate::workload::spec_bins(&RecordSpec::parse(text).unwrap())
    }

    #[test]
    fn sizes_are_at_least_what_the_generated_values_encode_to() {
        for text in ["I", "b=S100", "[16*F]", "{20*S8:I}", "[I,S3,BOOL]", "{300*I:[2*B40]}", "x=[70000*I]"] {
            let bins = spec_bins(text);
            let BinSpec::Value(name, v) = &bins[0] else { panic!("{bins:?}") };
            let value = generate::value(v, 1, 1 << 30, 1);
            let mut encoded = Vec::new();
            match &value {
                crate::workload::BinValue::List(_) | crate::workload::BinValue::Map(_) => {
                    crate::workload::records::msgpack::encode(&value, &mut encoded)
                }
                crate::workload::BinValue::Str(s) => encoded.extend_from_slice(s.as_bytes()),
                _ => encoded.resize(8, 0),
            }
            let exact = OP_HEADER + name.len() as u64 + encoded.len() as u64;
            let counted = bin_bytes(&bins[0]);
            assert!(counted >= exact && counted <= exact + exact / 4 + 8, "{text}: counted {counted}, encoded {exact}");
        }
    }

    #[test]
    fn products_of_capped_parts_are_caught_and_never_overflow() {
        let err = check_record(&spec_bins("[100000*[100000*I]]")).unwrap_err();
        assert!(err.contains("83.8 GiB (90,000,") && err.contains("8.0 MiB (8,388,608 bytes)"), "{err}");
        assert!(err.contains("smaller") && !err.contains("largest bin"), "one bin: {err}");
        let err = check_record(&spec_bins("32767*B1048576")).unwrap_err();
        assert!(err.contains("32.0 GiB") && err.contains(", takes 1.0 MiB (1,048,5"), "{err}");
        let deep = format!("{}I{}", "[100000*".repeat(8), "]".repeat(8));
        assert_eq!(record_bytes(&spec_bins(&deep)), u64::MAX);
        assert!(check_record(&spec_bins(&deep)).unwrap_err().contains("more than 18 EB"));
        // The named shapes and a record just under the cap pass.
        assert!(check_record(&spec_bins("blob=B4096")).is_ok());
        assert!(check_record(&spec_bins("7*B1048576")).is_ok());
        assert!(check_record(&spec_bins("9*B1048576")).is_err());
    }

    #[test]
    fn a_run_is_capped_in_total_and_told_how_many_records_fit() {
        assert!(check_run(4096, 1_000_000).is_ok());
        let err = check_run(1 << 20, 100_000).unwrap_err();
        assert!(err.contains("100,000 records of 1.0 MiB") && err.contains("97.7 GiB"), "{err}");
        assert!(err.contains("lower --count (at most 16,384 records"), "{err}");
        assert!(check_run(u64::MAX, u64::MAX).is_err());
    }

    #[test]
    fn bytes_read_well() {
        assert_eq!(show(512), "512 bytes");
        assert_eq!(show(1536), "1.5 KiB (1,536 bytes)");
        assert_eq!(group(1_234_567), "1,234,567");
    }
}

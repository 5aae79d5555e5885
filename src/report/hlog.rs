//! HdrHistogram interval log output (`.hlog`): every cell's latency histogram as one interval
//! tagged `column/operation`, in nanoseconds, V2 deflate encoded, as HdrHistogram's own log tools
//! (HistogramLogProcessor, HdrHistogram.js, the hdrhistogram crate's reader) read them. Each
//! interval starts at the run's start and lasts the cell's measured wall time (the report keeps
//! one histogram per cell, not per round).

use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::engine::stats;
use crate::model::results::RunReport;

use super::Exporter;

pub struct HlogExporter;

/// The tag of a cell: `column/operation`, with anything a tag may not hold (comma, space, line
/// break) replaced by `_`.
pub fn tag(column: &str, operation: &str) -> String {
    format!("{column}/{operation}")
        .chars()
        .map(|c| if matches!(c, ',' | ' ' | '\r' | '\n') { '_' } else { c })
        .collect()
}

impl Exporter for HlogExporter {
    fn render(&self, report: &RunReport) -> String {
        let mut out: Vec<u8> = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        let start = crate::model::timestamp::epoch_secs(&report.started_at).and_then(|s| u64::try_from(s).ok());
        let mut builder = IntervalLogWriterBuilder::new();
        builder
            .add_comment(&format!("aerobench {} latency histograms, one tag per cell", report.aerobench_version))
            .add_comment("values in nanoseconds; the max column in milliseconds")
            .with_max_value_divisor(1e6);
        if let Some(secs) = start {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            builder.with_start_time(t).with_base_time(t);
        }
        let mut log = builder.begin_log_with(&mut out, &mut serializer).expect("writing to memory does not fail");
        for cell in &report.cells {
            let Ok(hist) = stats::decode_histogram(&cell.histogram) else {
                let _ = log.write_comment(&format!("{} {}: no readable histogram", cell.column, cell.operation));
                continue;
            };
            let tag = tag(&cell.column, &cell.operation);
            let wall = Duration::from_secs_f64(cell.wall_secs.max(0.0));
            if let Err(e) = log.write_histogram(&hist, Duration::ZERO, wall, Tag::new(&tag)) {
                let _ = log.write_comment(&format!("{tag}: not written ({e})"));
            }
        }
        drop(log);
        String::from_utf8(out).expect("an interval log is ASCII")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_report;
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    #[test]
    fn every_cell_reads_back_under_its_tag() {
        let report = sample_report();
        let text = HlogExporter.render(&report);
        assert!(text.contains("#[StartTime: "), "{text}");
        let mut seen = 0;
        for entry in IntervalLogIterator::new(text.as_bytes()) {
            let LogEntry::Interval(i) = entry.expect("parses") else { continue };
            let tag = i.tag().expect("tagged").as_str().to_string();
            let (column, operation) = tag.split_once('/').unwrap();
            let cell = report.cell(column, operation).expect("a cell of the report");
            let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, i.encoded_histogram())
                .expect("base64");
            let hist: hdrhistogram::Histogram<u64> = Deserializer::new().deserialize(&mut bytes.as_slice()).unwrap();
            assert_eq!(hist, stats::decode_histogram(&cell.histogram).unwrap());
            assert!((i.duration().as_secs_f64() - cell.wall_secs).abs() < 1e-3);
            seen += 1;
        }
        assert_eq!(seen, report.cells.len());
        assert_eq!(tag("a b", "c,d"), "a_b/c_d");
    }
}

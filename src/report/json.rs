//! JSON output: the `RunReport` exactly as serde writes it, pretty-printed. Its layout is
//! described by `schema.json` at the repository root, which the tests below hold it to.

use crate::model::results::RunReport;

use super::Exporter;

pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn render(&self, report: &RunReport) -> String {
        // Serializing to a String cannot fail for this plain data: no I/O, and every map is
        // keyed by strings.
        let mut out =
            serde_json::to_string_pretty(report).expect("RunReport serializes to JSON (string-keyed maps, no I/O)");
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::test_support::sample_report;

    const SCHEMA: &str = include_str!("../../schema.json");

    fn validator() -> jsonschema::Validator {
        let schema: Value = serde_json::from_str(SCHEMA).expect("schema.json is JSON");
        // Also checks schema.json against the draft 2020-12 meta-schema (bundled, no network).
        jsonschema::draft202012::new(&schema).expect("schema.json is a valid draft 2020-12 schema")
    }

    fn sample_json() -> Value {
        let text = JsonExporter.render(&sample_report());
        serde_json::from_str(&text).expect("exporter writes JSON")
    }

    fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
        validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect()
    }

    #[test]
    fn pretty_with_trailing_newline_and_round_trips() {
        let report = sample_report();
        let text = JsonExporter.render(&report);
        assert!(text.starts_with("{\n  \"schema_version\": 2,"));
        assert!(text.ends_with("}\n"));
        let back: RunReport = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, report);
    }

    #[test]
    fn sample_report_matches_schema() {
        let validator = validator();
        let doc = sample_json();
        assert_eq!(errors(&validator, &doc), Vec::<String>::new());
    }

    #[test]
    fn measured_cell_matches_schema() {
        // A cell built by the stats module, with a real histogram and statistics.
        let mut rec = crate::engine::stats::Recorder::new();
        rec.record_ok(std::time::Duration::from_micros(250));
        rec.record_error(std::time::Duration::ZERO, "timeout");
        let mut report = sample_report();
        report.cells = vec![
            crate::engine::stats::to_cell("py-rust-sync", "get", &rec, std::time::Duration::from_secs(1), false),
            crate::engine::stats::to_cell("py-rust-sync", "scan", &rec, std::time::Duration::ZERO, true),
        ];
        let doc: Value = serde_json::from_str(&JsonExporter.render(&report)).expect("exporter writes JSON");
        assert_eq!(errors(&validator(), &doc), Vec::<String>::new());
    }

    #[test]
    fn a_local_build_matches_schema() {
        let mut report = sample_report();
        report.columns[0].build = Some(Box::new(crate::model::results::LocalBuild {
            path: "/src/aerospike-py/python/aerospike_py".into(),
            commit: Some("3f2a9c1e4b7d5a6b7c8d9e0f1a2b3c4d5e6f7a8b".into()),
            dirty: Some(true),
            extension: Some("/src/aerospike-py/python/aerospike_py/_aerospike.abi3.so".into()),
            extension_modified: Some("2026-12-03T23:10:02Z".into()),
            commit_time: Some("2026-12-04T08:00:00Z".into()),
            built_before_head: Some(true),
        }));
        let text = JsonExporter.render(&report);
        let doc: Value = serde_json::from_str(&text).expect("exporter writes JSON");
        assert_eq!(errors(&validator(), &doc), Vec::<String>::new());
        assert_eq!(serde_json::from_str::<RunReport>(&text).expect("reads back"), report);
        let mut doc = doc;
        doc["columns"][0]["build"]["dirty"] = json!("yes");
        assert!(!validator().is_valid(&doc));
    }

    #[test]
    fn a_service_report_matches_schema_and_round_trips() {
        let report = crate::test_support::sample_service_report();
        let text = JsonExporter.render(&report);
        let doc: Value = serde_json::from_str(&text).expect("exporter writes JSON");
        assert!(doc["service"]["cells"][0]["latency_us"]["p99"].is_number());
        assert_eq!(errors(&validator(), &doc), Vec::<String>::new());
        assert_eq!(serde_json::from_str::<RunReport>(&text).expect("reads back"), report);
    }

    #[test]
    fn a_stages_report_matches_schema_and_round_trips() {
        let report = crate::test_support::sample_stages_report();
        let text = JsonExporter.render(&report);
        let doc: Value = serde_json::from_str(&text).expect("exporter writes JSON");
        assert!(doc["stages"]["tables"][0]["stages"][0]["p50_secs"].is_number());
        assert!(doc["stages"]["comparisons"][0]["stages"][1]["base"].is_null());
        assert_eq!(errors(&validator(), &doc), Vec::<String>::new());
        assert_eq!(serde_json::from_str::<RunReport>(&text).expect("reads back"), report);
        let validator = validator();
        for (pointer, value) in [
            ("/stages/tables/0/stages/0/share", json!(-0.5)),
            ("/stages/tables/0/stages/0/count", json!("many")),
            ("/stages/tables/0/calls", json!(null)),
            ("/stages/comparisons/0/stages/0/p50_ratio", json!("1.5x")),
            ("/stages/notes/0", json!(3)),
        ] {
            let mut doc = doc.clone();
            *doc.pointer_mut(pointer).expect("the sample has it") = value;
            assert!(!validator.is_valid(&doc), "{pointer}");
        }
        let mut doc = doc.clone();
        doc["stages"]["tables"][0]["stages"][0].as_object_mut().expect("an object").remove("p99_secs");
        assert!(!validator.is_valid(&doc), "p99_secs is required");
    }

    #[test]
    fn schema_holds_a_service_report_to_its_fields() {
        let validator = validator();
        let service_json = || {
            let text = JsonExporter.render(&crate::test_support::sample_service_report());
            serde_json::from_str::<Value>(&text).expect("exporter writes JSON")
        };
        for (pointer, value) in [
            ("/service/load", json!("half-open")),
            ("/service/cells/0/requests", json!(-1)),
            ("/service/cells/0/latency_us/p95", json!("fast")),
            ("/service/cells/0/errors_by_reason", json!({"HTTP 500": 1.5})),
            ("/service/verdicts/0/metric", json!("ops_per_sec")),
            ("/service/verdicts/0/verdict", json!("better")),
            ("/service/saturation/0/p99_us", json!(null)),
            ("/service/columns/0/floor", json!("no")),
        ] {
            let mut doc = service_json();
            *doc.pointer_mut(pointer).expect("pointer exists") = value.clone();
            assert!(!validator.is_valid(&doc), "{pointer} = {value} accepted");
        }
        let mut doc = service_json();
        doc["service"]["cells"][0].as_object_mut().expect("a cell is an object").remove("requests_per_sec");
        assert!(!validator.is_valid(&doc));
        let mut doc = service_json();
        doc["service"]["cells"][0]["unexpected"] = json!(1);
        assert!(!validator.is_valid(&doc));
    }

    #[test]
    fn schema_rejects_missing_required_fields() {
        let validator = validator();
        let mut doc = sample_json();
        doc["cells"][0].as_object_mut().expect("cell is an object").remove("ops_per_sec");
        assert!(!validator.is_valid(&doc));

        let mut doc = sample_json();
        doc.as_object_mut().expect("report is an object").remove("server");
        assert!(!validator.is_valid(&doc));

        // Optional values are written as null, never left out.
        let mut doc = sample_json();
        doc["machine"].as_object_mut().expect("machine is an object").remove("hostname");
        assert!(!validator.is_valid(&doc));
    }

    #[test]
    fn schema_rejects_wrong_types_and_unknown_fields() {
        let validator = validator();
        for (pointer, value) in [
            ("/cells/0/count", json!("1000")),
            ("/cells/0/count", json!(-1)),
            ("/cells/0/latency_us/p99", json!(null)),
            ("/server/builtin", json!("yes")),
            ("/columns/0/in_flight", json!(1.5)),
            ("/columns/0/policies/retries", json!(0)),
            ("/schema_version", json!(1)),
            ("/ratios/0/verdict", json!("better")),
            ("/cells/0/rounds/0/ops_per_sec", json!(-1.0)),
        ] {
            let mut doc = sample_json();
            *doc.pointer_mut(pointer).expect("pointer exists") = value.clone();
            assert!(!validator.is_valid(&doc), "{pointer} = {value} accepted");
        }

        let mut doc = sample_json();
        doc["workload"]["unexpected"] = json!(true);
        assert!(!validator.is_valid(&doc));
    }
}

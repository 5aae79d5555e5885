//! End-to-end checks of `--stop settled`, the default: rounds until every ops/s verdict settles
//! on its confidence sequence, per cell, within `--budget` and `--rounds`; and `--stop fixed`,
//! exactly `--rounds` rounds. The columns are the hidden no-op columns, whose calls take a known
//! time (`--stub-delay-us`): one call in flight against eight is a clear difference, the
//! blocking no-op against the async one with one call in flight none worth a verdict.

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::{assert_schema_valid, run_with_timeout};

/// The runs here time calls: one at a time, so one's threads cannot slow the other's calls.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A run of the no-op columns with `extra` options, its JSON report.
fn run(extra: &[&str]) -> Value {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerobench"));
    cmd.args(["--builtin-server", "--warmup", "50", "--format", "json", "--quiet"])
        .args(extra)
        .env_remove("AEROSPIKE_HOST")
        .env_remove("AEROSPIKE_PORT");
    let out = run_with_timeout(cmd, Duration::from_secs(240));
    assert!(out.success(), "{}", out.describe());
    let doc: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.describe()));
    assert_schema_valid(&doc);
    doc
}

/// The ops/s verdict of `column` against the baseline on `op`.
fn verdict<'a>(doc: &'a Value, column: &str, op: &str) -> &'a Value {
    doc["ratios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["column"] == column && r["operation"] == op && r["metric"] == "ops_per_sec")
        .unwrap_or_else(|| panic!("no ops/s verdict of {column} on {op}: {}", doc["ratios"]))
}

fn cell_stops(doc: &Value) -> &Vec<Value> {
    doc["workload"]["stopping"]["cells"].as_array().expect("a settled run lists its cells")
}

#[test]
fn a_clear_difference_settles_in_a_few_rounds_and_stops_being_measured() {
    // One call in flight against eight, 2 ms each: about 8x.
    let doc = run(&[
        "--clients",
        "noop,noop-async",
        "--concurrency",
        "8",
        "--stub-delay-us",
        "2000",
        "--count",
        "200",
        "--ops",
        "get,put",
    ]);
    let stopping = &doc["workload"]["stopping"];
    assert_eq!(stopping["mode"], "settled", "{stopping}");
    assert_eq!(stopping["interval"], "confidence-sequence");
    assert_eq!(stopping["ended"], "settled", "{stopping}");
    assert_eq!(doc["workload"]["rounds"], 30, "the cap");
    let ran = doc["workload"]["rounds_completed"].as_u64().unwrap();
    assert!((3..=8).contains(&ran), "{ran} rounds for an 8x difference");
    for op in ["get", "put"] {
        let v = verdict(&doc, "noop-async", op);
        assert_eq!(v["verdict"], "faster", "{v}");
        // The interval is the confidence sequence's, wider than a t-interval of as many rounds.
        let per_round: Vec<f64> = v["per_round"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        let logs: Vec<f64> = per_round.iter().map(|r| r.ln()).collect();
        let n = logs.len() as f64;
        let mean = logs.iter().sum::<f64>() / n;
        let sd = (logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let half = (v["high"].as_f64().unwrap() / v["speedup"].as_f64().unwrap()).ln();
        // Student's t at 2 degrees of freedom is 4.30; the sequence's factor at 3 rounds 10.3.
        assert!(half > 4.4 * sd / n.sqrt(), "half-width {half} against sd {sd} over {n} rounds");
    }
    for stop in cell_stops(&doc) {
        let after = stop["settled_after_rounds"].as_u64().unwrap_or_else(|| panic!("{stop}"));
        assert!((3..=8).contains(&after), "{stop}");
        // When it settled, on the run's clock of measured rounds: within the time they took.
        let by = stop["settled_after_secs"].as_f64().unwrap_or_else(|| panic!("{stop}"));
        let spent = doc["workload"]["stopping"]["spent_secs"]
            .as_f64()
            .unwrap_or_else(|| panic!("{}", doc["workload"]["stopping"]));
        assert!(by > 0.0 && by <= spent + 1e-9, "{stop} against {spent} s spent");
        assert_eq!(stop["open_at_budget"], false);
        // A cell is measured in no round after it settled.
        let cell = doc["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["column"] == stop["column"] && c["operation"] == stop["operation"])
            .unwrap();
        assert_eq!(cell["rounds"].as_array().unwrap().len() as u64, after, "{stop}");
    }
}

#[test]
fn two_columns_that_make_the_same_calls_get_no_direction() {
    // The blocking and the async no-op, one call in flight each, 5 ms a call: the same ops/s
    // but for the async loop's hand-off (well under 1%).
    let doc = run(&[
        "--clients",
        "noop,noop-async",
        "--concurrency",
        "1",
        "--stub-delay-us",
        "5000",
        "--count",
        "60",
        "--min-phase-calls",
        "0",
        "--min-phase-time",
        "0",
        "--ops",
        "get",
        "--budget",
        "6s",
    ]);
    let v = verdict(&doc, "noop-async", "get");
    let word = v["verdict"].as_str().unwrap();
    assert!(["within_min_effect", "no_clear_difference"].contains(&word), "{v}");
    let stopping = &doc["workload"]["stopping"];
    // Settled within 3%, or still open when the budget ran out: said either way.
    match stopping["ended"].as_str().unwrap() {
        "settled" => assert_eq!(word, "within_min_effect", "{v}"),
        "budget" => assert!(cell_stops(&doc).iter().all(|s| s["open_at_budget"] == true), "{stopping}"),
        other => panic!("ended {other}: {stopping}"),
    }
}

#[test]
fn fixed_rounds_run_exactly_the_rounds_asked_for() {
    let doc = run(&[
        "--clients",
        "noop,noop-async",
        "--concurrency",
        "8",
        "--stub-delay-us",
        "2000",
        "--count",
        "100",
        "--ops",
        "get",
        "--stop",
        "fixed",
        "--rounds",
        "4",
    ]);
    let w = &doc["workload"];
    assert_eq!((w["rounds"].as_u64(), w["rounds_completed"].as_u64()), (Some(4), Some(4)));
    assert_eq!(w["stopping"]["mode"], "fixed");
    assert_eq!(w["stopping"]["interval"], "student-t");
    assert!(w["stopping"].get("cells").is_none(), "{}", w["stopping"]);
    for cell in doc["cells"].as_array().unwrap() {
        assert_eq!(cell["rounds"].as_array().unwrap().len(), 4, "{}", cell["column"]);
    }
    // Student's t: the half-width is t(3) = 3.18 standard errors.
    let v = verdict(&doc, "noop-async", "get");
    let logs: Vec<f64> = v["per_round"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap().ln()).collect();
    let mean = logs.iter().sum::<f64>() / 4.0;
    let sd = (logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
    let half = (v["high"].as_f64().unwrap() / v["speedup"].as_f64().unwrap()).ln();
    assert!((half - 3.182_446 * sd / 2.0).abs() < 1e-6 * (1.0 + half), "{half} against sd {sd}");
}

#[test]
fn a_budget_that_is_no_duration_or_no_use_is_refused() {
    for (args, says) in [
        (&["--budget", "soon"][..], "is not a duration"),
        (&["--budget", "0s"][..], "out of range"),
        (&["--budget", "200ms"][..], "at least 1s"),
        (&["--stop", "fixed", "--budget", "10s"][..], "give --rounds N instead"),
        (&["--rate", "500", "--budget", "10s"][..], "--rate (fixed rounds)"),
        (&["--service", "get-json", "--stop", "settled"][..], "--stop settled cannot run with --service"),
        (&["--stop", "sometimes"][..], "invalid value 'sometimes'"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
            .args(["--clients", "noop"])
            .args(args)
            .output()
            .expect("aerobench runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn the_csv_says_after_how_many_rounds_each_cell_settled() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--builtin-server", "--clients", "noop,noop-async", "--concurrency", "8", "--stub-delay-us", "2000"])
        .args(["--count", "100", "--ops", "get", "--warmup", "50", "--format", "csv", "--quiet"])
        .output()
        .expect("aerobench runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8_lossy(&out.stdout);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no {name}: {header:?}"));
    let (settled, open, rounds) = (at("settled_after_rounds"), at("open_at_budget"), at("rounds"));
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[settled], fields[rounds], "{line}");
        assert_eq!(fields[open], "false", "{line}");
    }
}

#[test]
fn two_settled_runs_compare_though_their_cells_ran_different_rounds() {
    let dir = common::scratch("settle-compare");
    // Each run's cells stop when their verdicts settle, at rounds of their own: the base run's
    // later rounds are not missing from the new run, nor is the new run short of its cap.
    let args = [
        "--clients",
        "noop,noop-async",
        "--concurrency",
        "8",
        "--stub-delay-us",
        "2000",
        "--count",
        "100",
        "--ops",
        "get,put",
    ];
    let mut paths = Vec::new();
    for name in ["base.json", "new.json"] {
        let doc = run(&args);
        assert_eq!(doc["workload"]["stopping"]["mode"], "settled");
        let path = dir.join(name);
        std::fs::write(&path, doc.to_string()).unwrap();
        paths.push(path);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .arg("compare")
        .args(&paths)
        .args(["--fail-if", "ops/s<-50%"])
        .output()
        .expect("aerobench runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("pass the new run completed every round"), "{text}");
    assert_eq!(text.matches("every round of the base run is there").count(), 4, "{text}");
}

//! End to end: `--interval` lines read one by one while the run goes, for a lane in this process
//! (`noop`) and a Python worker lane (`py-noop`): every line matches `schema-live.json`, lines
//! arrive before the run ends, the intervals of each cell add up to the cell in the final report
//! (calls and histogram), and the last line holds the report.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn validator(path: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn histogram(text: &str) -> hdrhistogram::Histogram<u64> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).unwrap();
    hdrhistogram::serialization::Deserializer::new().deserialize(&mut bytes.as_slice()).unwrap()
}

#[test]
fn live_lines_arrive_while_the_run_goes_and_add_up_to_the_report() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["--builtin-server", "--clients", "noop,py-noop", "--ops", "get", "--duration", "700ms"])
        .args(["--rounds", "2", "--warmup", "10", "--stub-delay-us", "500", "--interval", "200ms", "--quiet"])
        .env_remove("AEROSPIKE_HOST")
        .env_remove("AEROSPIKE_PORT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let (line_schema, report_schema) = (validator("schema-live.json"), validator("schema.json"));
    let mut lines: Vec<Value> = Vec::new();
    let mut read_while_running = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let errors: Vec<String> =
            line_schema.iter_errors(&v).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{line}\n{}", errors.join("\n"));
        if v["type"] == "interval" && matches!(child.try_wait(), Ok(None)) {
            read_while_running += 1;
        }
        lines.push(v);
        assert!(started.elapsed() < Duration::from_secs(120), "run too long");
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(read_while_running >= 4, "only {read_while_running} lines came before the run ended");
    let last = lines.pop().unwrap();
    assert_eq!(last["type"], "report");
    let report = &last["report"];
    let errors: Vec<String> = report_schema.iter_errors(report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    for cell in report["cells"].as_array().unwrap() {
        let mine: Vec<&Value> = lines.iter().filter(|l| l["column"] == cell["column"]).collect();
        // 700 ms phases at 200 ms: about 4 lines a round, 2 rounds.
        assert!(mine.len() >= 6, "{}: {} lines", cell["column"], mine.len());
        let ops: u64 = mine.iter().map(|l| l["ops"].as_u64().unwrap()).sum();
        assert_eq!(ops, cell["count"].as_u64().unwrap(), "{}", cell["column"]);
        let mut union = histogram(mine[0]["histogram"].as_str().unwrap());
        for l in &mine[1..] {
            union.add(histogram(l["histogram"].as_str().unwrap())).unwrap();
        }
        assert_eq!(union, histogram(cell["histogram"].as_str().unwrap()), "{}", cell["column"]);
        for l in &mine {
            let p50 = l["p50_us"].as_f64().unwrap();
            assert!((450.0..20_000.0).contains(&p50), "a 500 µs stub: {l}");
            assert!(l["end_secs"].as_f64().unwrap() > l["start_secs"].as_f64().unwrap());
        }
    }
}

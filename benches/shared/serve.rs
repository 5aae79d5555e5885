//! Starts the built-in server for a benchmark: `aerobench serve --port 0 --quiet`, and the port
//! it says it listens on.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

/// Runs `serve --port 0 --quiet` with `command` (the aerobench binary, perhaps behind a CPU
/// pinning wrapper): the server and its port.
pub fn start(mut command: Command) -> (Child, u16) {
    let mut child = command
        .args(["serve", "--port", "0", "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start aerobench serve: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read the listening line");
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from aerobench serve: {line:?}"));
    (child, port)
}

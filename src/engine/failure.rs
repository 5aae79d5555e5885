//! What a failed call says about the server, read from the reason its client gave: the
//! connection was refused, it was lost, the client has no node left, the call timed out, or
//! the server answered with a result code. Every client words these differently (the Rust crate,
//! aerospike-py, the official C client, aerospike-native, the wire floor); this is the one place
//! that knows their wordings. The watchdog ends a phase within about a second when the server is
//! gone, and the report labels failures by what happened.

use std::collections::BTreeMap;

/// What happened to a failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing listens at the server's address any more.
    ConnectionRefused,
    /// The server closed or reset the connection.
    ConnectionLost,
    /// The client has no reachable node for the call (its cluster view is empty).
    NoNodes,
    /// No answer in time.
    Timeout,
    /// The server answered with this result code (or result name, for clients without a code).
    ServerResult(String),
    /// A value read differed from the value written (`--verify`).
    Mismatch,
    /// Still inside the client when the phase stopped because the server was gone or stopped
    /// answering: given up on, its outcome unknown.
    Abandoned,
    /// Anything else the client reported.
    Client,
}

impl Failure {
    /// Reads what happened from a call's `reason` (see `drivers::call_reason`).
    pub fn classify(reason: &str) -> Failure {
        let r = reason.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| r.contains(w));
        if has(&["value mismatch"]) {
            Failure::Mismatch
        } else if reason.starts_with(ABANDONED) {
            Failure::Abandoned
        } else if has(&["refused"]) {
            Failure::ConnectionRefused
        } else if has(&[
            "invalidnode",
            "invalid cluster node",
            "invalid node",
            "no node",
            "failed to connect",
            "unable to communicate with server cluster",
            "clustererror",
            "cluster is empty",
            "connection error",
            "no connection",
        ]) {
            Failure::NoNodes
        } else if has(&["timeout", "timed out"]) {
            Failure::Timeout
        } else if has(&[
            "closed by the server",
            "connection reset",
            "broken pipe",
            "connection aborted",
            "eof",
            "connectionerror",
            "socket write error",
            "socket read error",
        ]) {
            Failure::ConnectionLost
        } else if let Some(code) = result_code(&r).filter(|c| *c >= 0) {
            Failure::ServerResult(code.to_string())
        } else if let Some(name) = reason.strip_prefix("server: ") {
            Failure::ServerResult(name.split_whitespace().next().unwrap_or(name).to_string())
        } else {
            Failure::Client
        }
    }

    /// The short label the report groups failures by.
    pub fn label(&self) -> String {
        match self {
            Failure::ConnectionRefused => "connection refused".into(),
            Failure::ConnectionLost => "connection lost".into(),
            Failure::NoNodes => "no nodes".into(),
            Failure::Timeout => "timeout".into(),
            Failure::ServerResult(code) => format!("server result code {code}"),
            Failure::Mismatch => "value mismatch".into(),
            Failure::Abandoned => "abandoned".into(),
            Failure::Client => "client error".into(),
        }
    }

    /// True when the failure says the server is not there at all: waiting longer will not help.
    pub fn server_gone(&self) -> bool {
        matches!(self, Failure::ConnectionRefused | Failure::ConnectionLost | Failure::NoNodes)
    }
}

/// The reason recorded for a call still inside its client when the phase stopped (the server was
/// gone or stopped answering): the phase ends without waiting for it.
pub const ABANDONED: &str = "abandoned: still inside the client when the phase stopped";

/// Added to the reason of a call its client called a timeout although it came back far sooner
/// than any timeout: the client reached no node for it (the Rust crate reports a refused
/// connection as `Timeout after 1 tries`, aerospike-py a namespace no node has).
pub const NO_CONNECTION: &str = " (long before the timeout: no connection)";

/// The reason to record for a call that failed for `reason` after `latency`: a "timeout" that
/// came back in less than `fast` is marked [`NO_CONNECTION`] after the client's words, so the
/// report says what happened and the watchdog sees the server gone.
pub fn relabel(reason: &str, latency: std::time::Duration, fast: std::time::Duration) -> std::borrow::Cow<'_, str> {
    if latency < fast && Failure::classify(reason) == Failure::Timeout {
        std::borrow::Cow::Owned(format!("{reason}{NO_CONNECTION}"))
    } else {
        std::borrow::Cow::Borrowed(reason)
    }
}

/// `N` in `(code N)`, the form every driver's reason uses for result codes.
fn result_code(reason: &str) -> Option<i64> {
    let start = reason.find("(code ")? + "(code ".len();
    let rest = &reason[start..];
    let end = rest.find(')')?;
    rest[..end].trim().parse().ok()
}

/// Failures counted by label, from counts by reason.
pub fn tally(errors_by_reason: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (reason, &n) in errors_by_reason {
        *out.entry(Failure::classify(reason).label()).or_insert(0) += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clients_wording_is_classified() {
        let cases = [
            ("network: connection refused", Failure::ConnectionRefused),
            (
                "Connection (code -1): Error during an I/O operation: Connection refused (os error 111)",
                Failure::ConnectionRefused,
            ),
            ("network: closed by the server", Failure::ConnectionLost),
            ("InvalidNode (code -3): no node for the key's partition", Failure::NoNodes),
            ("ClusterError: Connection error: Failed to connect to host(s).", Failure::NoNodes),
            ("ConnectionError (code -10): Failed to connect", Failure::NoNodes),
            ("Timeout (code -11): Client Timeout: Timeout after 1 tries", Failure::Timeout),
            ("TimeoutError (code 9): timeout", Failure::Timeout),
            ("timeout", Failure::Timeout),
            ("KeyNotFoundError (code 2): Key not found", Failure::ServerResult("2".into())),
            ("RecordNotFound (code 2)", Failure::ServerResult("2".into())),
            ("server: KeyNotFoundError", Failure::ServerResult("KeyNotFoundError".into())),
            ("ConnectionError (code -10): Socket write error: 111, 127.0.0.1:3000, 39142", Failure::ConnectionLost),
            ("ParamError (code -2): bad bin name", Failure::Client),
            (crate::workload::verify::MISMATCH, Failure::Mismatch),
            ("Mismatch: value mismatch (--verify): a value read differs", Failure::Mismatch),
            ("KeyError", Failure::Client),
            (ABANDONED, Failure::Abandoned),
        ];
        for (reason, want) in cases {
            assert_eq!(Failure::classify(reason), want, "{reason}");
        }
        assert!(Failure::ConnectionRefused.server_gone() && Failure::NoNodes.server_gone());
        assert!(!Failure::Timeout.server_gone() && !Failure::ServerResult("2".into()).server_gone());
    }

    #[test]
    fn a_timeout_faster_than_any_timeout_is_no_connection() {
        use std::time::Duration;
        let fast = Duration::from_millis(100);
        let quick = relabel("Timeout (code -11): Timeout after 1 tries", Duration::from_micros(300), fast);
        assert_eq!(quick, "Timeout (code -11): Timeout after 1 tries (long before the timeout: no connection)");
        assert_eq!(Failure::classify(&quick), Failure::NoNodes);
        assert_eq!(relabel("Timeout (code -11): x", Duration::from_secs(5), fast), "Timeout (code -11): x");
        assert_eq!(relabel("server: KeyNotFoundError", Duration::ZERO, fast), "server: KeyNotFoundError");
    }

    #[test]
    fn tally_groups_reasons_by_label() {
        let reasons = BTreeMap::from([
            ("network: connection refused".to_string(), 5),
            ("Connection (code -1): Connection refused".to_string(), 2),
            ("Timeout (code -11): x".to_string(), 3),
            ("KeyNotFoundError (code 2): y".to_string(), 1),
        ]);
        let t = tally(&reasons);
        assert_eq!(t.get("connection refused"), Some(&7));
        assert_eq!(t.get("timeout"), Some(&3));
        assert_eq!(t.get("server result code 2"), Some(&1));
    }
}

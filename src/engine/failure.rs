//! What a failed call says about the server, read from the reason its client gave: the
//! connection was refused, it was lost, the client has no node left, the call timed out, or
//! the server answered with a result code, or the client itself stopped sending to a node that
//! failed too often (its circuit breaker). Every client words these differently (the Rust crate,
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
    /// The client refused the call itself: the node it was for had failed too often in the
    /// last tend intervals (`max_error_rate`, the clients' circuit breaker). The node may be
    /// gone or only failing; the cluster's other nodes still answer.
    CircuitBreaker,
    /// No answer in time.
    Timeout,
    /// The server answered with this result code (or result name, for clients without a code).
    ServerResult(String),
    /// A value read differed from the value written (`--verify`).
    Mismatch,
    /// Still inside the client when the phase stopped because the server was gone or stopped
    /// answering: given up on, its outcome unknown.
    Abandoned,
    /// The client (at this version) cannot make this operation at all: the phase stops at the
    /// first such call and its cell says "not supported" (see [`NOT_SUPPORTED`]).
    Unsupported,
    /// Anything else the client reported.
    Client,
}

/// How every driver's reason for an operation its client does not have begins: `not supported
/// by <client> <version>: <what is missing>`.
pub const NOT_SUPPORTED: &str = "not supported";

impl Failure {
    /// Reads what happened from a call's `reason` (see `drivers::call_reason`).
    pub fn classify(reason: &str) -> Failure {
        let r = reason.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| r.contains(w));
        if reason.starts_with(NOT_SUPPORTED) {
            Failure::Unsupported
        } else if has(&["value mismatch"]) {
            Failure::Mismatch
        } else if reason.starts_with(ABANDONED) {
            Failure::Abandoned
        } else if has(&["circuit breaker", "max error rate", "max_error_rate", "maxerrorrate"]) {
            // Before "refused" and the no-node wordings: aerospike-py raises it as a ClusterError.
            Failure::CircuitBreaker
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
            Failure::CircuitBreaker => "node circuit breaker".into(),
            Failure::Timeout => "timeout".into(),
            Failure::ServerResult(code) => format!("server result code {code}"),
            Failure::Mismatch => "value mismatch".into(),
            Failure::Abandoned => "abandoned".into(),
            Failure::Unsupported => NOT_SUPPORTED.into(),
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

/// Result codes of a refused login or a connection that has not logged in: invalid user (60),
/// invalid password (62), invalid credential (65), not authenticated (80).
const AUTHENTICATION_CODES: [&str; 4] = ["60", "62", "65", "80"];
/// Result code of a namespace the server does not have.
const NAMESPACE_NOT_FOUND: &str = "20";

/// What failed calls point to, in one line for stderr: the failures by label, most first, and
/// what to do about the cause they name. `server_answers` is whether the server still answered a
/// plain info request afterwards (when it did not, the server is gone whatever the calls said).
/// The hint follows the cause the failures show, never a guess that contradicts it: lost
/// connections do not send the user to check the namespace.
pub fn explain(errors_by_reason: &BTreeMap<String, u64>, server_answers: bool, timeout_ms: u64) -> String {
    let mut labels: Vec<(String, u64)> = tally(errors_by_reason).into_iter().collect();
    labels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let counts: Vec<String> = labels.iter().map(|(l, n)| format!("{l}: {n}")).collect();
    let hint = hint(errors_by_reason.keys().map(String::as_str), server_answers, timeout_ms);
    if counts.is_empty() { hint } else { format!("{} — {hint}", counts.join(", ")) }
}

/// True when a client's message says the server refused its login (or its connection had not
/// logged in): clients then also say they "failed to connect", which must not read as a server
/// that is gone.
pub fn authentication(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    let words = ["invalid credential", "invalidcredential", "not authenticated", "notauthenticated", "invalid user"];
    words.iter().any(|w| r.contains(w))
        || ["invalid password", "invalidpassword"].iter().any(|w| r.contains(w))
        || AUTHENTICATION_CODES.iter().any(|c| r.contains(&format!("(code {c})")) || r.contains(&format!("error {c},")))
}

/// What to do about failures with these `reasons` (see [`explain`]), in one clause.
pub fn hint<'a>(reasons: impl IntoIterator<Item = &'a str>, server_answers: bool, timeout_ms: u64) -> String {
    let reasons: Vec<&str> = reasons.into_iter().collect();
    let failures: Vec<Failure> = reasons.iter().map(|r| Failure::classify(r)).collect();
    let code =
        |codes: &[&str]| failures.iter().any(|f| matches!(f, Failure::ServerResult(c) if codes.contains(&c.as_str())));
    if reasons.iter().any(|r| authentication(r)) || code(&AUTHENTICATION_CODES) {
        return "the server refused the login: check --user and the password in AEROSPIKE_PASSWORD".to_string();
    }
    if !server_answers || failures.iter().any(|f| f.server_gone() || *f == Failure::Abandoned) {
        if failures.contains(&Failure::ConnectionRefused) && server_answers {
            "the server refused connections: check --host and --port, and the server's connection limits".to_string()
        } else if server_answers {
            "the connection to the server was lost, though it answers again: check its log and the network".to_string()
        } else {
            "the server stopped answering: check that it is still running (its log says why it stopped)".to_string()
        }
    } else if failures.contains(&Failure::CircuitBreaker) {
        "a node failed so often that the client stopped sending it calls (its circuit breaker, max_error_rate): \
         check whether a node left the cluster (the report says when the cluster changed)"
            .to_string()
    } else if code(&[NAMESPACE_NOT_FOUND]) {
        "the server has no such namespace: check --namespace".to_string()
    } else if failures.contains(&Failure::Timeout) {
        format!(
            "the server did not answer within --timeout-ms ({timeout_ms} ms): check its load, or raise --timeout-ms"
        )
    } else if failures.iter().any(|f| matches!(f, Failure::ServerResult(_))) {
        "the server refused the writes: its result code says why (check --namespace and --set, and that the server \
         accepts writes)"
            .to_string()
    } else {
        "the client's own message is in the report's errors".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_name_the_cause_the_failures_show() {
        let of = |reasons: &[(&str, u64)]| -> BTreeMap<String, u64> {
            reasons.iter().map(|(r, n)| (r.to_string(), *n)).collect()
        };
        let lost = of(&[("network: closed by the server", 40), (ABANDONED, 24)]);
        let text = explain(&lost, false, 5000);
        assert!(text.starts_with("connection lost: 40, abandoned: 24 — the server stopped answering"), "{text}");
        assert!(!text.contains("--namespace"), "a lost server is not a namespace to check: {text}");
        let refused = of(&[("Connection (code -1): Connection refused (os error 111)", 3)]);
        assert!(explain(&refused, false, 5000).contains("stopped answering"));
        assert!(explain(&refused, true, 5000).contains("refused connections"));
        let login = of(&[("InvalidCredential (code 65): bad", 1)]);
        assert!(explain(&login, true, 5000).contains("--user"));
        // The Rust crate's refused login reads "failed to connect": a login, not a lost server.
        let crate_login = "Error -8: Unable to communicate with server cluster: Failed to connect to [1] host(s):\n  \
                           127.0.0.1:3917 Error 65, node=127.0.0.1:3917: Invalid credential";
        assert!(authentication(crate_login));
        assert!(hint([crate_login], true, 5000).contains("refused the login"));
        assert!(!authentication("Error -8: Failed to connect to [1] host(s): Connection refused (os error 111)"));
        let namespace = of(&[("InvalidNamespace (code 20): Namespace not found", 20)]);
        assert!(explain(&namespace, true, 5000).ends_with("check --namespace"));
        let slow = of(&[("Timeout (code -11): Timeout after 1 tries", 7)]);
        assert!(explain(&slow, true, 1500).contains("within --timeout-ms (1500 ms)"));
        let tripped = of(&[("ClusterError: Node circuit breaker tripped (max_error_rate exceeded) for node A3", 1673)]);
        let text = explain(&tripped, true, 5000);
        assert!(text.starts_with("node circuit breaker: 1673 — a node failed so often"), "{text}");
        let full = of(&[("DeviceOverload (code 18): busy", 2)]);
        assert!(explain(&full, true, 5000).contains("result code says why"));
    }

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
            (
                "ClusterError: Node circuit breaker tripped (max_error_rate exceeded) for node BB9000000000003",
                Failure::CircuitBreaker,
            ),
            ("MaxErrorRate (code -12): Max error rate exceeded for node A3", Failure::CircuitBreaker),
            ("AEROSPIKE_MAX_ERROR_RATE (code -15): Max error rate exceeded", Failure::CircuitBreaker),
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
    fn an_operation_the_client_lacks_is_told_from_a_failed_call() {
        let lacks = "not supported by the wire floor: it does not encode batch writes";
        assert_eq!(Failure::classify(lacks), Failure::Unsupported);
        assert_eq!(Failure::classify("not supported by aerospike-native 1.0.0: no exists"), Failure::Unsupported);
        // A server refusing a feature is a failed call with its result code, not a missing operation.
        let refused = "AerospikeError (code 16): unsupported feature";
        assert_eq!(Failure::classify(refused), Failure::ServerResult("16".into()));
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

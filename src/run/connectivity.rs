//! Why a client cannot connect to a server that aerobench's own probe reached: clients connect
//! to the seed, then to the addresses the server advertises (`service-clear-std`, or with
//! `use_services_alternate` `service-clear-alt`). A server in a container or behind NAT may
//! advertise an address only reachable from inside. This asks the server what it advertises and
//! says what to do.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::time::Duration;

/// Info values the server advertises for clients, in the order they are shown.
const ADVERTISED: [&str; 4] = ["service-clear-std", "service-clear-alt", "services", "services-alternate"];

/// Asks `host:port` for the `names` info values, after the `login` frame when the server
/// requires one; `None` when it does not answer.
fn info(
    host: &str,
    port: u16,
    names: &[&str],
    timeout: Duration,
    login: Option<&[u8]>,
) -> Option<Vec<(String, String)>> {
    let addr = (host, port).to_socket_addrs().ok()?.next()?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    if let Some(frame) = login {
        crate::drivers::wire_login::login(&mut stream, frame).ok()?;
    }
    let request: String = names.iter().map(|n| format!("{n}\n")).collect();
    let mut frame = vec![2u8, 1];
    frame.extend_from_slice(&(request.len() as u64).to_be_bytes()[2..]);
    frame.extend_from_slice(request.as_bytes());
    stream.write_all(&frame).ok()?;
    let mut header = [0u8; 8];
    stream.read_exact(&mut header).ok()?;
    let len = u64::from_be_bytes([0, 0, header[2], header[3], header[4], header[5], header[6], header[7]]);
    if header[..2] != [2, 1] || len > 1 << 20 {
        return None;
    }
    let mut body = vec![0u8; len as usize];
    stream.read_exact(&mut body).ok()?;
    let text = String::from_utf8_lossy(&body);
    Some(
        names
            .iter()
            .filter_map(|n| {
                let value = text.lines().find_map(|l| l.strip_prefix(n).and_then(|r| r.strip_prefix('\t')))?;
                Some((n.to_string(), value.to_string()))
            })
            .collect(),
    )
}

/// What to tell the user when `failed` (column labels) could not connect although the probe
/// reached `host:port`; `None` when the server no longer answers either.
pub fn advice(
    host: &str,
    port: u16,
    failed: &[String],
    alternate: bool,
    credentials: Option<&crate::drivers::security::Credentials>,
) -> Option<String> {
    let login = credentials.map(crate::drivers::wire_login::login_frame).transpose().ok()?;
    let values = info(host, port, &ADVERTISED, Duration::from_secs(1), login.as_deref())?;
    Some(explain(&crate::drivers::probe::address(host, port), failed, &values, alternate))
}

/// The advice text, from what the server advertises.
fn explain(seed: &str, failed: &[String], values: &[(String, String)], alternate: bool) -> String {
    let shown: Vec<String> =
        values.iter().map(|(n, v)| format!("{n}={}", if v.is_empty() { "(none)" } else { v })).collect();
    let value = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or("");
    let (std, alt) = (value("service-clear-std"), value("service-clear-alt"));
    let mut text = format!(
        "{} could not connect although aerobench reached the server at {seed}. After the seed, clients connect \
         to the addresses the server advertises: {}.",
        failed.join(", "),
        if shown.is_empty() { "nothing".to_string() } else { shown.join(", ") }
    );
    let advertised = if alternate { alt } else { std };
    if !advertised.is_empty() && !advertised.split(';').any(|a| a == seed) {
        text.push_str(&format!(
            " The server advertises {advertised}, not {seed}: if that address is not reachable from here (a server \
             in a container or behind NAT), set access-address (or alternate-access-address) in the server's \
             network config to an address clients can reach"
        ));
        if !alternate && !alt.is_empty() && alt != std {
            text.push_str(&format!(", or run with --services-alternate to connect through {alt}"));
        }
        text.push('.');
    } else {
        text.push_str(" Check that this machine can reach every advertised address, and the clients' errors above.");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(std: &str, alt: &str) -> Vec<(String, String)> {
        vec![("service-clear-std".into(), std.into()), ("service-clear-alt".into(), alt.into())]
    }

    #[test]
    fn an_advertised_address_other_than_the_seed_is_named_with_the_fix() {
        let text = explain(
            "10.0.0.5:3000",
            &["aerospike-py (Rust)".into()],
            &values("172.17.0.2:3000", "10.0.0.5:3000"),
            false,
        );
        assert!(text.starts_with("aerospike-py (Rust) could not connect"), "{text}");
        assert!(text.contains("advertises 172.17.0.2:3000, not 10.0.0.5:3000"), "{text}");
        assert!(text.contains("access-address") && text.contains("--services-alternate"), "{text}");
        let same = explain("127.0.0.1:3000", &["x".into()], &values("127.0.0.1:3000", "127.0.0.1:3000"), false);
        assert!(!same.contains("--services-alternate") && same.contains("Check that"), "{same}");
    }

    #[test]
    fn the_built_in_server_is_asked_what_it_advertises() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert!(advice("127.0.0.1", port, &["x".into()], false, None).is_none(), "no server there, no advice");
    }
}

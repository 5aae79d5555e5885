//! Asks a server what it is before anything is measured: reachable at all, its `build` and
//! `edition` (the built-in server names itself there), its node and peers (the cluster's
//! nodes), over one short info request with
//! timeouts, so a wrong address fails fast with a clear message instead of hanging. With
//! `--user` it logs in first, as a secured server answers no info request before a login.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use thiserror::Error;

use crate::model::results::ServerInfo;

/// Edition string of aerobench's own server (kept equal to `server::EDITION`).
pub const BUILTIN_EDITION: &str = crate::server::EDITION;

#[derive(Debug, Error)]
pub enum ProbeError {
    #[error("cannot resolve {addr}: {source}")]
    Resolve { addr: String, source: std::io::Error },
    #[error("cannot reach an Aerospike server at {addr}: {source}")]
    Unreachable { addr: String, source: std::io::Error },
    #[error("the server at {addr} did not answer like an Aerospike server: {why}")]
    NotAerospike { addr: String, why: String },
    #[error("TLS with the server at {addr} (--tls-name {name}) failed: {why}; check --tls-ca and --tls-name")]
    Tls { addr: String, name: String, why: String },
}

/// `host:port` as people and clients write it: an IPv6 address goes in brackets.
pub fn address(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// Sets up the aerospike crate's `policy` to log in and speak TLS as the run asks, and returns
/// the seed it connects to (`host:tls-name:port` under TLS, the crate's form).
pub fn crate_seed(
    policy: &mut aerospike::ClientPolicy,
    host: &str,
    port: u16,
    credentials: Option<&crate::drivers::security::Credentials>,
    tls: Option<&crate::drivers::security::Tls>,
) -> anyhow::Result<String> {
    if let Some(c) = credentials {
        policy.set_auth_mode(aerospike::AuthMode::Internal(c.user.clone(), c.password.expose().to_string()));
    }
    Ok(match tls {
        Some(tls) => {
            policy.tls_policy = Some(aerospike::TlsPolicy::new(crate::drivers::security::client_config(tls)?));
            let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
            format!("{host}:{}:{port}", tls.name)
        }
        None => address(host, port),
    })
}

/// Connects to `host:port` (`host` without brackets), with TLS when `tls` is set, logs in with
/// `credentials` when given, asks `build` and `edition`, and closes.
pub fn probe(
    host: &str,
    port: u16,
    timeout: Duration,
    tls: Option<&crate::drivers::security::Tls>,
    credentials: Option<&crate::drivers::security::Credentials>,
) -> Result<ServerInfo, ProbeError> {
    let login = credentials
        .map(crate::drivers::wire_login::login_frame)
        .transpose()
        .map_err(|e| ProbeError::NotAerospike { addr: address(host, port), why: format!("{e:#}") })?;
    let (stream, addr) = connect(host, port, timeout, tls)?;
    ask(stream, &addr, timeout, login.as_deref())
}

/// A plain or TLS connection to a server.
trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// Connects to `host:port` with the timeouts of [`probe`], TLS when `tls` is set; returns the
/// stream and the address as written.
fn connect(
    host: &str,
    port: u16,
    timeout: Duration,
    tls: Option<&crate::drivers::security::Tls>,
) -> Result<(Box<dyn Stream>, String), ProbeError> {
    let addr = address(host, port);
    let socks: Vec<_> =
        (host, port).to_socket_addrs().map_err(|source| ProbeError::Resolve { addr: addr.clone(), source })?.collect();
    let unreachable = |source| ProbeError::Unreachable { addr: addr.clone(), source };
    // A name may resolve to several addresses (localhost: ::1 and 127.0.0.1); take the first
    // that answers, as the clients do.
    let mut last = std::io::Error::other("the name resolved to no address");
    let mut connected = None;
    for sock in &socks {
        match TcpStream::connect_timeout(sock, timeout) {
            Ok(s) => {
                connected = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let stream = connected.ok_or_else(|| unreachable(last))?;
    stream.set_read_timeout(Some(timeout)).map_err(unreachable)?;
    stream.set_write_timeout(Some(timeout)).map_err(unreachable)?;
    match tls {
        None => Ok((Box::new(stream), addr)),
        Some(tls) => {
            let tls_failed = |why: String| ProbeError::Tls { addr: addr.clone(), name: tls.name.clone(), why };
            let config = crate::drivers::security::client_config(tls).map_err(|e| tls_failed(format!("{e:#}")))?;
            let name = rustls_pki_types::ServerName::try_from(tls.name.clone())
                .map_err(|e| tls_failed(format!("--tls-name is not a valid server name: {e}")))?;
            let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
                .map_err(|e| tls_failed(e.to_string()))?;
            let mut stream = rustls::StreamOwned::new(conn, stream);
            // Finish the handshake here, so that a certificate problem is named as one.
            while stream.conn.is_handshaking() {
                stream.conn.complete_io(&mut stream.sock).map_err(|e| tls_failed(e.to_string()))?;
            }
            Ok((Box::new(stream), addr))
        }
    }
}

/// Asks the server at `host:port` the info `commands` (read-only ones: this reads, never
/// changes, the server), logging in first when `credentials` are given (a server with security
/// refuses info before a login), and returns its `(command, value)` pairs. Every step is bounded
/// by `timeout`.
pub fn info(
    host: &str,
    port: u16,
    timeout: Duration,
    tls: Option<&crate::drivers::security::Tls>,
    credentials: Option<&crate::drivers::security::Credentials>,
    commands: &[&str],
) -> Result<Vec<(String, String)>, ProbeError> {
    let (mut stream, addr) = connect(host, port, timeout, tls)?;
    let bad = |why: String| ProbeError::NotAerospike { addr: addr.clone(), why };
    if let Some(credentials) = credentials {
        let frame = crate::drivers::wire_login::login_frame(credentials).map_err(|e| bad(format!("{e:#}")))?;
        crate::drivers::wire_login::login(&mut stream, &frame).map_err(|e| bad(e.to_string()))?;
    }
    crate::drivers::wire_cluster::info(&mut stream, commands).map_err(bad)
}

/// The info exchange of [`probe`], over a plain or TLS stream, after the `login` frame if any.
/// A refused login is no probe failure: the server answers, and the login's refusal is for the
/// columns and the set check to report, with its cause.
fn ask(
    mut stream: impl Read + Write,
    addr: &str,
    timeout: Duration,
    login: Option<&[u8]>,
) -> Result<ServerInfo, ProbeError> {
    let bad = |why: String| ProbeError::NotAerospike { addr: addr.to_string(), why };
    let unknown = |build: String| ServerInfo {
        address: addr.to_string(),
        builtin: false,
        build: format!("unknown ({build})"),
        edition: String::new(),
        nodes: vec![],
    };
    if let Some(frame) = login {
        match crate::drivers::wire_login::login(&mut stream, frame) {
            Ok(()) => {}
            // A secured server answers nothing else, and may close the connection.
            Err(crate::drivers::wire_login::LoginError::Refused(why)) => {
                return Ok(unknown(format!("the login was refused: {why}")));
            }
            Err(e) => return Err(bad(e.to_string())),
        }
    }
    let request = b"build\nedition\nnode\npeers-clear-std\n";
    let mut frame = vec![2u8, 1];
    frame.extend_from_slice(&(request.len() as u64).to_be_bytes()[2..]);
    frame.extend_from_slice(request);
    stream.write_all(&frame).map_err(|e| bad(format!("sending an info request failed: {e}")))?;
    let mut header = [0u8; 8];
    stream.read_exact(&mut header).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            bad(format!("no info reply within {} ms", timeout.as_millis()))
        }
        _ => bad(format!("no info reply: {e}")),
    })?;
    if header[0] != 2 || header[1] != 1 {
        return Err(bad(format!("reply header {:02x?} is not an info reply", &header[..2])));
    }
    let len = u64::from_be_bytes([0, 0, header[2], header[3], header[4], header[5], header[6], header[7]]);
    if len > 1 << 20 {
        return Err(bad(format!("info reply of {len} bytes is implausibly long")));
    }
    let mut body = vec![0u8; len as usize];
    stream.read_exact(&mut body).map_err(|e| bad(format!("info reply cut short: {e}")))?;
    let text = String::from_utf8_lossy(&body);
    if text.starts_with("ERROR:80:") {
        // A secured server that has seen no login answers this and nothing else.
        return Ok(unknown("the server requires a login: give --user".to_string()));
    }
    let value = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('\t'))).map(str::to_string)
    };
    let build = value("build").filter(|b| !b.is_empty()).ok_or_else(|| bad("no build in the info reply".into()))?;
    let edition = value("edition").unwrap_or_default();
    // The nodes as the seed sees them; a server that names no peers is taken as one node.
    let mut nodes: Vec<String> = value("node").filter(|n| !n.is_empty()).into_iter().collect();
    if let Some(Ok((_, peers))) = value("peers-clear-std").map(|p| crate::drivers::wire_cluster::parse_peers(&p)) {
        for peer in peers {
            if !nodes.contains(&peer.name) {
                nodes.push(peer.name);
            }
        }
    }
    Ok(ServerInfo { address: addr.to_string(), builtin: edition == BUILTIN_EDITION, build, edition, nodes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn addresses_bracket_ipv6() {
        assert_eq!(address("::1", 3000), "[::1]:3000");
        assert_eq!(address("db.local", 3000), "db.local:3000");
    }

    #[test]
    fn refused_connection_is_unreachable() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = probe("127.0.0.1", port, Duration::from_secs(1), None, None).unwrap_err();
        assert!(matches!(err, ProbeError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains(&format!("127.0.0.1:{port}")));
    }

    #[test]
    fn garbage_and_silence_are_reported_not_hung() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
            let (_silent, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(600));
        });
        let err = probe("127.0.0.1", port, Duration::from_millis(300), None, None).unwrap_err();
        assert!(matches!(err, ProbeError::NotAerospike { .. }), "{err}");
        let err = probe("127.0.0.1", port, Duration::from_millis(300), None, None).unwrap_err();
        assert!(err.to_string().contains("no info reply"), "{err}");
        t.join().unwrap();
    }
}

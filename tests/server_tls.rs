//! `aerobench serve --tls-cert/--tls-key`: a client that trusts the certificate's CA and names
//! the server as the certificate does gets answers over TLS; one with the wrong CA, the wrong
//! name or no TLS at all gets a clear failure, and the server keeps serving. Certificates are
//! made at test time (rcgen); no private key is committed.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Server, scratch};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};

/// A CA and a server certificate it signed for `name`; writes server.pem, server.key, ca.pem.
fn make_certs(dir: &Path, name: &str) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "aerobench test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
}

/// An info request over TLS, trusting `ca` and expecting the server to be `name`.
fn info_over_tls(port: u16, ca: &Path, name: &str) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from(name.to_string()).unwrap())
        .map_err(|e| e.to_string())?;
    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let body = b"build\n";
    let mut frame = vec![2u8, 1, 0, 0, 0, 0, 0, body.len() as u8];
    frame.extend_from_slice(body);
    tls.write_all(&frame).map_err(|e| e.to_string())?;
    let mut head = [0u8; 8];
    tls.read_exact(&mut head).map_err(|e| e.to_string())?;
    let mut reply = vec![0u8; head[7] as usize];
    tls.read_exact(&mut reply).map_err(|e| e.to_string())?;
    Ok(String::from_utf8(reply).unwrap())
}

#[test]
fn serves_tls_and_refuses_a_mismatch_clearly() {
    let dir = scratch("server-tls");
    make_certs(&dir, "aerobench.test");
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    make_certs(&other, "aerobench.test");
    let cert = dir.join("server.pem").display().to_string();
    let key = dir.join("server.key").display().to_string();
    let mut server = Server::start_with(&["--quiet", "--tls-cert", &cert, "--tls-key", &key]);

    assert_eq!(info_over_tls(server.port, &dir.join("ca.pem"), "aerobench.test").unwrap(), "build\t8.1.0.0\n");
    let wrong_ca = info_over_tls(server.port, &other.join("ca.pem"), "aerobench.test").unwrap_err();
    // Same issuer name, another key: the signature does not verify.
    assert!(wrong_ca.contains("invalid peer certificate"), "{wrong_ca}");
    let wrong_name = info_over_tls(server.port, &dir.join("ca.pem"), "someone.else").unwrap_err();
    assert!(wrong_name.contains("not valid for name"), "{wrong_name}");

    // A plain-text request on the TLS port is not answered as one: the connection ends.
    let mut plain = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    plain.write_all(&[2, 1, 0, 0, 0, 0, 0, 6, b'b', b'u', b'i', b'l', b'd', b'\n']).unwrap();
    let mut buf = [0u8; 64];
    let n = plain.read(&mut buf).unwrap_or(0);
    assert!(!buf[..n].starts_with(&[2, 1]), "a plain info reply on the TLS port");

    assert!(server.is_alive());
    assert_eq!(info_over_tls(server.port, &dir.join("ca.pem"), "aerobench.test").unwrap(), "build\t8.1.0.0\n");
}

#[test]
fn bad_certificate_files_are_a_clear_error() {
    let dir = scratch("server-tls-bad");
    std::fs::write(dir.join("empty.pem"), "").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aerobench"))
        .args(["serve", "--port", "0", "--tls-cert"])
        .arg(dir.join("empty.pem"))
        .arg("--tls-key")
        .arg(dir.join("missing.key"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--tls-cert"), "{stderr}");
}

/// Every column against a server that requires TLS and a login: the columns whose client can
/// do TLS run with no errors; the others are error cells that say why. A wrong CA stops the
/// run before anything is measured, with a message naming TLS.
#[test]
fn every_column_against_a_tls_server_with_a_login() {
    let dir = scratch("client-tls");
    make_certs(&dir, "aerobench.test");
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    make_certs(&other, "aerobench.test");
    let (cert, key) = (dir.join("server.pem").display().to_string(), dir.join("server.key").display().to_string());
    let password = "tls-and-a-password";
    let server = Server::start_with_env(
        &["--quiet", "--tls-cert", &cert, "--tls-key", &key, "--user", "bench"],
        &[("AEROBENCH_SERVE_PASSWORD", password)],
    );
    let run = |ca: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_aerobench"))
            .args(["--port", &server.port.to_string(), "--user", "bench", "--tls-name", "aerobench.test"])
            .arg("--tls-ca")
            .arg(ca)
            .args(["--format", "json", "--quiet", "--rounds", "1", "--count", "100", "--concurrency", "4"])
            .args(["--clients", "wire,rust-sync,rust-async,aerospike-py-sync,official-c,aerospike-native-async"])
            .env("AEROBENCH_CACHE_DIR", common::cache_dir())
            .env("AEROSPIKE_PASSWORD", password)
            .env_remove("VIRTUAL_ENV")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&dir.join("ca.pem"));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let r = common::report(&out);
    for id in ["rust-sync", "rust-async", "official-c", "aerospike-native-async"] {
        assert!(common::column(&r, id)["error"].is_null(), "{id}: {}\n{stderr}", common::column(&r, id)["error"]);
    }
    for id in ["wire", "aerospike-py-sync"] {
        let error = common::column(&r, id)["error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains("TLS"), "{id}: {error}");
    }
    for cell in r["cells"].as_array().unwrap() {
        assert_eq!(cell["errors"], 0, "{cell}");
    }
    assert!(!out.status.success(), "two columns could not run: the exit code says so");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(password) && !stderr.contains(password));

    let out = run(&other.join("ca.pem"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("TLS") && stderr.contains("--tls-ca"), "{stderr}");
}

//! The wire column's login, for servers that require one: the admin protocol's LOGIN (user and
//! credential, the bcrypt hash of the password under the fixed salt every Aerospike client
//! uses), encoded once and sent on every new connection before any request.

use std::io::{Read, Write};

use base64::Engine as _;

use crate::drivers::security::Credentials;

/// The salt and cost every Aerospike client hashes passwords with, so that the server can
/// compare the hash with the one it stores.
const CLIENT_SALT: &str = "7EqJtq98hPqEX7fNZaFWoO";
const CLIENT_COST: u32 = 10;

const LOGIN: u8 = 20;
const FIELD_USER: u8 = 0;
const FIELD_CREDENTIAL: u8 = 3;
const ADMIN_HEADER_LEN: usize = 16;

/// The credential a client sends for `password`.
pub fn credential(password: &str) -> anyhow::Result<String> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::BCRYPT,
        base64::engine::GeneralPurposeConfig::new()
            .with_encode_padding(false)
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
    );
    let raw = engine.decode(CLIENT_SALT).map_err(|e| anyhow::anyhow!("bad built-in salt: {e}"))?;
    let salt: [u8; 16] = raw.get(..16).and_then(|s| s.try_into().ok()).ok_or_else(|| anyhow::anyhow!("short salt"))?;
    let parts = bcrypt::hash_with_salt(password, CLIENT_COST, salt)
        .map_err(|_| anyhow::anyhow!("the password cannot be hashed (bcrypt takes at most 72 bytes)"))?;
    Ok(parts.format_for_version(bcrypt::Version::TwoA))
}

/// The whole LOGIN frame for `credentials`.
pub fn login_frame(credentials: &Credentials) -> anyhow::Result<Vec<u8>> {
    let cred = credential(credentials.password.expose())?;
    let mut body = vec![0u8, 0, LOGIN, 2];
    body.resize(ADMIN_HEADER_LEN, 0);
    for (id, data) in [(FIELD_USER, credentials.user.as_bytes()), (FIELD_CREDENTIAL, cred.as_bytes())] {
        body.extend_from_slice(&(data.len() as u32 + 1).to_be_bytes());
        body.push(id);
        body.extend_from_slice(data);
    }
    let len = (body.len() as u64).to_be_bytes();
    let mut frame = vec![2u8, 2, len[2], len[3], len[4], len[5], len[6], len[7]];
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// What a LOGIN got back, when it was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("the server refused the login: {0}")]
    Refused(&'static str),
    #[error("the login exchange failed: {0}")]
    Io(#[from] std::io::Error),
}

fn refusal(code: u8) -> &'static str {
    match code {
        60 => "unknown user (result code 60)",
        62 | 65 => "wrong password (result code 65, invalid credential)",
        63 => "password expired (result code 63)",
        80 => "not authenticated (result code 80)",
        81 => "role violation (result code 81)",
        _ => "security error",
    }
}

/// Sends `frame` and reads the reply; success or SECURITY_NOT_ENABLED (a server without
/// security) let the connection be used.
pub fn login<S: Read + Write>(stream: &mut S, frame: &[u8]) -> Result<(), LoginError> {
    stream.write_all(frame)?;
    let mut head = [0u8; 8 + ADMIN_HEADER_LEN];
    stream.read_exact(&mut head)?;
    let len = u64::from_be_bytes([0, 0, head[2], head[3], head[4], head[5], head[6], head[7]]);
    if head[1] != 2 || !(ADMIN_HEADER_LEN as u64..=1 << 20).contains(&len) {
        return Err(LoginError::Refused("the reply is not an admin message"));
    }
    // Session token and TTL: not needed, since every connection logs in itself.
    std::io::copy(&mut Read::by_ref(stream).take(len - ADMIN_HEADER_LEN as u64), &mut std::io::sink())?;
    match head[9] {
        0 | 52 => Ok(()),
        code => Err(LoginError::Refused(refusal(code))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_matches_the_clients_hash() {
        let ours = credential("secret").unwrap();
        assert!(ours.starts_with("$2a$10$7EqJtq98hPqEX7fNZaFWoO"), "{ours}");
        assert!(bcrypt::verify("secret", &ours).unwrap());
    }
}

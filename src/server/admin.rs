//! Admin (proto type 2) requests: login and authenticate. Without `--user` the server has no
//! security and answers each with SECURITY_NOT_ENABLED, which every client accepts as success.
//! With `--user U --password P` it checks logins as a secured server does: the client sends
//! the user and the bcrypt hash of the password (the credential), and gets a session token
//! that later connections present with AUTHENTICATE; data requests on a connection that has not
//! logged in are refused with NOT_AUTHENTICATED.

use std::sync::Mutex;

use bytes::{BufMut, BytesMut};
use sha2::{Digest as _, Sha256};

use super::message::rc;

/// Length of the admin header that follows the proto header.
const ADMIN_HEADER_LEN: usize = 16;

/// Admin commands.
mod command {
    pub const AUTHENTICATE: u8 = 0;
    pub const LOGIN: u8 = 20;
}

/// Admin field ids.
mod admin_field {
    pub const USER: u8 = 0;
    pub const CREDENTIAL: u8 = 3;
    pub const SESSION_TOKEN: u8 = 5;
    pub const SESSION_TTL: u8 = 6;
}

/// Result codes of the security layer.
mod sec_rc {
    pub const INVALID_COMMAND: u8 = 54;
    pub const INVALID_USER: u8 = 60;
    pub const INVALID_CREDENTIAL: u8 = 65;
    pub const NOT_AUTHENTICATED: u8 = 80;
}
pub use sec_rc::NOT_AUTHENTICATED;

/// Highest bcrypt cost a login credential may name (clients use 10).
const MAX_COST: u32 = 10;

/// Session lifetime reported to clients, in seconds.
const SESSION_TTL_SECS: u32 = 24 * 3600;

/// The one user a secured server knows.
pub struct Security {
    user: String,
    password: String,
    /// The last credential that verified, so that the next connection's login costs a
    /// comparison instead of a bcrypt run.
    accepted: Mutex<Option<Vec<u8>>>,
    token: [u8; 32],
}

impl Security {
    pub fn new(user: String, password: String) -> Security {
        // Unpredictable to a client: the hash of the process, the time and a randomly keyed
        // hasher's output.
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let mut sha = Sha256::new();
        sha.update(h.finish().to_be_bytes());
        sha.update(now.as_nanos().to_be_bytes());
        sha.update(user.as_bytes());
        Security { user, password, accepted: Mutex::new(None), token: sha.finalize().into() }
    }

    fn credential_ok(&self, credential: &[u8]) -> bool {
        if let Some(known) = self.accepted.lock().unwrap_or_else(|e| e.into_inner()).as_deref() {
            if equal(known, credential) {
                return true;
            }
        }
        // Clients hash at cost 10; a credential naming a higher cost would have the server
        // spend up to 2^31 rounds on one login.
        let cheap = |c: &str| c.get(4..6).and_then(|n| n.parse::<u32>().ok()).is_some_and(|cost| cost <= MAX_COST);
        let ok = std::str::from_utf8(credential)
            .is_ok_and(|c| cheap(c) && bcrypt::verify(&self.password, c).unwrap_or(false));
        if ok {
            *self.accepted.lock().unwrap_or_else(|e| e.into_inner()) = Some(credential.to_vec());
        }
        ok
    }
}

/// Compares without stopping at the first difference.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The fields of an admin request body, after its 16-byte header.
fn fields(body: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let count = body.get(3).copied().unwrap_or(0);
    let mut rest = body.get(ADMIN_HEADER_LEN..).unwrap_or(&[]);
    for _ in 0..count {
        let Some(len) = rest.get(..4).map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize) else { break };
        if len == 0 || rest.len() < 4 + len {
            break;
        }
        out.push((rest[4], &rest[5..4 + len]));
        rest = &rest[4 + len..];
    }
    out
}

fn header(out: &mut BytesMut, code: u8, command: u8, field_count: u8) {
    out.put_u8(0);
    out.put_u8(code);
    out.put_u8(command);
    out.put_u8(field_count);
    out.put_bytes(0, ADMIN_HEADER_LEN - 4);
}

/// Answers an admin request body. `authenticated` is the connection's state: set on a
/// successful login or authenticate, never cleared by a failed one.
pub fn reply(body: &[u8], security: Option<&Security>, authenticated: &mut bool) -> BytesMut {
    let command = body.get(2).copied().unwrap_or(0);
    let mut out = BytesMut::with_capacity(64);
    let Some(sec) = security else {
        header(&mut out, rc::SECURITY_NOT_ENABLED, command, 0);
        return out;
    };
    let fields = fields(body);
    let get = |id: u8| fields.iter().find(|f| f.0 == id).map(|f| f.1);
    let user_ok = get(admin_field::USER).is_some_and(|u| equal(u, sec.user.as_bytes()));
    match command {
        command::LOGIN => {
            let code = if !user_ok {
                sec_rc::INVALID_USER
            } else if !get(admin_field::CREDENTIAL).is_some_and(|c| sec.credential_ok(c)) {
                sec_rc::INVALID_CREDENTIAL
            } else {
                rc::OK
            };
            if code != rc::OK {
                header(&mut out, code, command, 0);
                return out;
            }
            *authenticated = true;
            header(&mut out, rc::OK, command, 2);
            out.put_u32(1 + sec.token.len() as u32);
            out.put_u8(admin_field::SESSION_TOKEN);
            out.put_slice(&sec.token);
            out.put_u32(5);
            out.put_u8(admin_field::SESSION_TTL);
            out.put_u32(SESSION_TTL_SECS);
        }
        command::AUTHENTICATE => {
            let ok = user_ok && get(admin_field::SESSION_TOKEN).is_some_and(|t| equal(t, &sec.token));
            *authenticated |= ok;
            header(&mut out, if ok { rc::OK } else { sec_rc::NOT_AUTHENTICATED }, command, 0);
        }
        _ => header(&mut out, sec_rc::INVALID_COMMAND, command, 0),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(command: u8, fields: &[(u8, &[u8])]) -> Vec<u8> {
        let mut b = vec![0, 0, command, fields.len() as u8];
        b.resize(ADMIN_HEADER_LEN, 0);
        for (id, data) in fields {
            b.extend_from_slice(&(data.len() as u32 + 1).to_be_bytes());
            b.push(*id);
            b.extend_from_slice(data);
        }
        b
    }

    #[test]
    fn echoes_command_with_rc_52_without_security() {
        let login = [0u8, 0, 20, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut auth = false;
        let r = super::reply(&login, None, &mut auth);
        assert_eq!((r[0], r[1], r[2], r.len()), (0, 52, 20, 16));
        assert_eq!(super::reply(&[], None, &mut auth)[1], 52);
    }

    #[test]
    fn login_checks_user_and_credential_and_issues_a_token() {
        let sec = Security::new("bench".into(), "s3cret".into());
        let good = bcrypt::hash("s3cret", 4).unwrap();
        let bad = bcrypt::hash("wrong", 4).unwrap();
        let mut auth = false;
        let r = reply(&request(20, &[(0, b"bench"), (3, bad.as_bytes())]), Some(&sec), &mut auth);
        assert_eq!((r[1], auth), (65, false));
        let r = reply(&request(20, &[(0, b"other"), (3, good.as_bytes())]), Some(&sec), &mut auth);
        assert_eq!((r[1], auth), (60, false));
        let r = reply(&request(20, &[(0, b"bench"), (3, good.as_bytes())]), Some(&sec), &mut auth);
        assert_eq!((r[1], r[3], auth), (0, 2, true));
        let token = fields(&r).into_iter().find(|f| f.0 == 5).unwrap().1.to_vec();
        assert_eq!(token, sec.token);
        // Cached: a second login with the same credential is answered the same way.
        let mut auth2 = false;
        reply(&request(20, &[(0, b"bench"), (3, good.as_bytes())]), Some(&sec), &mut auth2);
        assert!(auth2);
        // A credential that would cost 2^31 rounds is refused without running them.
        let costly = good.replacen("$04$", "$31$", 1);
        let r = reply(&request(20, &[(0, b"bench"), (3, costly.as_bytes())]), Some(&sec), &mut auth);
        assert_eq!(r[1], 65);
        let mut auth3 = false;
        let r = reply(&request(0, &[(0, b"bench"), (5, b"forged")]), Some(&sec), &mut auth3);
        assert_eq!((r[1], auth3), (80, false));
        let r = reply(&request(0, &[(0, b"bench"), (5, &token)]), Some(&sec), &mut auth3);
        assert_eq!((r[1], auth3), (0, true));
    }
}

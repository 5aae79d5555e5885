//! Admin (proto type 2) requests — login and authenticate, sent only by clients configured
//! with a user. The server has no security, so each is answered with SECURITY_NOT_ENABLED,
//! which every client accepts as success.

use super::message::rc;

/// Length of the admin header.
const ADMIN_HEADER_LEN: usize = 16;

/// The 16-byte admin reply to a request body: rc 52 with the request's command echoed.
pub fn reply(body: &[u8]) -> [u8; ADMIN_HEADER_LEN] {
    let mut out = [0u8; ADMIN_HEADER_LEN];
    out[1] = rc::SECURITY_NOT_ENABLED;
    out[2] = body.get(2).copied().unwrap_or(0);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn echoes_command_with_rc_52() {
        let login = [0u8, 0, 20, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let r = super::reply(&login);
        assert_eq!((r[0], r[1], r[2]), (0, 52, 20));
        assert_eq!(super::reply(&[])[1], 52);
    }
}

//! Logging in to a server that requires it: `--user`, with the password from
//! `AEROSPIKE_PASSWORD` or typed at a prompt on a terminal (never a command-line argument).
//! The password is carried in a [`Password`] that never prints, and reaches Python workers over
//! their stdin pipe with the rest of their spec, never on a command line.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// Environment variable the password is read from.
pub const PASSWORD_ENV: &str = "AEROSPIKE_PASSWORD";

#[derive(Debug, Clone, Default, clap::Args)]
pub struct SecurityArgs {
    /// User to log in as, for a server that requires a login (every column logs in). The
    /// password is read from AEROSPIKE_PASSWORD, or asked for when stdin is a terminal; it is
    /// never taken from the command line, and never printed. With --builtin-server, the
    /// built-in server requires this user and password.
    #[arg(long, env = "AEROSPIKE_USER", value_name = "USER")]
    pub user: Option<String>,
}

/// A password: shown as `<hidden>` by `Debug`, serialised only for the pipe to a worker.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    #[cfg(test)]
    pub fn new(s: String) -> Password {
        Password(s)
    }

    /// The clear text, for handing to a client library.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// Who to log in as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub user: String,
    pub password: Password,
}

/// The credentials `--user` asks for: `None` without `--user`; an error saying what to do
/// when the password can be neither read from the environment nor asked for.
pub fn resolve(args: &SecurityArgs) -> anyhow::Result<Option<Credentials>> {
    let Some(user) = args.user.clone().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let password = match std::env::var(PASSWORD_ENV) {
        Ok(p) if !p.is_empty() => p,
        _ if std::io::stdin().is_terminal() => rpassword::prompt_password(format!("Password for {user}: "))
            .context("cannot read the password from the terminal")?,
        _ => anyhow::bail!(
            "--user {user} needs a password: set {PASSWORD_ENV} in the environment (or run on a terminal \
             to be asked for it)"
        ),
    };
    anyhow::ensure!(!password.is_empty(), "the password for --user {user} is empty");
    anyhow::ensure!(
        password.len() <= 72,
        "the password for --user {user} is longer than 72 bytes, which Aerospike's password hash cannot take"
    );
    Ok(Some(Credentials { user, password: Password(password) }))
}

/// The message of a client error with the password cut out, should a library ever echo it.
pub fn scrub(message: &str, credentials: Option<&Credentials>) -> String {
    match credentials {
        Some(c) if !c.password.0.is_empty() => message.replace(&c.password.0, "<hidden>"),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_prints() {
        let c = Credentials { user: "u".into(), password: Password::new("p4ss-w0rd".into()) };
        assert!(!format!("{c:?}").contains("p4ss-w0rd"));
        assert_eq!(scrub("bad login for p4ss-w0rd", Some(&c)), "bad login for <hidden>");
        assert_eq!(serde_json::to_string(&c.password).unwrap(), "\"p4ss-w0rd\"");
    }
}

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
    /// User to log in as (password: AEROSPIKE_PASSWORD)
    ///
    /// For a server that requires a login (every column logs in). The password is read from
    /// AEROSPIKE_PASSWORD, or asked for when stdin is a terminal; it is never taken from the
    /// command line, and never printed. With --builtin-server, the built-in server requires this
    /// user and password.
    #[arg(long, env = "AEROSPIKE_USER", value_name = "USER", help_heading = "Server, security and safety")]
    pub user: Option<String>,
    /// TLS name of the server (--tls-cert, --tls-key)
    ///
    /// Connect with TLS, expecting the server's certificate to name NAME (the server's tls-name).
    /// Needs --tls-ca. The wire and aerospike-py columns cannot use TLS here: they report an error
    /// cell saying so.
    #[arg(long, value_name = "NAME", requires = "tls_ca", help_heading = "Server, security and safety")]
    pub tls_name: Option<String>,
    /// TLS: CA certificate(s) the server's must chain to
    ///
    /// PEM, with --tls-name.
    #[arg(long, value_name = "PEM", requires = "tls_name", help_heading = "Server, security and safety")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// TLS: client certificate chain (with --tls-key)
    ///
    /// PEM, for servers that require one.
    #[arg(long, value_name = "PEM", requires_all = ["tls_key", "tls_name"], hide_short_help = true, help_heading = "Server, security and safety")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// TLS: private key of --tls-cert
    ///
    /// PEM.
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_cert",
        hide_short_help = true,
        help_heading = "Server, security and safety"
    )]
    pub tls_key: Option<std::path::PathBuf>,
}

/// How to connect with TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tls {
    /// The name the server's certificate must carry.
    pub name: String,
    pub ca: std::path::PathBuf,
    pub cert: Option<std::path::PathBuf>,
    pub key: Option<std::path::PathBuf>,
}

/// The TLS settings `--tls-*` ask for, with their files checked now, so that a missing or
/// unreadable file is one clear error before anything connects.
pub fn resolve_tls(args: &SecurityArgs) -> anyhow::Result<Option<Tls>> {
    let (Some(name), Some(ca)) = (&args.tls_name, &args.tls_ca) else { return Ok(None) };
    let tls = Tls {
        name: name.clone(),
        ca: std::path::absolute(ca).unwrap_or_else(|_| ca.clone()),
        cert: args.tls_cert.as_ref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
        key: args.tls_key.as_ref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
    };
    client_config(&tls)?;
    Ok(Some(tls))
}

/// A rustls client configuration for `tls`: its CA as the only root, and its client
/// certificate when given.
pub fn client_config(tls: &Tls) -> anyhow::Result<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(&tls.ca)
        .and_then(|c| c.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read CA certificates (PEM) from --tls-ca {}", tls.ca.display()))?;
    anyhow::ensure!(!cas.is_empty(), "--tls-ca {} holds no certificate", tls.ca.display());
    for ca in cas {
        roots.add(ca).with_context(|| format!("--tls-ca {} holds an unusable certificate", tls.ca.display()))?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots);
    Ok(match (&tls.cert, &tls.key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|c| c.collect::<Result<Vec<_>, _>>())
                .with_context(|| format!("cannot read --tls-cert {}", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("cannot read --tls-key {}", key.display()))?;
            builder.with_client_auth_cert(chain, key).context("--tls-cert and --tls-key do not match")?
        }
        _ => builder.with_no_client_auth(),
    })
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

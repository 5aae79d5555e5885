//! `--builtin-server`: starts `aerobench serve --port 0` as a child process, waits for the port
//! it prints, and stops it when dropped. The benchmark then talks to it over the network like
//! to any other server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, bail};

pub struct BuiltinServer {
    child: Child,
    pub port: u16,
}

impl BuiltinServer {
    /// Starts the server; with `credentials` it requires that login (the password goes to
    /// the child in its environment, not on its command line).
    pub fn start(namespace: &str, credentials: Option<&crate::security::Credentials>) -> anyhow::Result<BuiltinServer> {
        let exe =
            std::env::current_exe().context("cannot find the aerobench executable to start the built-in server")?;
        let mut command = Command::new(exe);
        command.args(["serve", "--port", "0", "--quiet", "--namespace", namespace]);
        command.env_remove("AEROBENCH_SERVE_PASSWORD");
        if let Some(c) = credentials {
            command.args(["--user", &c.user]).env("AEROBENCH_SERVE_PASSWORD", c.password.expose());
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the built-in server")?;
        let stdout = child.stdout.take().context("built-in server has no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                bail!("the built-in server did not start within 10 s");
            }
        };
        let port =
            line.trim().strip_prefix("listening on ").and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse().ok());
        match port {
            Some(port) => Ok(BuiltinServer { child, port }),
            None => {
                let _ = child.kill();
                bail!("the built-in server did not report its port (said {line:?})")
            }
        }
    }
}

impl Drop for BuiltinServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

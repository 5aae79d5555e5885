//! `--builtin-server`: starts `aerobench serve --port 0` (with `--nodes N`, a cluster of N nodes
//! in that one process) as a child process, waits for the seed's port it prints, and stops it
//! when dropped. The benchmark then talks to it over the network like
//! to any other server.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// Set in the built-in server's environment: it exits when its stdin closes.
pub const EXIT_WITH_PARENT: &str = "AEROBENCH_EXIT_WITH_PARENT";

/// In `aerobench serve` started by a run: exits when the run's end of stdin closes, so the
/// server never outlives the run (not even one killed with SIGKILL).
pub fn exit_with_parent() {
    if std::env::var_os(EXIT_WITH_PARENT).is_none() {
        return;
    }
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        std::process::exit(0);
    });
}

pub struct BuiltinServer {
    child: Child,
    pub port: u16,
}

impl BuiltinServer {
    /// Starts the server, as `nodes` nodes (`serve --nodes`); with `credentials` it requires
    /// that login (the password goes to the child in its environment, not on its command line).
    pub fn start(
        namespace: &str,
        credentials: Option<&crate::drivers::security::Credentials>,
        nodes: u16,
    ) -> anyhow::Result<BuiltinServer> {
        let exe =
            std::env::current_exe().context("cannot find the aerobench executable to start the built-in server")?;
        let mut command = Command::new(exe);
        command
            .args(["serve", "--port", "0", "--quiet", "--namespace", namespace, "--nodes", &nodes.to_string()])
            // The server ends when this pipe closes: when aerobench exits, however it exits.
            .env(EXIT_WITH_PARENT, "1")
            .env_remove("AEROBENCH_SERVE_PASSWORD");
        if let Some(c) = credentials {
            command.args(["--user", &c.user]).env("AEROBENCH_SERVE_PASSWORD", c.password.expose());
        }
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        // A terminal's Ctrl-C goes to the whole foreground process group: keep the server out
        // of it, so the interrupted run can still finish its calls and clean up; aerobench
        // stops it itself.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().context("cannot start the built-in server")?;
        crate::engine::signals::register_child(child.id());
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
        crate::engine::signals::forget_child(self.child.id());
    }
}

//! The built-in in-memory Aerospike-protocol server (`aerobench serve`): enough of the real wire
//! protocol that unmodified clients connect, tend and run every operation aerobench measures.
//! It stands apart from the benchmark, which talks to it only over the network.

mod admin;
pub(crate) mod batch;
mod budget;
pub(crate) mod cdt;
mod cdt_store;
pub(crate) mod cluster;
mod connection;
mod corrupt;
mod delay;
pub(crate) mod digest;
mod framing;
mod info;
mod key_reads;
pub(crate) mod message;
pub(crate) mod msgpack;
pub(crate) mod record;
#[cfg(any(test, fuzzing))]
pub mod replay;
pub(crate) mod scan;
pub(crate) mod store;
mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpSocket};

pub use info::EDITION;
use info::NodeIdentity;
use store::Store;

/// Build the server advertises unless told otherwise: a current 8.x server.
pub const DEFAULT_BUILD: &str = "8.1.0.0";
/// Largest frame accepted unless told otherwise.
pub const DEFAULT_MAX_FRAME: usize = 128 << 20;
/// Request bytes all connections together may hold unless told otherwise.
pub const DEFAULT_MAX_BUFFERED: usize = 1 << 30;

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on; 0 picks a free one
    ///
    /// The address listened on is printed on the first line of stdout.
    #[arg(long, default_value_t = 3000)]
    pub port: u16,
    /// Namespace to serve; repeat for several.
    #[arg(long = "namespace", value_name = "NAME", default_value = "test")]
    pub namespaces: Vec<String>,
    /// Cluster name clients may check; none by default.
    #[arg(long)]
    pub cluster_name: Option<String>,
    /// Largest request accepted, in bytes
    ///
    /// A longer frame closes its connection before anything is allocated for it.
    #[arg(long, default_value_t = DEFAULT_MAX_FRAME, value_name = "BYTES")]
    pub max_frame: usize,
    /// Request bytes all connections together may hold
    ///
    /// While frames arrive (beyond 64 KiB each); a request that would pass it closes its own
    /// connection. At least --max-frame.
    #[arg(long, default_value_t = DEFAULT_MAX_BUFFERED, value_name = "BYTES")]
    pub max_buffered: usize,
    /// Seconds a frame may pause before its connection closes
    ///
    /// Once a frame has begun (0: wait for ever); connections may idle between frames as long as
    /// they like.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub frame_timeout: f64,
    /// Server version to advertise in `build` (four dotted integers).
    #[arg(long, default_value = DEFAULT_BUILD, hide = true)]
    pub build: String,
    /// Require clients to log in as this user
    ///
    /// The admin protocol's login, as a secured server does; the password comes from --password
    /// or AEROBENCH_SERVE_PASSWORD.
    #[arg(long, value_name = "USER", requires = "password")]
    pub user: Option<String>,
    /// Password of --user
    ///
    /// Prefer the environment variable: a command line is visible to every user of the machine.
    #[arg(long, env = "AEROBENCH_SERVE_PASSWORD", hide_env_values = true, value_name = "PASSWORD", requires = "user")]
    pub password: Option<String>,
    /// Serve TLS with this certificate chain (PEM)
    ///
    /// With --tls-key; every connection must then speak TLS.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Do not log rejected connections and malformed requests
    #[arg(long)]
    pub quiet: bool,
    /// Alter one value in N that reads return
    ///
    /// Get, batch and scan replies, to test `aerobench --verify`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub corrupt_one_in: Option<u64>,
    /// Count the reads of each key, answered by the info command `aerobench-key-reads`
    /// (`aerobench-key-reads:reset=true` also empties the counts): lets a test see at the
    /// server which keys a client asked for.
    #[arg(long, hide = true)]
    pub count_key_reads: bool,
    /// Hold every data request this long, e.g. 2ms
    ///
    /// Every record, batch and scan request is held this long before it is answered, e.g. 2ms or
    /// 250us: a slower server, for trying open- and closed-loop runs against.
    #[arg(long, value_name = "DELAY", value_parser = delay::parse_delay)]
    pub delay: Option<Duration>,
    /// Stall for LENGTH of every PERIOD, e.g. 100ms/1s
    ///
    /// Answer no record, batch or scan request for LENGTH out of every PERIOD (requests wait until
    /// the stall ends), e.g. 100ms/1s: a server that stalls now and then.
    #[arg(long, value_name = "LENGTH/PERIOD", value_parser = delay::parse_stall)]
    pub stall: Option<delay::Stall>,
    /// Address to advertise instead of the one clients dialled
    ///
    /// HOST[:PORT] (the port
    /// defaults to the listening one), as a server in a container or behind NAT advertises its
    /// `access-address`: answered to `service`, `service-clear-std` and `services`.
    #[arg(long, value_name = "HOST[:PORT]", value_parser = info::parse_advertised_boxed)]
    pub access_address: Option<Box<info::Advertised>>,
    /// Nodes to run: a cluster on one machine
    ///
    /// Each on its own port (--port, --port + 1, …; all free ones with --port 0)
    /// with its own node name, sharing one store: a cluster on one machine. Each answers
    /// `peers-*` with the others and `replicas` with its own partitions, and counts what it is
    /// asked (info `aerobench-cluster-stats`); see docs/cluster.md.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub nodes: u16,
    /// Copies of each partition (default 2, or 1 for one node)
    ///
    /// Master included, as a namespace's
    /// `replication-factor`: decides which nodes `replicas` names as holding each partition.
    /// Default: 2, or 1 for a single node.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub replication_factor: Option<u16>,
    /// Take node N out of the cluster for a while
    ///
    /// Node N (1 = the first, the seed) leaves the cluster --fail-at after start, for
    /// --fail-for: its connections close, its partitions move to the survivors (partition and
    /// peers generations go up), and move back when it returns.
    #[arg(long, value_name = "N", requires = "nodes")]
    pub fail_node: Option<u16>,
    /// When --fail-node fails, after the server starts
    #[arg(long, value_name = "TIME", value_parser = cluster::parse_time, default_value = "10s")]
    pub fail_at: Duration,
    /// How long --fail-node stays out
    #[arg(long, value_name = "TIME", value_parser = cluster::parse_time, default_value = "5s")]
    pub fail_for: Duration,
    /// Alternate address to advertise
    ///
    /// HOST[:PORT], as `alternate-access-address` does: answered
    /// to `service-clear-alt` and `services-alternate` (what clients ask with
    /// `--services-alternate`). Without it, `service-clear-alt` is the address the client dialled.
    #[arg(long, value_name = "HOST[:PORT]", value_parser = info::parse_advertised_boxed)]
    pub alternate_access_address: Option<Box<info::Advertised>>,
}

/// State every connection shares.
pub struct Shared {
    store: Arc<Store>,
    identity: NodeIdentity,
    limits: framing::FrameLimits,
    budget: Arc<budget::Budget>,
    security: Option<admin::Security>,
    quiet: bool,
    /// How long record, batch and scan requests are held (`--delay`, `--stall`).
    delay: delay::Delay,
}

impl Shared {
    fn log(&self, args: std::fmt::Arguments<'_>) {
        if !self.quiet {
            eprintln!("aerobench serve: {args}");
        }
    }
}

fn validate(args: &ServeArgs) -> anyhow::Result<()> {
    let parts: Vec<&str> = args.build.split('.').collect();
    anyhow::ensure!(
        parts.len() == 4 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "--build must be four dotted integers, like 8.1.0.0 (got {:?})",
        args.build
    );
    for ns in &args.namespaces {
        anyhow::ensure!(
            !ns.is_empty() && ns.len() <= 31 && !ns.contains([':', ';', ',', '\t', '\n', '/']),
            "namespace {ns:?} is not valid: use 1 to 31 characters without : ; , / or whitespace"
        );
    }
    if let Some(user) = &args.user {
        anyhow::ensure!(!user.is_empty(), "--user must not be empty");
        anyhow::ensure!(
            args.password.as_deref().is_some_and(|p| !p.is_empty() && p.len() <= 72),
            "--user needs a password of 1 to 72 bytes (--password or AEROBENCH_SERVE_PASSWORD)"
        );
    }
    anyhow::ensure!(args.max_frame >= 1024, "--max-frame must be at least 1024 bytes");
    if let Some(rf) = args.replication_factor {
        anyhow::ensure!(
            rf <= args.nodes,
            "--replication-factor {rf} needs at least {rf} nodes (--nodes {}); lower it or add nodes",
            args.nodes
        );
    }
    if let Some(n) = args.fail_node {
        anyhow::ensure!(
            args.nodes >= 2 && (1..=args.nodes).contains(&n),
            "--fail-node {n} must name one of the nodes 1..={} of a cluster of at least 2 (--nodes)",
            args.nodes
        );
    }
    anyhow::ensure!(
        args.port == 0 || u32::from(args.port) + u32::from(args.nodes) - 1 <= 65_535,
        "--port {} leaves no room for {} nodes on consecutive ports; use a lower --port or --port 0",
        args.port,
        args.nodes
    );
    anyhow::ensure!(
        args.max_buffered >= args.max_frame,
        "--max-buffered ({}) must be at least --max-frame ({})",
        args.max_buffered,
        args.max_frame
    );
    anyhow::ensure!(
        args.frame_timeout.is_finite() && (0.0..=86_400.0).contains(&args.frame_timeout),
        "--frame-timeout must be between 0 and 86400 seconds (got {})",
        args.frame_timeout
    );
    Ok(())
}

/// Runs the server until SIGINT or SIGTERM. `on_listening` is called once the socket is bound.
pub async fn run(args: ServeArgs, on_listening: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    validate(&args)?;
    corrupt::set(args.corrupt_one_in);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };
    let mut listeners = Vec::with_capacity(usize::from(args.nodes));
    for k in 0..args.nodes {
        let addr = SocketAddr::new(args.bind, if args.port == 0 { 0 } else { args.port + k });
        listeners.push(listen(addr).with_context(|| format!("cannot listen on {addr}"))?);
    }
    // Signal handlers go in before anyone is told the server is up, so a SIGTERM that follows
    // the "listening" line at once still ends the server cleanly.
    let shutdown = shutdown_signal()?;
    let locals: Vec<SocketAddr> = listeners.iter().map(TcpListener::local_addr).collect::<Result<_, _>>()?;
    let mut namespaces = args.namespaces.clone();
    namespaces.dedup();
    let store = Arc::new(if args.count_key_reads {
        Store::new(&namespaces).counting_key_reads()
    } else {
        Store::new(&namespaces)
    });
    let slots = locals
        .iter()
        .map(|local| cluster::NodeSlot {
            // 3 + 12 hex digits: well under the 19 characters the C client allows.
            name: format!("BB9{:012X}", (u64::from(std::process::id()) << 16) | u64::from(local.port())),
            port: local.port(),
        })
        .collect();
    let replication = args.replication_factor.map_or(usize::from(args.nodes).min(2), usize::from);
    let cluster = Arc::new(cluster::Cluster::new(slots, replication));
    // One budget for the process: the nodes share its memory as they share the store.
    let budget = budget::Budget::new(args.max_buffered);
    let mut serving = tokio::task::JoinSet::new();
    for (index, (listener, local)) in listeners.into_iter().zip(&locals).enumerate() {
        let shared = Arc::new(Shared {
            store: store.clone(),
            identity: NodeIdentity {
                node: cluster.nodes[index].name.clone(),
                build: args.build.clone(),
                cluster_name: args.cluster_name.clone(),
                access: args.access_address.as_ref().map(|a| a.with_default_port(local.port())),
                alternate: args.alternate_access_address.as_ref().map(|a| a.with_default_port(local.port())),
                cluster: cluster.clone(),
                index,
            },
            limits: framing::FrameLimits {
                max_frame: args.max_frame,
                stall: (args.frame_timeout > 0.0).then(|| Duration::from_secs_f64(args.frame_timeout)),
            },
            budget: budget.clone(),
            security: match (&args.user, &args.password) {
                (Some(user), Some(password)) => Some(admin::Security::new(user.clone(), password.clone())),
                _ => None,
            },
            quiet: args.quiet,
            delay: delay::Delay::new(args.delay, args.stall),
        });
        serving.spawn(accept_loop(listener, shared, tls.clone()));
    }
    on_listening(locals[0]);
    if locals.len() > 1 && !args.quiet {
        let all: Vec<String> = locals.iter().map(ToString::to_string).collect();
        eprintln!("aerobench serve: {} nodes listening on {}", locals.len(), all.join(", "));
    }
    if let Some(n) = args.fail_node {
        serving.spawn(fail_node(cluster.clone(), usize::from(n) - 1, args.fail_at, args.fail_for, args.quiet));
    }
    tokio::select! {
        _ = serving.join_next() => {}
        _ = shutdown => {}
    }
    Ok(())
}

/// Takes `node` out of the cluster `at` after start, for `length`, then brings it back.
async fn fail_node(cluster: Arc<cluster::Cluster>, node: usize, at: Duration, length: Duration, quiet: bool) {
    tokio::time::sleep(at).await;
    cluster.set_down(node, true);
    if !quiet {
        eprintln!("aerobench serve: node {} ({}) is down for {length:?}", node + 1, cluster.nodes[node].name);
    }
    tokio::time::sleep(length).await;
    cluster.set_down(node, false);
    if !quiet {
        eprintln!("aerobench serve: node {} ({}) is back", node + 1, cluster.nodes[node].name);
    }
    // Keep the server's task set from ending: the accept loops serve on.
    std::future::pending::<()>().await;
}

/// Binds with a deep accept backlog, so a burst of connects (a client filling its pool) is
/// never dropped by the kernel.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tls: Option<tokio_rustls::TlsAcceptor>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if shared.identity.cluster.is_down(shared.identity.index) {
                    // A lost node: the connection is closed at once, as a dead host's would fail.
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let local = match stream.local_addr() {
                    Ok(a) => a,
                    Err(e) => {
                        shared.log(format_args!("{peer}: cannot read local address: {e}"));
                        continue;
                    }
                };
                let shared = shared.clone();
                match tls.clone() {
                    None => {
                        tokio::spawn(connection::serve_connection(stream, peer, local, shared));
                    }
                    Some(acceptor) => {
                        tokio::spawn(async move {
                            match tokio::time::timeout(tls::HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(stream)) => connection::serve_connection(stream, peer, local, shared).await,
                                // A connection closed before its first byte (a liveness check) is no
                                // failed handshake.
                                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
                                Ok(Err(e)) => shared.log(format_args!("{peer}: TLS handshake failed: {e}")),
                                Err(_) => shared.log(format_args!("{peer}: TLS handshake did not finish in time")),
                            }
                        });
                    }
                }
            }
            Err(e) => {
                // Out of file descriptors and the like: keep serving the connections we have.
                shared.log(format_args!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Installs the SIGINT/SIGTERM handlers now; the returned future ends when one arrives.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

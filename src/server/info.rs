//! The info protocol (proto type 1): what the server says about itself — node name, build,
//! partition map, peers, services — answering every command with exactly one line, in request
//! order, and unknown commands with an empty value. Also a few administrative commands
//! (`namespace/<ns>`, `sets/<ns>`, `truncate`). A reply is bounded: once it passes
//! [`MAX_REPLY`] the remaining commands go unanswered and one `error` line says so.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use super::cluster::Cluster;
use super::store::{N_PARTITIONS, Store};

/// What the server reports about itself, fixed for its lifetime.
pub struct NodeIdentity {
    /// Node name: at most 19 characters and never changes (clients compare it on every tend).
    pub node: String,
    /// Advertised `build`: four dotted integers.
    pub build: String,
    /// Configured cluster name, if any.
    pub cluster_name: Option<String>,
    /// `--access-address`, as `host:port`: advertised instead of the address the client dialled.
    pub access: Option<String>,
    /// `--alternate-access-address`, as `host:port`.
    pub alternate: Option<String>,
    /// The nodes of this process (`--nodes`), this one among them at `index`.
    pub cluster: Arc<Cluster>,
    pub index: usize,
}

/// An address to advertise (`--access-address`), HOST with an optional PORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertised {
    host: String,
    port: Option<u16>,
}

impl Advertised {
    /// `host:port` (IPv6 bracketed), with `port` when none was given.
    pub fn with_default_port(&self, port: u16) -> String {
        let port = self.port.unwrap_or(port);
        if self.host.contains(':') { format!("[{}]:{port}", self.host) } else { format!("{}:{port}", self.host) }
    }
}

/// [`parse_advertised`], boxed: the command-line arguments stay small.
pub fn parse_advertised_boxed(text: &str) -> Result<Box<Advertised>, String> {
    parse_advertised(text).map(Box::new)
}

/// Parses HOST[:PORT]; an IPv6 address with a port is written `[ADDR]:PORT`.
pub fn parse_advertised(text: &str) -> Result<Advertised, String> {
    let bad = || format!("{text:?} is not HOST[:PORT] (an IPv6 address with a port is written [ADDR]:PORT)");
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else if text.matches(':').count() == 1 {
        let (host, port) = text.split_once(':').ok_or_else(bad)?;
        (host, Some(port))
    } else {
        (text, None)
    };
    if host.is_empty() || host.contains([';', ',', '[', ']', '\t', '\n', ' ']) {
        return Err(bad());
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(bad)?),
        None => None,
    };
    Ok(Advertised { host: host.to_string(), port })
}

pub const EDITION: &str = "aerobench built-in in-memory server";

/// Largest info reply built for one request: far above any real client's request (a tend asks
/// for a dozen values of a few KiB), far below what a request of repeated `replicas` would cost.
pub const MAX_REPLY: usize = 4 << 20;

/// The whole reply to an info request on a connection that has not logged in to a server that
/// requires it: one line, whatever was asked (a secured Aerospike server's words).
pub const NOT_AUTHENTICATED: &str = "ERROR:80:not authenticated\n";

/// Per-connection facts some answers depend on.
pub struct ConnContext {
    /// Address the client dialled (the accepted socket's local address).
    pub local: SocketAddr,
    /// The server's request-memory budget, reported by `aerobench-memory`.
    pub budget: std::sync::Arc<super::budget::Budget>,
}

fn host_port(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// Parameters of `name:k=v;k=v`.
fn param<'a>(params: &'a str, key: &str) -> Option<&'a str> {
    params.split(';').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

fn answer(cmd: &str, id: &NodeIdentity, store: &Store, ctx: &ConnContext) -> String {
    let (name, params) = cmd.split_once(':').unwrap_or((cmd, ""));
    let ns_list = || store.namespaces().iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(";");
    match name {
        "node" => id.node.clone(),
        "build" => id.build.clone(),
        "version" => format!("{EDITION} {}", env!("CARGO_PKG_VERSION")),
        "edition" => EDITION.to_string(),
        "cluster-name" => id.cluster_name.clone().unwrap_or_else(|| "null".into()),
        "partition-generation" | "rebalance-generation" => id.cluster.partition_generation().to_string(),
        "peers-generation" => id.cluster.peers_generation().to_string(),
        "partitions" => N_PARTITIONS.to_string(),
        "replicas" => id.cluster.replicas(id.index, store),
        "service" | "services" | "service-clear-std" | "service-tls-std" => {
            id.access.clone().unwrap_or_else(|| host_port(&ctx.local))
        }
        "service-clear-alt" | "service-tls-alt" => id.alternate.clone().unwrap_or_else(|| host_port(&ctx.local)),
        "services-alternate" => id.alternate.clone().unwrap_or_default(),
        "services-alumni" => String::new(),
        n if n.starts_with("peers-") => {
            let host = match ctx.local.ip() {
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            };
            id.cluster.peers(id.index, &host)
        }
        "aerobench-node-stats" => id.cluster.counters(id.index).value(),
        "aerobench-fail-node" => {
            let node = param(params, "node").and_then(|n| n.parse::<usize>().ok());
            let length = param(params, "for_ms").and_then(|n| n.parse::<u64>().ok());
            match (node, length) {
                (Some(n), Some(ms)) if (1..=id.cluster.size()).contains(&n) && id.cluster.size() > 1 => {
                    let cluster = id.cluster.clone();
                    cluster.set_down(n - 1, true);
                    // Back after `for_ms`, on the runtime serving this request.
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                        cluster.set_down(n - 1, false);
                    });
                    "ok".into()
                }
                _ => format!("ERROR::node=1..{} of a cluster of at least 2, and for_ms, are needed", id.cluster.size()),
            }
        }
        "aerobench-cluster-stats" => id.cluster.stats(),
        "namespaces" => ns_list(),
        "rack-ids" => store.namespaces().iter().map(|n| format!("{}:0", n.name)).collect::<Vec<_>>().join(";"),
        "features" => "batch-any;batch-index;blob-bits;cdt-list;cdt-map;float;geo;pscans;query-show;\
                       partition-query;peers;replicas;truncate-namespace;udf"
            .into(),
        "status" => "ok".into(),
        "user-agent-set" => "ok".into(),
        "cluster-stable" => "1".into(),
        "aerobench-memory" => {
            format!("buffered={};peak={};limit={}", ctx.budget.used(), ctx.budget.peak(), ctx.budget.limit())
        }
        "aerobench-key-reads" => store.key_reads.answer(param(params, "reset") == Some("true")),
        "statistics" => {
            let objects: u64 = store.namespaces().iter().map(|n| n.count(None)).sum();
            format!("objects={objects};cluster_size={}", id.cluster.live())
        }
        n if n.starts_with("namespace/") => match store.namespace(n.trim_start_matches("namespace/").as_bytes()) {
            Some(ns) => format!(
                "objects={};replication-factor={};default-ttl=0;storage-engine=memory;strong-consistency=false",
                ns.count(None),
                id.cluster.replication
            ),
            None => "type=unknown".into(),
        },
        n if n.starts_with("sets/") || n == "sets" => {
            let wanted = n.strip_prefix("sets/");
            let mut out = String::new();
            for ns in store.namespaces().iter().filter(|ns| wanted.is_none_or(|w| w == ns.name)) {
                for (set, objects) in ns.sets() {
                    let _ = write!(out, "ns={}:set={}:objects={objects};", ns.name, String::from_utf8_lossy(&set));
                }
            }
            out
        }
        "truncate" | "truncate-namespace" => {
            let target = param(params, "namespace").and_then(|n| store.namespace(n.as_bytes()));
            match target {
                Some(ns) => {
                    ns.truncate(param(params, "set").map(str::as_bytes));
                    "ok".into()
                }
                None => "ERROR::namespace not found".into(),
            }
        }
        _ => String::new(),
    }
}

/// Answers an info request body: one `command\tvalue\n` line per command, in request order,
/// until the reply passes `max_reply` bytes; then one `error` line counts what was left out.
pub fn handle(body: &[u8], id: &NodeIdentity, store: &Store, ctx: &ConnContext, max_reply: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut commands = text.split('\n').filter(|c| !c.is_empty());
    for cmd in commands.by_ref() {
        let value = answer(cmd, id, store, ctx).replace(['\t', '\n'], " ");
        out.push_str(cmd);
        out.push('\t');
        out.push_str(&value);
        out.push('\n');
        if out.len() > max_reply {
            break;
        }
    }
    let left = commands.count();
    if left > 0 {
        let _ = writeln!(out, "error\tERROR::info reply passed {max_reply} bytes; {left} commands not answered");
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (NodeIdentity, Store, ConnContext) {
        (
            NodeIdentity {
                node: "BB9000000000001".into(),
                build: "8.1.0.0".into(),
                cluster_name: None,
                access: None,
                alternate: None,
                cluster: Arc::new(Cluster::single("BB9000000000001", 3000)),
                index: 0,
            },
            Store::new(&["test", "bar"]),
            ConnContext {
                local: "127.0.0.1:3000".parse().unwrap(),
                budget: super::super::budget::Budget::new(1 << 30),
            },
        )
    }

    fn ask(q: &str) -> String {
        let (id, store, ctx) = fixture();
        String::from_utf8(handle(q.as_bytes(), &id, &store, &ctx, MAX_REPLY)).unwrap()
    }

    #[test]
    fn replies_are_bounded() {
        let (id, store, ctx) = fixture();
        let reply = handle("replicas\n".repeat(100_000).as_bytes(), &id, &store, &ctx, 64 * 1024);
        let text = String::from_utf8(reply).unwrap();
        assert!(text.len() < 64 * 1024 + 4096, "{} bytes", text.len());
        let last = text.lines().last().unwrap();
        assert!(last.starts_with("error\tERROR::info reply passed 65536 bytes;"), "{last}");
        assert!(ask("aerobench-memory\n").starts_with("aerobench-memory\tbuffered=0;peak=0;limit="));
    }

    #[test]
    fn one_line_per_command_in_order_unknown_empty() {
        assert_eq!(
            ask("partition-generation\nnode\nno-such-thing\nbuild\n"),
            "partition-generation\t1\nnode\tBB9000000000001\nno-such-thing\t\nbuild\t8.1.0.0\n"
        );
        assert_eq!(ask("cluster-name\npeers-clear-std\n"), "cluster-name\tnull\npeers-clear-std\t1,3000,[]\n");
        assert_eq!(ask("service-clear-std"), "service-clear-std\t127.0.0.1:3000\n");
        assert!(ask("user-agent-set:value=YWJj\n").starts_with("user-agent-set:value=YWJj\tok\n"));
    }

    #[test]
    fn replicas_lists_every_namespace_without_trailing_semicolon() {
        let (id, store, _) = fixture();
        let r = id.cluster.replicas(0, &store);
        let parts: Vec<&str> = r.split(';').collect();
        assert_eq!(parts.len(), 2);
        for (p, ns) in parts.iter().zip(["test", "bar"]) {
            let (name, rest) = p.split_once(':').unwrap();
            assert_eq!(name, ns);
            let fields: Vec<&str> = rest.split(',').collect();
            assert_eq!(&fields[..2], &["0", "1"]);
            assert_eq!(fields[2].len(), 684);
            assert!(fields[2].ends_with("//8="));
        }
    }

    #[test]
    fn access_addresses_are_advertised_instead_of_the_dialled_one() {
        let (mut id, store, ctx) = fixture();
        let ask =
            |id: &NodeIdentity, q: &str| String::from_utf8(handle(q.as_bytes(), id, &store, &ctx, MAX_REPLY)).unwrap();
        assert_eq!(
            ask(&id, "services-alternate\nservice-clear-alt\n"),
            "services-alternate\t\nservice-clear-alt\t127.0.0.1:3000\n"
        );
        id.access = Some(parse_advertised("10.0.0.9").unwrap().with_default_port(3000));
        id.alternate = Some(parse_advertised("[::1]:4000").unwrap().with_default_port(3000));
        assert_eq!(
            ask(&id, "service\nservice-clear-std\nservices\nservice-clear-alt\nservices-alternate\npeers-clear-std\n"),
            "service\t10.0.0.9:3000\nservice-clear-std\t10.0.0.9:3000\nservices\t10.0.0.9:3000\n\
             service-clear-alt\t[::1]:4000\nservices-alternate\t[::1]:4000\npeers-clear-std\t1,3000,[]\n"
        );
        assert_eq!(parse_advertised("host.example:3100").unwrap().with_default_port(1), "host.example:3100");
        assert_eq!(parse_advertised("::1").unwrap().with_default_port(5), "[::1]:5");
        for bad in ["", ":3000", "h:0", "h:x", "[::1]x", "a;b", "h:70000"] {
            assert!(parse_advertised(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ipv6_service_is_bracketed() {
        assert_eq!(host_port(&"[::1]:3000".parse().unwrap()), "[::1]:3000");
    }
}

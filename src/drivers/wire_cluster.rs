//! The `wire` floor's view of the cluster: which nodes there are and which node is master of
//! each partition of the namespace, learnt as the clients learn it (docs/aerospike-wire-protocol.md
//! §2): `node` and `peers-clear-std` from the seed (`peers-clear-alt`, the nodes' alternate
//! addresses, with `--services-alternate`), then `replicas` from every node, on blocking sockets
//! before anything is timed. A partition nobody claims as master goes to the seed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use base64::Engine as _;

use super::wire_encode::PARTITIONS;

/// One node of the cluster, as the floor dials it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its `node` name.
    pub name: String,
    /// Where it listens, first answering address first.
    pub addrs: Vec<SocketAddr>,
}

/// The nodes (the seed first) and the master of every partition, as an index into `nodes`.
#[derive(Debug, Clone)]
pub struct PartitionMap {
    pub nodes: Vec<Node>,
    pub master: Vec<u16>,
    /// Partitions no node claimed as master (sent to the seed, which will refuse or proxy them).
    pub unowned: usize,
    /// Each node's `partition-generation` when the map was read: when one changes, or a node
    /// stops answering, the map is read again.
    pub generations: Vec<String>,
}

impl PartitionMap {
    /// The seed alone, owning everything: what the floor does when the seed tells it nothing.
    pub fn seed_only(addrs: Vec<SocketAddr>) -> PartitionMap {
        PartitionMap {
            nodes: vec![Node { name: String::new(), addrs }],
            master: vec![0; PARTITIONS as usize],
            unowned: 0,
            generations: Vec::new(),
        }
    }

    /// The node that is master of the partition of `digest`.
    pub fn node_of(&self, digest: &[u8; 20]) -> usize {
        usize::from(self.master[partition(digest)])
    }

    /// The partitions whose master is node `n`, in order.
    pub fn partitions_of(&self, n: usize) -> Vec<u16> {
        (0..PARTITIONS).filter(|&p| usize::from(self.master[usize::from(p)]) == n).collect()
    }
}

/// A digest's partition: its first two bytes little-endian, low 12 bits (§7).
pub fn partition(digest: &[u8; 20]) -> usize {
    usize::from(u16::from_le_bytes([digest[0], digest[1]])) & (PARTITIONS as usize - 1)
}

/// Sends one info request on `stream` and returns `(command, value)` pairs.
pub fn info(stream: &mut (impl Read + Write), commands: &[&str]) -> Result<Vec<(String, String)>, String> {
    let request: String = commands.iter().map(|c| format!("{c}\n")).collect();
    let mut frame = vec![2u8, 1];
    frame.extend_from_slice(&(request.len() as u64).to_be_bytes()[2..]);
    frame.extend_from_slice(request.as_bytes());
    stream.write_all(&frame).map_err(|e| format!("sending an info request failed: {e}"))?;
    let mut h = [0u8; 8];
    stream.read_exact(&mut h).map_err(|e| format!("no info reply: {e}"))?;
    if h[0] != 2 || h[1] != 1 {
        return Err("the reply is not an info reply".into());
    }
    let len = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]);
    if len > 16 << 20 {
        return Err(format!("an info reply of {len} bytes is implausibly long"));
    }
    let mut body = vec![0; len as usize];
    stream.read_exact(&mut body).map_err(|e| format!("info reply cut short: {e}"))?;
    Ok(String::from_utf8_lossy(&body)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

fn value<'a>(reply: &'a [(String, String)], name: &str) -> Result<&'a str, String> {
    reply.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).ok_or_else(|| format!("no {name} in the info reply"))
}

/// A peer in `peers-clear-std`: its node name and addresses (`host[:port]`, IPv6 bracketed).
#[derive(Debug, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub addrs: Vec<(String, u16)>,
}

/// Parses `gen,default_port,[[NAME,TLSNAME,[addr[:port],…]],…]`.
pub fn parse_peers(text: &str) -> Result<(u64, Vec<Peer>), String> {
    let bad = |why: &str| format!("peers value {text:?} does not parse: {why}");
    let (generation, rest) = text.split_once(',').ok_or_else(|| bad("no generation"))?;
    let generation = generation.trim().parse::<u64>().map_err(|_| bad("generation is not a number"))?;
    let (port, rest) = rest.split_once(',').ok_or_else(|| bad("no default port"))?;
    let default_port = if port.is_empty() { 3000 } else { port.parse::<u16>().map_err(|_| bad("bad default port"))? };
    let inner = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')).ok_or_else(|| bad("no peer list"))?;
    let mut peers = Vec::new();
    let mut s = inner;
    while !s.is_empty() {
        s = s.strip_prefix('[').ok_or_else(|| bad("a peer does not start with ["))?;
        let (name, r) = s.split_once(',').ok_or_else(|| bad("a peer has no name"))?;
        let (_tls, r) = r.split_once(',').ok_or_else(|| bad("a peer has no TLS name"))?;
        let mut r = r.strip_prefix('[').ok_or_else(|| bad("a peer has no address list"))?;
        let mut addrs = Vec::new();
        loop {
            if let Some(after) = r.strip_prefix(']') {
                r = after;
                break;
            }
            r = r.strip_prefix(',').unwrap_or(r);
            let (host, after) = if let Some(v6) = r.strip_prefix('[') {
                let (host, after) = v6.split_once(']').ok_or_else(|| bad("an IPv6 address is not closed"))?;
                (host.to_string(), after)
            } else {
                let end = r.find([':', ',', ']']).ok_or_else(|| bad("an address list is not closed"))?;
                (r[..end].to_string(), &r[end..])
            };
            let (port, after) = match after.strip_prefix(':') {
                Some(p) => {
                    let end = p.find([',', ']']).ok_or_else(|| bad("an address list is not closed"))?;
                    (p[..end].parse::<u16>().map_err(|_| bad("bad port"))?, &p[end..])
                }
                None => (default_port, after),
            };
            if host.is_empty() {
                return Err(bad("an empty address"));
            }
            addrs.push((host, port));
            r = after;
        }
        s = r.strip_prefix(']').ok_or_else(|| bad("a peer is not closed"))?;
        s = s.strip_prefix(',').unwrap_or(s);
        peers.push(Peer { name: name.to_string(), addrs });
    }
    Ok((generation, peers))
}

/// The partitions `namespace`'s `replicas` value gives this node as master (the first bitmap),
/// with the namespace's regime; `None` if the namespace is not listed.
pub fn parse_replicas(text: &str, namespace: &str) -> Result<Option<(u32, Vec<bool>)>, String> {
    for entry in text.split(';').filter(|e| !e.is_empty()) {
        let (ns, rest) = entry.split_once(':').ok_or_else(|| format!("replicas entry {entry:?} has no namespace"))?;
        if ns != namespace {
            continue;
        }
        let mut parts = rest.split(',');
        let regime = parts.next().and_then(|r| r.parse::<u32>().ok());
        let count = parts.next().and_then(|r| r.parse::<u32>().ok());
        let (Some(regime), Some(_), Some(bitmap)) = (regime, count, parts.next()) else {
            return Err(format!("replicas entry of {ns} is not regime,count,bitmap…"));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(bitmap)
            .map_err(|e| format!("replicas bitmap of {ns} is not base64: {e}"))?;
        if bytes.len() * 8 < PARTITIONS as usize {
            return Err(format!("replicas bitmap of {ns} has {} bytes, not 512", bytes.len()));
        }
        let owned = (0..PARTITIONS as usize).map(|p| bytes[p >> 3] & (0x80 >> (p & 7)) != 0).collect();
        return Ok(Some((regime, owned)));
    }
    Ok(None)
}

/// Opens a socket to the first of `addrs` that answers, with `timeout` on everything.
pub fn dial(addrs: &[SocketAddr], timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "the name resolved to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => {
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(timeout))?;
                s.set_write_timeout(Some(timeout))?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Which of its addresses a node's peers are dialled at: the ones they advertise, or their
/// alternate addresses (`--services-alternate`, for a server behind NAT or in a container).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerAddresses {
    #[default]
    Advertised,
    Alternate,
}

impl PeerAddresses {
    /// The info command that lists the peers at those addresses (clear text: the floor speaks no TLS).
    fn command(self) -> &'static str {
        match self {
            PeerAddresses::Advertised => "peers-clear-std",
            PeerAddresses::Alternate => "peers-clear-alt",
        }
    }
}

/// Learns the cluster from the seed at `seed`: its peers (at `peer_addresses`), then every
/// node's `replicas` for `namespace`. `login` logs each info connection in first, for a server
/// that requires it.
pub fn discover(
    seed: &[SocketAddr],
    timeout: Duration,
    login: &dyn Fn(&mut TcpStream) -> std::io::Result<()>,
    namespace: &str,
    peer_addresses: PeerAddresses,
) -> Result<PartitionMap, String> {
    let connect = |addrs: &[SocketAddr]| -> Result<TcpStream, String> {
        let mut s = dial(addrs, timeout).map_err(|e| format!("cannot connect: {e}"))?;
        login(&mut s).map_err(|e| format!("cannot log in: {e}"))?;
        Ok(s)
    };
    let mut stream = connect(seed)?;
    let peers_command = peer_addresses.command();
    let reply = info(&mut stream, &["node", peers_command])?;
    let seed_name = value(&reply, "node")?.to_string();
    let (_, peers) = parse_peers(value(&reply, peers_command)?)?;
    let mut nodes = vec![Node { name: seed_name, addrs: seed.to_vec() }];
    for peer in peers {
        let mut addrs = Vec::new();
        for (host, port) in &peer.addrs {
            if let Ok(found) = (host.as_str(), *port).to_socket_addrs() {
                addrs.extend(found);
            }
        }
        if addrs.is_empty() {
            return Err(format!("peer {} has no address that resolves", peer.name));
        }
        if peer.name != nodes[0].name {
            nodes.push(Node { name: peer.name, addrs });
        }
    }
    let mut master = vec![0u16; PARTITIONS as usize];
    let mut regime = vec![None::<u32>; PARTITIONS as usize];
    let mut generations = Vec::with_capacity(nodes.len());
    for (n, node) in nodes.iter().enumerate() {
        let mut s = if n == 0 { stream.try_clone().map_err(|e| e.to_string())? } else { connect(&node.addrs)? };
        let reply = info(&mut s, &["node", "partition-generation", "replicas"])?;
        generations.push(value(&reply, "partition-generation")?.to_string());
        let name = value(&reply, "node")?;
        if name != node.name {
            return Err(format!("node {} answered as {name}", node.name));
        }
        let Some((r, owned)) = parse_replicas(value(&reply, "replicas")?, namespace)? else { continue };
        for (p, _) in owned.iter().enumerate().filter(|(_, o)| **o) {
            if regime[p].is_none_or(|have| r >= have) {
                regime[p] = Some(r);
                master[p] = n as u16;
            }
        }
    }
    let unowned = regime.iter().filter(|r| r.is_none()).count();
    Ok(PartitionMap { nodes, master, unowned, generations })
}

/// Each node's `partition-generation` now, `None` for one that does not answer: compared with
/// [`PartitionMap::generations`] to tell whether the map is still current.
pub fn generations(
    map: &PartitionMap,
    timeout: Duration,
    login: &dyn Fn(&mut TcpStream) -> std::io::Result<()>,
) -> Vec<Option<String>> {
    map.nodes
        .iter()
        .map(|node| {
            let mut s = dial(&node.addrs, timeout).ok()?;
            login(&mut s).ok()?;
            let reply = info(&mut s, &["partition-generation"]).ok()?;
            value(&reply, "partition-generation").ok().map(str::to_string)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node answering info requests from `answers` (command → value) on its own thread, as
    /// many connections as come; its address.
    fn info_node(answers: Vec<(&'static str, String)>) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let mut h = [0u8; 8];
                while stream.read_exact(&mut h).is_ok() {
                    let len = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]) as usize;
                    let mut body = vec![0; len];
                    if stream.read_exact(&mut body).is_err() {
                        break;
                    }
                    let reply: String = String::from_utf8_lossy(&body)
                        .lines()
                        .filter_map(|c| answers.iter().find(|(k, _)| *k == c).map(|(k, v)| format!("{k}\t{v}\n")))
                        .collect();
                    let mut frame = vec![2u8, 1];
                    frame.extend_from_slice(&(reply.len() as u64).to_be_bytes()[2..]);
                    frame.extend_from_slice(reply.as_bytes());
                    let _ = stream.write_all(&frame);
                }
            }
        });
        addr
    }

    #[test]
    fn with_services_alternate_the_peers_are_dialled_at_their_alternate_addresses() {
        let all = base64::engine::general_purpose::STANDARD.encode([0xFF; 512]);
        let peer = info_node(vec![
            ("node", "B".into()),
            ("partition-generation", "1".into()),
            ("replicas", format!("test:1,1,{all}")),
        ]);
        // The address the peer advertises is closed (a server behind NAT); its alternate is open.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let seed = info_node(vec![
            ("node", "A".into()),
            ("partition-generation", "1".into()),
            ("replicas", "test:0,1,".to_string() + &base64::engine::general_purpose::STANDARD.encode([0; 512])),
            ("peers-clear-std", format!("1,3000,[[B,,[{closed}]]]")),
            ("peers-clear-alt", format!("1,3000,[[B,,[{peer}]]]")),
        ]);
        let login = |_: &mut TcpStream| Ok(());
        let timeout = Duration::from_secs(5);
        let map = discover(&[seed], timeout, &login, "test", PeerAddresses::Alternate).unwrap();
        assert_eq!(map.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(map.nodes[1].addrs, [peer], "the alternate address");
        assert!(map.master.iter().all(|&m| m == 1), "B masters every partition");
        let err = discover(&[seed], timeout, &login, "test", PeerAddresses::Advertised).unwrap_err();
        assert!(err.contains("cannot connect"), "the advertised address is closed: {err}");
    }

    #[test]
    fn peers_parse_as_the_clients_parse_them() {
        assert_eq!(parse_peers("1,3000,[]").unwrap(), (1, vec![]));
        let (g, peers) =
            parse_peers("7,3000,[[BB9020011AC4202,,[127.0.0.1:3210]],[BB9030011AC4202,,[127.0.0.1,[::1]:3220]]]")
                .unwrap();
        assert_eq!(g, 7);
        assert_eq!(peers.len(), 2);
        assert_eq!(peers[0], Peer { name: "BB9020011AC4202".into(), addrs: vec![("127.0.0.1".into(), 3210)] });
        assert_eq!(peers[1].addrs, vec![("127.0.0.1".into(), 3000), ("::1".into(), 3220)]);
        for bad in ["", "1", "x,3000,[]", "1,3000,[[a,,[h:1]]", "1,3000,[[a,,[h:x]]]", "1,3000,[[a]]"] {
            assert!(parse_peers(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn replicas_give_the_master_bitmap_of_the_namespace() {
        let mut bits = [0u8; 512];
        bits[0] = 0x80; // partition 0
        bits[511] = 0x01; // partition 4095
        let b64 = base64::engine::general_purpose::STANDARD.encode(bits);
        let all = base64::engine::general_purpose::STANDARD.encode([0xFF; 512]);
        let text = format!("bar:0,1,{all};test:3,2,{b64},{all}");
        let (regime, owned) = parse_replicas(&text, "test").unwrap().unwrap();
        assert_eq!(regime, 3);
        let mine: Vec<usize> = owned.iter().enumerate().filter(|(_, o)| **o).map(|(p, _)| p).collect();
        assert_eq!(mine, [0, 4095], "only the first (master) bitmap counts");
        assert!(parse_replicas(&text, "other").unwrap().is_none());
        assert!(parse_replicas("test:0,1,!!", "test").is_err());
        assert!(parse_replicas("test:0", "test").is_err());
    }

    #[test]
    fn partitions_follow_the_digest_and_the_map() {
        let mut d = [0u8; 20];
        d[0] = 0x34;
        d[1] = 0xF2;
        assert_eq!(partition(&d), 0x234);
        let mut map = PartitionMap::seed_only(vec![]);
        map.nodes.push(Node { name: "B".into(), addrs: vec![] });
        map.master[0x234] = 1;
        assert_eq!(map.node_of(&d), 1);
        assert_eq!(map.partitions_of(1), [0x234]);
        assert_eq!(map.partitions_of(0).len(), 4095);
    }
}

//! Starts and stops a cluster of nodes, each a separate OS process of the suite's binary in
//! node mode, optionally each in its own network namespace, with etcd beside them.
//!
//! Teardown happens on every exit path: the harness holds each node's stdin (a node exits
//! when it closes), children are killed when their handle drops, and every child also gets
//! `SIGKILL` from the kernel if the harness process dies (`PR_SET_PDEATHSIG`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tarpc::{client, context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::etcd_server::{EtcdCluster, EtcdConfig, MemberHost};
use crate::netns::{ClusterNet, NetOptions};
use crate::wire::NodeApiClient;

/// How partitions are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkMode {
    /// Namespaces if this machine allows them, else fault injection.
    Auto,
    /// Every node on loopback; partitions by fault injection in the transport and gossip.
    FaultInjection,
    /// Every node in its own network namespace; partitions cut real links (needs root).
    Namespaces,
}

/// What cluster to start.
#[derive(Clone, Debug)]
pub struct ClusterOpts {
    /// How many nodes (3 to 5 in the workloads).
    pub nodes: usize,
    /// The suite's binary, run as `<binary> node ...`.
    pub binary: PathBuf,
    /// Start a 3-member etcd cluster and give every node global names.
    pub etcd: bool,
    /// Run etcd member `i` inside the namespace of node `i * nodes / 3`, on that node's
    /// address, instead of in the harness' namespace on the bridge: a partition then cuts
    /// etcd's peers too, so the side holding most members keeps quorum and the other loses
    /// it. Needs at least 3 nodes; honoured only in namespace mode (in fault-injection mode
    /// etcd stays beside the harness: see [`Cluster::etcd_member_nodes`]).
    pub etcd_with_nodes: bool,
    /// How partitions are made.
    pub network: NetworkMode,
    /// The etcd lease TTL of every node, in seconds.
    pub lease_ttl_secs: i64,
}

impl ClusterOpts {
    /// `nodes` nodes of `binary`, with etcd, partitions as the machine allows, or as
    /// `NAMING_BENCH_NET` says (`netns`, `fault-injection`, `auto`).
    pub fn new(nodes: usize, binary: impl Into<PathBuf>) -> Self {
        let network = match std::env::var("NAMING_BENCH_NET").as_deref() {
            Ok("netns") => NetworkMode::Namespaces,
            Ok("fault-injection") => NetworkMode::FaultInjection,
            _ => NetworkMode::Auto,
        };
        ClusterOpts {
            nodes,
            binary: binary.into(),
            etcd: true,
            etcd_with_nodes: false,
            network,
            lease_ttl_secs: 2,
        }
    }
}

/// Why a cluster could not start or be driven.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// etcd could not start.
    #[error("etcd: {0}")]
    Etcd(String),
    /// Network namespaces could not be set up.
    #[error("network namespaces: {0}")]
    Net(String),
    /// A node process could not start or did not become ready.
    #[error("node {node}: {why}")]
    Node {
        /// Which node.
        node: u32,
        /// What went wrong.
        why: String,
    },
    /// A control call to a node failed.
    #[error("control call to node {0} failed: {1}")]
    Control(u32, String),
}

struct NodeProcess {
    id: u32,
    /// The incarnation this process runs (1 at the start, one more per restart).
    creation: u32,
    child: Child,
    _stdin: ChildStdin,
}

/// How to start a node of this cluster: what [`Cluster::restart`] needs to start one again.
struct Launch {
    binary: PathBuf,
    cluster_id: String,
    lease_ttl_secs: i64,
    endpoints: Vec<String>,
    /// Every node: `(id, rpc address, gossip address)`.
    addrs: Vec<(u32, SocketAddr, SocketAddr)>,
}

impl Launch {
    /// Spawns the process of the `i`th node as incarnation `creation`.
    fn spawn(
        &self,
        i: usize,
        creation: u32,
        net: Option<&ClusterNet>,
    ) -> Result<(NodeProcess, ChildStdout), ClusterError> {
        let (id, rpc, gossip) = self.addrs[i];
        let mut cmd = match net {
            Some(n) => n
                .command(i, &self.binary)
                .map_err(|e| ClusterError::Net(e.to_string()))?,
            None => Command::new(&self.binary),
        };
        cmd.arg("node")
            .arg("--id")
            .arg(id.to_string())
            .arg("--rpc")
            .arg(rpc.to_string())
            .arg("--gossip")
            .arg(gossip.to_string())
            .arg("--cluster-id")
            .arg(&self.cluster_id)
            .arg("--lease-ttl")
            .arg(self.lease_ttl_secs.to_string())
            .arg("--creation")
            .arg(creation.to_string());
        for (id, rpc, g) in &self.addrs {
            cmd.arg("--node").arg(format!("{id}={rpc},{g}"));
        }
        if !self.endpoints.is_empty() {
            cmd.arg("--etcd").arg(self.endpoints.join(","));
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        die_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| ClusterError::Node {
            node: id,
            why: format!("spawn {}: {e}", self.binary.display()),
        })?;
        let stdin = child.stdin.take().ok_or_else(|| ClusterError::Node {
            node: id,
            why: "no stdin".into(),
        })?;
        let stdout = child.stdout.take().ok_or_else(|| ClusterError::Node {
            node: id,
            why: "no stdout".into(),
        })?;
        Ok((
            NodeProcess {
                id,
                creation,
                child,
                _stdin: stdin,
            },
            stdout,
        ))
    }
}

/// Waits until node `p` prints `READY <id>`, then keeps draining its stdout.
async fn wait_ready(p: NodeProcess, stdout: ChildStdout) -> Result<NodeProcess, ClusterError> {
    let id = p.id;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(READY_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim() == format!("READY {id}") {
                return true;
            }
        }
        false
    })
    .await;
    if ready != Ok(true) {
        return Err(ClusterError::Node {
            node: id,
            why: "did not become ready (see its stderr above)".into(),
        });
    }
    // Keep draining stdout so the node never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(p)
}

/// A control client of node `id` at `rpc`.
async fn control_client(id: u32, rpc: SocketAddr) -> Result<NodeApiClient, ClusterError> {
    let transport = crate::node::connect(rpc)
        .await
        .map_err(|e| ClusterError::Node {
            node: id,
            why: format!("control connection: {e}"),
        })?;
    Ok(NodeApiClient::new(client::Config::default(), transport).spawn())
}

/// A running cluster. Dropping it stops every node, etcd and the namespaces.
pub struct Cluster {
    nodes: Vec<NodeProcess>,
    clients: Vec<(u32, NodeApiClient)>,
    launch: Launch,
    /// Per node (in `launch.addrs` order), the creation it last started as.
    last_creation: Vec<u32>,
    // Field order is drop order: nodes first, then etcd, then the network under them.
    etcd: Option<EtcdCluster>,
    /// The node whose namespace each etcd member runs in; empty where etcd runs in the
    /// harness' namespace (or not at all).
    etcd_nodes: Vec<u32>,
    net: Option<ClusterNet>,
    mode: NetworkMode,
}

/// How long a node may take to print `READY`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

impl Cluster {
    /// Starts etcd (if asked) and `opts.nodes` node processes, and waits until every node
    /// is ready and sees every other as a live member.
    pub async fn start(opts: ClusterOpts) -> Result<Cluster, ClusterError> {
        let want_ns = match opts.network {
            NetworkMode::FaultInjection => false,
            NetworkMode::Namespaces => {
                ClusterNet::available().map_err(ClusterError::Net)?;
                true
            }
            NetworkMode::Auto => ClusterNet::available().is_ok(),
        };
        let net = if want_ns {
            // Leftovers of runs that died before their teardown (their owner pid is gone).
            let _ = ClusterNet::cleanup_stale(crate::netns::DEFAULT_PREFIX);
            Some(
                ClusterNet::create(opts.nodes, NetOptions::default())
                    .map_err(|e| ClusterError::Net(e.to_string()))?,
            )
        } else {
            None
        };
        let mode = if want_ns {
            NetworkMode::Namespaces
        } else {
            NetworkMode::FaultInjection
        };
        let host_ip = net
            .as_ref()
            .map(|n| IpAddr::V4(n.bridge_ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let mut etcd_nodes = Vec::new();
        let etcd = if opts.etcd {
            let mut cfg = EtcdConfig {
                ip: host_ip,
                ..EtcdConfig::default()
            };
            if let (true, Some(n)) = (opts.etcd_with_nodes, &net) {
                if opts.nodes < cfg.members {
                    return Err(ClusterError::Etcd(format!(
                        "placing {} etcd members with the nodes needs at least as many nodes, not {}",
                        cfg.members, opts.nodes
                    )));
                }
                for m in 0..cfg.members {
                    let i = m * opts.nodes / cfg.members;
                    let ip = n.node_ip(i).map_err(|e| ClusterError::Net(e.to_string()))?;
                    let ns = n
                        .netns_name(i)
                        .map_err(|e| ClusterError::Net(e.to_string()))?;
                    cfg.hosts.push(MemberHost {
                        ip: IpAddr::V4(ip),
                        netns: Some(ns.to_string()),
                    });
                    etcd_nodes.push(i as u32 + 1);
                }
            }
            Some(
                EtcdCluster::start(cfg)
                    .await
                    .map_err(|e| ClusterError::Etcd(e.to_string()))?,
            )
        } else {
            None
        };
        let endpoints = etcd.as_ref().map(|e| e.endpoints()).unwrap_or_default();
        let cluster_id = format!("nb{}-{}", std::process::id(), unique());
        // Addresses: in namespaces every node has its own IP and fixed ports; on loopback
        // every node gets free ports.
        let mut addrs = Vec::new();
        for i in 0..opts.nodes {
            let id = i as u32 + 1;
            let (rpc, gossip) = match &net {
                Some(n) => {
                    let ip =
                        IpAddr::V4(n.node_ip(i).map_err(|e| ClusterError::Net(e.to_string()))?);
                    (SocketAddr::new(ip, 7100), SocketAddr::new(ip, 7101))
                }
                None => (free_tcp_port()?, free_udp_port()?),
            };
            addrs.push((id, rpc, gossip));
        }
        let launch = Launch {
            binary: opts.binary.clone(),
            cluster_id,
            lease_ttl_secs: opts.lease_ttl_secs,
            endpoints,
            addrs: addrs.clone(),
        };
        let mut spawned = Vec::new();
        for i in 0..addrs.len() {
            spawned.push(launch.spawn(i, 1, net.as_ref())?);
        }
        let mut procs = Vec::new();
        for (p, stdout) in spawned {
            procs.push(wait_ready(p, stdout).await?);
        }
        let mut clients = Vec::new();
        for &(id, rpc, _) in &addrs {
            clients.push((id, control_client(id, rpc).await?));
        }
        let cluster = Cluster {
            nodes: procs,
            clients,
            last_creation: vec![1; launch.addrs.len()],
            launch,
            etcd,
            etcd_nodes,
            net,
            mode,
        };
        let all: Vec<u32> = cluster.ids();
        cluster
            .wait_members(&all, &all, Duration::from_secs(20))
            .await?;
        Ok(cluster)
    }

    /// The node ids, in order.
    pub fn ids(&self) -> Vec<u32> {
        self.clients.iter().map(|(id, _)| *id).collect()
    }

    /// The etcd lease TTL every node was started with.
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_secs(self.launch.lease_ttl_secs.max(0) as u64)
    }

    /// The etcd cluster beside the nodes, if one was started.
    pub fn etcd(&self) -> Option<&EtcdCluster> {
        self.etcd.as_ref()
    }

    /// The node whose namespace (and address) each etcd member runs in, in member order:
    /// empty where etcd runs in the harness' namespace, reached by every node whatever the
    /// partition ([`ClusterOpts::etcd_with_nodes`] unset, or no namespaces).
    pub fn etcd_member_nodes(&self) -> &[u32] {
        &self.etcd_nodes
    }

    /// The etcd cluster beside the nodes, to kill and restart members.
    pub fn etcd_mut(&mut self) -> Option<&mut EtcdCluster> {
        self.etcd.as_mut()
    }

    /// Node `id`'s index in the launch order (its namespace, its creation slot).
    fn index_of(&self, id: u32) -> Result<usize, ClusterError> {
        self.launch
            .addrs
            .iter()
            .position(|(n, _, _)| *n == id)
            .ok_or_else(|| ClusterError::Control(id, "no such node".into()))
    }

    /// Cuts node `id` off from every etcd member (`cut = false` restores it) while its links
    /// to the other nodes, and theirs to etcd, stay up. Needs network namespaces: a
    /// [`ClusterError::Net`] in fault-injection mode. With etcd placed with the nodes
    /// ([`ClusterOpts::etcd_with_nodes`]), a member in node `id`'s own namespace stays
    /// reachable to it (local addresses are routed before the blocking rule), and the
    /// members' peer traffic is not cut.
    pub fn cut_from_etcd(&self, id: u32, cut: bool) -> Result<(), ClusterError> {
        let net = self.net.as_ref().ok_or_else(|| {
            ClusterError::Net("cutting a node from etcd needs network namespaces".into())
        })?;
        let i = self.index_of(id)?;
        for endpoint in &self.launch.endpoints {
            let port: u16 = endpoint
                .rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse().ok())
                .ok_or_else(|| ClusterError::Etcd(format!("no port in {endpoint}")))?;
            let r = if cut {
                net.block_port(i, port)
            } else {
                net.unblock_port(i, port)
            };
            r.map_err(|e| ClusterError::Net(e.to_string()))?;
        }
        Ok(())
    }

    /// Impairs node `id`'s link with `tc netem` (`None` restores it). Needs network
    /// namespaces and the kernel's `sch_netem`: a [`ClusterError::Net`] saying which is
    /// missing otherwise.
    pub fn impair(&self, id: u32, netem: Option<&crate::netns::Netem>) -> Result<(), ClusterError> {
        let net = self
            .net
            .as_ref()
            .ok_or_else(|| ClusterError::Net("link impairment needs network namespaces".into()))?;
        let i = self.index_of(id)?;
        net.impair(i, netem)
            .map_err(|e| ClusterError::Net(e.to_string()))
    }

    /// How partitions are made in this cluster.
    pub fn mode(&self) -> NetworkMode {
        self.mode
    }

    /// The control client of node `id`.
    pub fn client(&self, id: u32) -> Result<&NodeApiClient, ClusterError> {
        self.clients
            .iter()
            .find(|(n, _)| *n == id)
            .map(|(_, c)| c)
            .ok_or_else(|| ClusterError::Control(id, "no such node".into()))
    }

    /// A control-call context with a deadline.
    pub fn ctx(deadline: Duration) -> context::Context {
        let mut ctx = context::current();
        ctx.deadline = process_runtime::deadline_after(deadline);
        ctx
    }

    /// Waits until each of `observers` sees exactly `members` as live.
    pub async fn wait_members(
        &self,
        observers: &[u32],
        members: &[u32],
        within: Duration,
    ) -> Result<Duration, ClusterError> {
        let t0 = std::time::Instant::now();
        let mut want = members.to_vec();
        want.sort_unstable();
        loop {
            let mut all = true;
            for &id in observers {
                let seen = self
                    .client(id)?
                    .members(Self::ctx(Duration::from_secs(2)))
                    .await
                    .map_err(|e| ClusterError::Control(id, e.to_string()))?;
                if seen != want {
                    all = false;
                    break;
                }
            }
            if all {
                return Ok(t0.elapsed());
            }
            if t0.elapsed() > within {
                return Err(ClusterError::Control(
                    observers.first().copied().unwrap_or(0),
                    format!("members did not become {want:?} within {within:?}"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Cuts the cluster into `groups` of node ids: no traffic between groups, both ways.
    pub async fn partition(&self, groups: &[Vec<u32>]) -> Result<(), ClusterError> {
        match &self.net {
            Some(net) => {
                let idx: Vec<Vec<usize>> = groups
                    .iter()
                    .map(|g| g.iter().map(|id| *id as usize - 1).collect())
                    .collect();
                net.partition(&idx)
                    .map_err(|e| ClusterError::Net(e.to_string()))
            }
            None => {
                for g in groups {
                    let others: Vec<u32> = self
                        .ids()
                        .into_iter()
                        .filter(|id| !g.contains(id))
                        .collect();
                    for &id in g {
                        self.client(id)?
                            .isolate_from(Self::ctx(Duration::from_secs(2)), others.clone())
                            .await
                            .map_err(|e| ClusterError::Control(id, e.to_string()))?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Restores every link.
    pub async fn heal(&self) -> Result<(), ClusterError> {
        match &self.net {
            Some(net) => net.heal().map_err(|e| ClusterError::Net(e.to_string())),
            None => {
                for id in self.ids() {
                    self.client(id)?
                        .isolate_from(Self::ctx(Duration::from_secs(2)), Vec::new())
                        .await
                        .map_err(|e| ClusterError::Control(id, e.to_string()))?;
                }
                Ok(())
            }
        }
    }

    /// Kills node `id`'s OS process with `SIGKILL`: a real crash, nothing is cleaned up.
    pub async fn crash(&mut self, id: u32) -> Result<(), ClusterError> {
        self.crash_all(&[id]).await
    }

    /// Kills the OS processes of all of `ids` with `SIGKILL` at once (every signal is sent
    /// before any is reaped), as a power loss takes several machines together.
    pub async fn crash_all(&mut self, ids: &[u32]) -> Result<(), ClusterError> {
        let mut victims = Vec::new();
        for &id in ids {
            let i = self
                .nodes
                .iter()
                .position(|n| n.id == id)
                .ok_or_else(|| ClusterError::Control(id, "no such node".into()))?;
            let mut p = self.nodes.remove(i);
            p.child.start_kill().map_err(|e| ClusterError::Node {
                node: id,
                why: e.to_string(),
            })?;
            victims.push(p);
        }
        for mut p in victims {
            let id = p.id;
            tokio::time::timeout(Duration::from_secs(5), p.child.wait())
                .await
                .map_err(|_| ClusterError::Node {
                    node: id,
                    why: "still running 5 s after SIGKILL".into(),
                })?
                .map_err(|e| ClusterError::Node {
                    node: id,
                    why: e.to_string(),
                })?;
            self.clients.retain(|(n, _)| *n != id);
        }
        Ok(())
    }

    /// Starts node `id` again, same id and addresses, as a new incarnation (its pids carry
    /// a creation one higher than the last); `SIGKILL`s it first if it still runs. Returns
    /// once it is ready and reachable; membership is the caller's to wait for
    /// ([`wait_members`](Self::wait_members)).
    pub async fn restart(&mut self, id: u32) -> Result<u32, ClusterError> {
        let i = self.index_of(id)?;
        if self.nodes.iter().any(|n| n.id == id) {
            self.crash(id).await?;
        }
        let creation = self.last_creation[i] + 1;
        self.last_creation[i] = creation;
        let (p, stdout) = self.launch.spawn(i, creation, self.net.as_ref())?;
        let p = wait_ready(p, stdout).await?;
        self.nodes.push(p);
        let client = control_client(id, self.launch.addrs[i].1).await?;
        self.clients.push((id, client));
        self.clients.sort_by_key(|(n, _)| *n);
        Ok(creation)
    }

    /// The creation (incarnation) node `id` runs as: 1 at the start, one more per restart.
    pub fn creation(&self, id: u32) -> Option<u32> {
        self.nodes.iter().find(|n| n.id == id).map(|n| n.creation)
    }

    /// Freezes node `id`'s OS process with `SIGSTOP` (a stalled VM, a long GC pause): it
    /// neither sends nor answers until [`resume`](Self::resume), and its sockets stay open.
    pub fn pause(&self, id: u32) -> Result<(), ClusterError> {
        self.signal(id, libc::SIGSTOP)
    }

    /// Lets a paused node run again (`SIGCONT`).
    pub fn resume(&self, id: u32) -> Result<(), ClusterError> {
        self.signal(id, libc::SIGCONT)
    }

    fn signal(&self, id: u32, signal: libc::c_int) -> Result<(), ClusterError> {
        let pid = self
            .nodes
            .iter()
            .find(|n| n.id == id)
            .and_then(|n| n.child.id())
            .ok_or_else(|| ClusterError::Control(id, "no such running node".into()))?;
        // SAFETY: kill(2) on a child this harness spawned and has not reaped.
        if unsafe { libc::kill(pid as libc::pid_t, signal) } != 0 {
            return Err(ClusterError::Node {
                node: id,
                why: format!("signal {signal}: {}", std::io::Error::last_os_error()),
            });
        }
        Ok(())
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn free_tcp_port() -> Result<SocketAddr, ClusterError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| ClusterError::Net(format!("no free TCP port: {e}")))?;
    l.local_addr()
        .map_err(|e| ClusterError::Net(format!("no free TCP port: {e}")))
}

fn free_udp_port() -> Result<SocketAddr, ClusterError> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")
        .map_err(|e| ClusterError::Net(format!("no free UDP port: {e}")))?;
    s.local_addr()
        .map_err(|e| ClusterError::Net(format!("no free UDP port: {e}")))
}

/// Asks the kernel to `SIGKILL` the child when the harness dies, whatever the exit path.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

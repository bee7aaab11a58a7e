//! A running node: its backends, its tarpc server, and the node-mode entry point.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use naming_strategies::{Naming, NamingError, Registry};
use process_runtime::{CallError, Name, Pid};
use tarpc::context;
use tarpc::server::{BaseChannel, Channel};

use crate::global::GlobalNames;
use crate::global_names::{EtcdNames, GlobalOpts};
use crate::gossip::{Faults, Gossip, GossipConfig};
use crate::gossip_names::GossipNames;
use crate::node::{spawn_echo, NodeCore};
use crate::ring::RingNames;
use crate::wire::{
    Backend, NodeApi, NodeStats, Payload, ProbeReport, WireCallError, WireExitReason,
    WireNamingError, WirePid,
};

/// Where a node listens, who its peers are, and where etcd is.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id (its pids name it); ids start at 1.
    pub id: u32,
    /// The address its tarpc server listens on.
    pub rpc: SocketAddr,
    /// The address its gossip (UDP) listens on.
    pub gossip: SocketAddr,
    /// Every node of the cluster: `(id, rpc address, gossip address)`; may include this one.
    pub nodes: Vec<(u32, SocketAddr, SocketAddr)>,
    /// etcd client endpoints (`http://ip:port`); empty: no global names on this node.
    pub etcd: Vec<String>,
    /// The etcd lease TTL of this node, in seconds: how long its names outlive a crash.
    pub lease_ttl_secs: i64,
    /// The gossip cluster id and etcd key prefix, so that clusters cannot mix.
    pub cluster_id: String,
    /// This incarnation of the node (the creation its pids carry); a node restarted under
    /// the same id must get a new one. `None`: derived from the start time.
    pub creation: Option<u32>,
}

/// A creation from the start time (microseconds, wrapping every ~71 minutes; never `0`, the
/// creation of runtimes that have none): two starts of a node differ unless they are exactly
/// a wrap apart.
pub fn creation_from_clock() -> u32 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    (micros as u32).max(1)
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The tarpc listener could not bind.
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    /// The gossip layer could not start.
    #[error("gossip: {0}")]
    Gossip(String),
    /// etcd could not be reached.
    #[error("etcd: {0}")]
    Etcd(String),
    /// The runtime given names another node than the configuration.
    #[error("node id {config} in the configuration, but the runtime's pids name node {runtime}")]
    NodeId {
        /// The configured id.
        config: u32,
        /// The runtime's node.
        runtime: u32,
    },
}

/// A node: the runtime and its four naming backends (the single-node reference and the
/// three distributed designs), serving [`NodeApi`].
pub struct Node {
    core: Arc<NodeCore>,
    local: Registry,
    global: Option<GlobalNames>,
    gossip_names: GossipNames,
    ring: RingNames,
    gossip: Arc<Gossip>,
    faults: Faults,
    gossip_addrs: Vec<(u32, SocketAddr)>,
    group_inbox: Arc<GroupInbox>,
}

/// What this node's group members (see [`Node::join_group`]) received: per group, the
/// delivery latency of each message, until the harness collects them.
#[derive(Default)]
struct GroupInbox(parking_lot::Mutex<std::collections::HashMap<String, Vec<u64>>>);

/// The payload of a dispatched group message: the sender's unix-nanosecond clock, so the
/// receiver can time the delivery (the nodes share the machine's clock).
fn stamped_payload() -> Payload {
    Payload(crate::ring::now_stamp().to_le_bytes().to_vec())
}

/// A group member: records the delivery latency of every stamped message under `group`;
/// answers calls like an echo worker.
fn spawn_group_member(
    runtime: &process_runtime::Runtime,
    inbox: Arc<GroupInbox>,
    group: String,
) -> process_runtime::ProcessRef {
    use process_runtime::{CallRequest, Envelope};
    runtime.spawn(move |mut ctx: process_runtime::Ctx| async move {
        loop {
            match ctx.recv().await {
                Envelope::Info(msg) | Envelope::Cast(msg) => {
                    let Ok(payload) = msg.downcast::<Payload>() else {
                        continue;
                    };
                    let Ok(stamp) = <[u8; 8]>::try_from(payload.0.as_slice()) else {
                        continue;
                    };
                    let took = crate::ring::now_stamp().saturating_sub(u64::from_le_bytes(stamp));
                    inbox.0.lock().entry(group.clone()).or_default().push(took);
                }
                Envelope::Call(call) => match call.downcast::<Payload, Payload>() {
                    Ok(CallRequest { request, reply_to }) => reply_to.reply(request),
                    Err(other) => other.reject(),
                },
                Envelope::Down(_) | Envelope::Exit(_) => {}
            }
        }
    })
}

/// Runs `$body` with `$n` bound to the backend `$b` of node `$node` (static dispatch: the
/// `Naming` trait has generic methods). `$none` is the value where the backend is absent.
macro_rules! on_backend {
    ($node:expr, $b:expr, |$n:ident| $body:expr, $none:expr) => {
        match $b {
            Backend::Local => {
                let $n = &$node.local;
                $body
            }
            Backend::Gossip => {
                let $n = &$node.gossip_names;
                $body
            }
            Backend::Ring => {
                let $n = &$node.ring;
                $body
            }
            Backend::Global => match &$node.global {
                Some($n) => $body,
                None => $none,
            },
        }
    };
}

impl Node {
    /// Starts node `cfg.id`: its gossip membership, etcd table (if configured) and backends,
    /// then serves its API. Returns once it listens.
    pub async fn start(cfg: NodeConfig) -> Result<Arc<Node>, NodeError> {
        let creation = cfg.creation.unwrap_or_else(creation_from_clock);
        let runtime = process_runtime::Runtime::with_creation(cfg.id, creation);
        Self::start_with_runtime(cfg, runtime).await
    }

    /// A one-node cluster on loopback over an existing runtime, no etcd: what the
    /// conformance suite runs the gossip and ring backends on (their processes are the
    /// runtime's, so they live on this node).
    pub async fn single(runtime: process_runtime::Runtime) -> Result<Arc<Node>, NodeError> {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let cfg = NodeConfig {
            id: runtime.node(),
            rpc: any,
            gossip: any,
            nodes: Vec::new(),
            etcd: Vec::new(),
            lease_ttl_secs: 2,
            cluster_id: format!("single-{}", std::process::id()),
            creation: Some(runtime.creation()),
        };
        Self::start_with_runtime(cfg, runtime).await
    }

    /// [`start`](Self::start) with an existing runtime, whose node id must be `cfg.id`.
    pub async fn start_with_runtime(
        cfg: NodeConfig,
        runtime: process_runtime::Runtime,
    ) -> Result<Arc<Node>, NodeError> {
        if runtime.node() != cfg.id {
            return Err(NodeError::NodeId {
                config: cfg.id,
                runtime: runtime.node(),
            });
        }
        let peers: Vec<(u32, SocketAddr)> =
            cfg.nodes.iter().map(|&(id, rpc, _)| (id, rpc)).collect();
        let core = NodeCore::with_runtime(runtime, &peers);
        // A freeze matters where peers can declare this node dead meanwhile.
        if !core.peer_ids().is_empty() {
            core.start_freeze_watchdog();
        }
        let faults = Faults::default();
        let seeds = cfg
            .nodes
            .iter()
            .filter(|(id, _, _)| *id != cfg.id)
            .map(|&(_, _, g)| g)
            .collect();
        let mut gossip_cfg = GossipConfig::new(cfg.id, cfg.gossip, seeds);
        gossip_cfg.cluster_id = cfg.cluster_id.clone();
        gossip_cfg.faults = faults.clone();
        let gossip = Arc::new(
            Gossip::start(gossip_cfg)
                .await
                .map_err(|e| NodeError::Gossip(e.to_string()))?,
        );
        let global = if cfg.etcd.is_empty() {
            None
        } else {
            let opts = GlobalOpts {
                prefix: format!("/naming-bench/{}", cfg.cluster_id),
                lease_ttl_secs: cfg.lease_ttl_secs,
                ..GlobalOpts::default()
            };
            let table = EtcdNames::connect(cfg.etcd.clone(), cfg.id, opts)
                .await
                .map_err(|e| NodeError::Etcd(e.to_string()))?;
            Some(GlobalNames::start(Arc::clone(&core), table))
        };
        let gossip_names = GossipNames::start(Arc::clone(&core), Arc::clone(&gossip));
        let ring = RingNames::start(Arc::clone(&core), gossip.members());
        let node = Arc::new(Node {
            core,
            local: Registry::new(4),
            global,
            gossip_names,
            ring,
            gossip,
            faults,
            gossip_addrs: cfg.nodes.iter().map(|&(id, _, g)| (id, g)).collect(),
            group_inbox: Arc::default(),
        });
        let listener = tokio::net::TcpListener::bind(cfg.rpc)
            .await
            .map_err(|e| NodeError::Listen(cfg.rpc, e))?;
        let server = NodeServer(Arc::clone(&node));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let Ok(transport) = crate::node::transport(stream) else {
                    continue;
                };
                let server = server.clone();
                tokio::spawn(
                    BaseChannel::with_defaults(transport)
                        .execute(server.serve())
                        .for_each(|resp| async move {
                            tokio::spawn(resp);
                        }),
                );
            }
        });
        Ok(node)
    }

    /// The shared core: runtime, peers, proxies.
    pub fn core(&self) -> &Arc<NodeCore> {
        &self.core
    }

    /// The single-node `Registry` of this node (the reference line).
    pub fn local(&self) -> &Registry {
        &self.local
    }

    /// The etcd-backed global names, if etcd was configured.
    pub fn global(&self) -> Option<&GlobalNames> {
        self.global.as_ref()
    }

    /// The gossip-replicated registry.
    pub fn gossip_names(&self) -> &GossipNames {
        &self.gossip_names
    }

    /// The hash-ring ownership backend.
    pub fn ring(&self) -> &RingNames {
        &self.ring
    }

    /// The gossip layer (membership).
    pub fn gossip(&self) -> &Gossip {
        &self.gossip
    }

    /// Cuts traffic to and from `nodes` by fault injection (RPC and gossip); empty heals.
    pub fn isolate_from(&self, nodes: &[u32]) {
        self.core.isolate_from(nodes);
        let addrs: Vec<SocketAddr> = self
            .gossip_addrs
            .iter()
            .filter(|(id, _)| nodes.contains(id))
            .map(|&(_, a)| a)
            .collect();
        self.faults.unblock_all();
        if !addrs.is_empty() {
            self.faults.block(&addrs);
        }
    }

    /// Starts an echo worker registered as `name` in `backend`.
    pub async fn spawn_worker(&self, backend: Backend, name: Name) -> Result<Pid, NamingError> {
        let worker = spawn_echo(self.core.runtime());
        let registered: Result<(), NamingError> = on_backend!(
            self,
            backend,
            |n| n.register(name, &worker).await,
            Err(NamingError::Unsupported("no etcd on this node"))
        );
        match registered {
            Ok(()) => Ok(worker.pid()),
            Err(e) => {
                worker.kill();
                Err(e)
            }
        }
    }

    /// Starts `count` members on this node and joins them to `group` in `backend`; the
    /// first refusal ends it (the member refused is stopped).
    pub async fn join_group(
        &self,
        backend: Backend,
        group: &str,
        count: u32,
    ) -> Result<Vec<Pid>, NamingError> {
        let mut pids = Vec::new();
        for _ in 0..count {
            let member = spawn_group_member(
                self.core.runtime(),
                Arc::clone(&self.group_inbox),
                group.to_string(),
            );
            let joined: Result<(), NamingError> = on_backend!(
                self,
                backend,
                |n| n.join(Name::from(group.to_string()), &member).await,
                Err(NamingError::Unsupported("no etcd on this node"))
            );
            if let Err(e) = joined {
                member.kill();
                return Err(e);
            }
            pids.push(member.pid());
        }
        Ok(pids)
    }

    /// Dispatches `messages` stamped messages to `group` in `backend`; members reached.
    pub async fn dispatch_group(
        &self,
        backend: Backend,
        group: &str,
        messages: u32,
    ) -> Result<u64, NamingError> {
        let group = Name::from(group.to_string());
        let mut reached = 0u64;
        for _ in 0..messages {
            let n: Result<usize, NamingError> = on_backend!(
                self,
                backend,
                |n| n.dispatch(&group, stamped_payload()).await,
                Err(NamingError::Unsupported("no etcd on this node"))
            );
            reached += n? as u64;
        }
        Ok(reached)
    }

    /// This node's view of every name in `backend`.
    pub async fn names(&self, backend: Backend) -> Vec<(String, Pid)> {
        match backend {
            Backend::Local => Vec::new(),
            Backend::Global => self.global.as_ref().map(|g| g.names()).unwrap_or_default(),
            Backend::Gossip => self.gossip_names.names(),
            Backend::Ring => self.ring.owned(),
        }
    }

    /// Looks up and calls each of `names` `rounds` times through `backend`, timing each.
    pub async fn probe(
        &self,
        backend: Backend,
        names: &[Name],
        rounds: u32,
        timeout: Duration,
    ) -> ProbeReport {
        on_backend!(
            self,
            backend,
            |n| probe_with(n, names, rounds, timeout).await,
            ProbeReport::default()
        )
    }
}

async fn probe_with<N: Naming>(
    naming: &N,
    names: &[Name],
    rounds: u32,
    timeout: Duration,
) -> ProbeReport {
    let mut hist = hdrhistogram::Histogram::<u64>::new(3).expect("3 significant digits is valid");
    let mut report = ProbeReport::default();
    let payload = Payload(vec![0u8; 16]);
    for _ in 0..rounds {
        for name in names {
            let t0 = Instant::now();
            match naming
                .call::<Payload, Payload>(name, payload.clone(), timeout)
                .await
            {
                Ok(_) => {
                    report.ok += 1;
                    let _ = hist.record(t0.elapsed().as_nanos() as u64);
                }
                Err(CallError::NoProc) if naming.whereis(name).await.is_none() => {
                    report.not_found += 1
                }
                Err(_) => report.failed += 1,
            }
        }
    }
    fill_percentiles(&mut report, &hist);
    report
}

fn fill_percentiles(report: &mut ProbeReport, hist: &hdrhistogram::Histogram<u64>) {
    if report.ok > 0 {
        report.p50_ns = hist.value_at_quantile(0.5);
        report.p90_ns = hist.value_at_quantile(0.9);
        report.p99_ns = hist.value_at_quantile(0.99);
        report.max_ns = hist.max();
        report.mean_ns = hist.mean();
    }
}

#[derive(Clone)]
struct NodeServer(Arc<Node>);

impl NodeApi for NodeServer {
    async fn call(
        self,
        _: context::Context,
        to: WirePid,
        request: Payload,
        timeout_ms: u64,
    ) -> Result<Payload, WireCallError> {
        let p = self
            .0
            .core
            .runtime()
            .process(to.into())
            .ok_or(WireCallError::NoProc)?;
        p.call::<Payload, Payload>(request, Duration::from_millis(timeout_ms))
            .await
            .map_err(Into::into)
    }

    async fn send(
        self,
        _: context::Context,
        to: WirePid,
        msg: Payload,
    ) -> Result<(), WireCallError> {
        self.0.core.runtime().send(to.into(), msg)?;
        self.0
            .core
            .counters
            .remote_delivered
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn alive(self, _: context::Context, pids: Vec<WirePid>) -> Vec<bool> {
        pids.into_iter()
            .map(|p| self.0.core.runtime().process(p.into()).is_some())
            .collect()
    }

    async fn kill(self, _: context::Context, pid: WirePid, reason: Option<String>) -> bool {
        let pid = Pid::from(pid);
        pid.node() == self.0.core.id() && self.0.core.kill(pid, reason).await
    }

    async fn watch(self, _: context::Context, pid: WirePid, watcher: u32) -> bool {
        self.0.core.watch_local(pid.into(), watcher)
    }

    async fn exited(self, _: context::Context, pid: WirePid, reason: WireExitReason) {
        self.0.core.remote_exited(pid.into(), reason.into());
    }

    async fn exit_signal(
        self,
        _: context::Context,
        from: WirePid,
        to: WirePid,
        reason: WireExitReason,
    ) -> bool {
        self.0
            .core
            .deliver_exit_signal(from.into(), to.into(), reason.into())
    }

    async fn ring_claim(
        self,
        _: context::Context,
        name: String,
        pid: WirePid,
        stamp: u64,
    ) -> Result<(), WireNamingError> {
        self.0.ring.handle_claim(&name, pid.into(), stamp)
    }

    async fn ring_release(self, _: context::Context, name: String, pid: WirePid) -> bool {
        self.0.ring.handle_release(&name, pid.into())
    }

    async fn ring_lookup(self, _: context::Context, name: String) -> Option<WirePid> {
        self.0.ring.handle_lookup(&name).map(Into::into)
    }

    async fn ring_handoff(
        self,
        _: context::Context,
        entries: Vec<(String, WirePid, u64)>,
    ) -> Vec<(String, WirePid)> {
        let entries = entries
            .into_iter()
            .map(|(n, p, s)| (n, p.into(), s))
            .collect();
        self.0
            .ring
            .handle_handoff(entries)
            .await
            .into_iter()
            .map(|(n, p)| (n, p.into()))
            .collect()
    }

    async fn spawn_worker(
        self,
        _: context::Context,
        backend: Backend,
        name: String,
    ) -> Result<WirePid, WireNamingError> {
        self.0
            .spawn_worker(backend, Name::from(name))
            .await
            .map(Into::into)
            .map_err(Into::into)
    }

    async fn register_many(
        self,
        _: context::Context,
        backend: Backend,
        names: Vec<String>,
    ) -> (u64, u64) {
        let t0 = Instant::now();
        let mut ok = 0;
        for name in names {
            if self.0.spawn_worker(backend, Name::from(name)).await.is_ok() {
                ok += 1;
            }
        }
        (ok, t0.elapsed().as_nanos() as u64)
    }

    async fn whereis(self, _: context::Context, backend: Backend, name: String) -> Option<WirePid> {
        let name = Name::from(name);
        let node = &self.0;
        let found = on_backend!(node, backend, |n| n.whereis(&name).await, None);
        found.map(|p| p.pid().into())
    }

    async fn names(self, _: context::Context, backend: Backend) -> Vec<(String, WirePid)> {
        self.0
            .names(backend)
            .await
            .into_iter()
            .map(|(n, p)| (n, p.into()))
            .collect()
    }

    async fn probe(
        self,
        _: context::Context,
        backend: Backend,
        names: Vec<String>,
        rounds: u32,
        timeout_ms: u64,
    ) -> ProbeReport {
        let names: Vec<Name> = names.into_iter().map(Name::from).collect();
        self.0
            .probe(backend, &names, rounds, Duration::from_millis(timeout_ms))
            .await
    }

    async fn rpc_floor(self, _: context::Context, peer: u32, rounds: u32) -> ProbeReport {
        let mut hist =
            hdrhistogram::Histogram::<u64>::new(3).expect("3 significant digits is valid");
        let mut report = ProbeReport::default();
        for _ in 0..rounds {
            let t0 = Instant::now();
            let r = self
                .0
                .core
                .rpc(peer, Duration::from_secs(1), |c, ctx| async move {
                    c.alive(ctx, Vec::new()).await
                })
                .await;
            match r {
                Ok(_) => {
                    report.ok += 1;
                    let _ = hist.record(t0.elapsed().as_nanos() as u64);
                }
                Err(_) => report.failed += 1,
            }
        }
        fill_percentiles(&mut report, &hist);
        report
    }

    async fn members(self, _: context::Context) -> Vec<u32> {
        self.0.gossip.live_members().await
    }

    async fn isolate_from(self, _: context::Context, nodes: Vec<u32>) {
        self.0.isolate_from(&nodes);
    }

    async fn stats(self, _: context::Context) -> NodeStats {
        let c = &self.0.core.counters;
        NodeStats {
            conflict_kills: c.conflict_kills.load(Ordering::Relaxed),
            handoffs_out: c.handoffs_out.load(Ordering::Relaxed),
            ring_misses: c.ring_misses.load(Ordering::Relaxed),
            lease_losses: c.lease_losses.load(Ordering::Relaxed),
            remote_delivered: c.remote_delivered.load(Ordering::Relaxed),
            freezes: c.freezes.load(Ordering::Relaxed),
        }
    }

    async fn call_pid(
        self,
        _: context::Context,
        pid: WirePid,
        request: Payload,
        timeout_ms: u64,
    ) -> Result<Payload, WireCallError> {
        let pid = Pid::from(pid);
        let core = &self.0.core;
        let timeout = Duration::from_millis(timeout_ms);
        if pid.node() == core.id() {
            let p = core.runtime().process(pid).ok_or(WireCallError::NoProc)?;
            return p
                .call::<Payload, Payload>(request, timeout)
                .await
                .map_err(Into::into);
        }
        core.remote_call(pid, request, timeout).await
    }

    async fn send_pid(
        self,
        _: context::Context,
        pid: WirePid,
        msg: Payload,
    ) -> Result<(), WireCallError> {
        let pid = Pid::from(pid);
        let core = &self.0.core;
        if pid.node() == core.id() {
            return core.runtime().send(pid, msg).map_err(Into::into);
        }
        core.remote_send(pid, msg).await
    }

    async fn join_group(
        self,
        _: context::Context,
        backend: Backend,
        group: String,
        count: u32,
    ) -> Result<Vec<WirePid>, WireNamingError> {
        match self.0.join_group(backend, &group, count).await {
            Ok(pids) => Ok(pids.into_iter().map(Into::into).collect()),
            Err(e) => Err(e.into()),
        }
    }

    async fn group_members(
        self,
        _: context::Context,
        backend: Backend,
        group: String,
    ) -> Vec<WirePid> {
        match backend {
            Backend::Gossip => self
                .0
                .gossip_names
                .members(&Name::from(group))
                .into_iter()
                .map(Into::into)
                .collect(),
            Backend::Local | Backend::Global | Backend::Ring => Vec::new(),
        }
    }

    async fn dispatch_group(
        self,
        _: context::Context,
        backend: Backend,
        group: String,
        messages: u32,
    ) -> Result<u64, WireNamingError> {
        self.0
            .dispatch_group(backend, &group, messages)
            .await
            .map_err(Into::into)
    }

    async fn group_received(self, _: context::Context, group: String) -> Vec<u64> {
        self.0
            .group_inbox
            .0
            .lock()
            .remove(&group)
            .unwrap_or_default()
    }

    async fn set_clock_offset(self, _: context::Context, offset_ms: i64) {
        self.0.core.set_clock_offset_ms(offset_ms);
    }
}

/// Node mode: starts node `cfg`, prints `READY <id>` on stdout, and runs until stdin closes
/// (the harness holds the other end, so a node never outlives the harness that started it).
pub async fn run_node(cfg: NodeConfig) -> Result<(), NodeError> {
    use tokio::io::AsyncReadExt;
    let id = cfg.id;
    let _node = Node::start(cfg).await?;
    println!("READY {id}");
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    loop {
        match stdin.read(&mut buf).await {
            Ok(0) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

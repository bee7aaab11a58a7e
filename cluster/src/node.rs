//! A node: one runtime, its tarpc server, connections to its peers, and proxies that make a
//! remote pid reachable through an ordinary [`ProcessRef`].

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::{DashMap, DashSet};
use parking_lot::RwLock;
use process_runtime::{CallRequest, Ctx, Envelope, ExitReason, Pid, ProcessRef, Runtime};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::{client, context};

use crate::wire::{NodeApiClient, Payload, WireCallError, WireExitReason, WirePid};

/// How long a proxy waits for a remote node to answer a forwarded call before giving up.
/// The caller's own timeout (usually shorter) still applies on its side.
pub const REMOTE_CALL_DEADLINE: Duration = Duration::from_secs(5);

/// How long connecting to a peer may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// The part of a node every backend shares: its runtime, its peers, and remote proxies.
pub struct NodeCore {
    id: u32,
    runtime: Runtime,
    peers: HashMap<u32, Peer>,
    proxies: DashMap<Pid, ProcessRef>,
    /// Local processes other nodes hold proxies of, with the watching node: each pair is
    /// told once, when the process exits (see [`watch_local`](Self::watch_local)).
    watched: DashSet<(Pid, u32)>,
    /// Peers cut off by fault injection (the fallback where network namespaces are not
    /// available): calls to them fail at once with `NoConnection`.
    blocked: RwLock<HashSet<u32>>,
    /// Added to the machine clock for registration stamps (a test hook for clock skew).
    clock_offset_ns: AtomicI64,
    /// The freeze watchdog's state (see [`NodeCore::resyncing`]).
    watchdog: parking_lot::Mutex<Watchdog>,
    pub(crate) counters: Counters,
}

/// What the freeze watchdog knows.
#[derive(Default)]
struct Watchdog {
    /// Its last tick; `None` until it runs.
    last_tick: Option<std::time::Instant>,
    /// Until when this node re-synchronises after the last freeze it noticed.
    resync_until: Option<std::time::Instant>,
}

/// Counters behind [`NodeStats`](crate::wire::NodeStats).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) conflict_kills: AtomicU64,
    pub(crate) handoffs_out: AtomicU64,
    pub(crate) ring_misses: AtomicU64,
    pub(crate) lease_losses: AtomicU64,
    pub(crate) remote_delivered: AtomicU64,
    pub(crate) freezes: AtomicU64,
}

/// A gap this long between two ticks of the freeze watchdog (which ticks every
/// [`WATCHDOG_TICK`]) means the node was frozen (`SIGSTOP`, a stalled VM) long enough for
/// its peers' failure detectors to have declared it dead (their lower bound is 1.2 s).
pub const FREEZE_GAP: Duration = Duration::from_secs(1);

/// How often the freeze watchdog ticks.
pub const WATCHDOG_TICK: Duration = Duration::from_millis(100);

/// How long a node that was frozen withholds answers about names held by its own
/// processes: enough gossip rounds (100 ms each) and a refresh for it to hear what its
/// peers decided while it was away, and for the conflict rule to kill its losers.
pub const RESYNC_AFTER_FREEZE: Duration = Duration::from_millis(1500);

struct Peer {
    addr: SocketAddr,
    client: tokio::sync::Mutex<Option<NodeApiClient>>,
}

impl NodeCore {
    /// A node core with id `id` (its pids name it) that reaches `peers` at their addresses.
    pub fn new(id: u32, peers: &[(u32, SocketAddr)]) -> Arc<Self> {
        Self::with_runtime(Runtime::with_node(id), peers)
    }

    /// A node core over an existing runtime (its node id is the runtime's).
    pub fn with_runtime(runtime: Runtime, peers: &[(u32, SocketAddr)]) -> Arc<Self> {
        let id = runtime.node();
        let peers = peers
            .iter()
            .filter(|(n, _)| *n != id)
            .map(|&(n, addr)| {
                (
                    n,
                    Peer {
                        addr,
                        client: tokio::sync::Mutex::new(None),
                    },
                )
            })
            .collect();
        Arc::new(NodeCore {
            id,
            runtime,
            peers,
            proxies: DashMap::new(),
            watched: DashSet::new(),
            blocked: RwLock::new(HashSet::new()),
            clock_offset_ns: AtomicI64::new(0),
            watchdog: parking_lot::Mutex::new(Watchdog::default()),
            counters: Counters::default(),
        })
    }

    /// This node's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// This node's runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// This node's incarnation: the creation its pids carry.
    pub fn creation(&self) -> u32 {
        self.runtime.creation()
    }

    /// Now by this node's clock, in unix nanoseconds: the machine clock plus the offset set
    /// by [`set_clock_offset_ms`](Self::set_clock_offset_ms). Registration stamps come from here.
    pub fn stamp(&self) -> u64 {
        let offset = self.clock_offset_ns.load(Ordering::Relaxed);
        crate::ring::now_stamp().saturating_add_signed(offset)
    }

    /// Whether this node is re-synchronising after a freeze: its freeze watchdog saw a gap
    /// of at least [`FREEZE_GAP`] less than [`RESYNC_AFTER_FREEZE`] ago. Meanwhile the
    /// replicated and ring backends do not answer as owner of names held by its own
    /// processes: the rest of the cluster may have declared it dead and given them away.
    ///
    /// A freeze the watchdog has not ticked since counts too (a request may be served right
    /// after `SIGCONT`, before the watchdog runs).
    pub fn resyncing(&self) -> bool {
        let now = std::time::Instant::now();
        let w = self.watchdog.lock();
        w.resync_until.is_some_and(|t| now < t)
            || w.last_tick
                .is_some_and(|t| now.duration_since(t) >= FREEZE_GAP)
    }

    /// Starts the freeze watchdog (once per node, inside a tokio runtime); it stops when
    /// the core is dropped.
    pub fn start_freeze_watchdog(self: &Arc<Self>) {
        self.watchdog.lock().last_tick = Some(std::time::Instant::now());
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(WATCHDOG_TICK).await;
                let Some(core) = weak.upgrade() else { return };
                let now = std::time::Instant::now();
                let mut w = core.watchdog.lock();
                if w.last_tick
                    .is_some_and(|t| now.duration_since(t) >= FREEZE_GAP)
                {
                    w.resync_until = Some(now + RESYNC_AFTER_FREEZE);
                    core.counters.freezes.fetch_add(1, Ordering::Relaxed);
                }
                w.last_tick = Some(now);
            }
        });
    }

    /// Skews this node's clock by `offset_ms` (negative: behind), as an unsynchronised
    /// machine clock would be.
    pub fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.clock_offset_ns
            .store(offset_ms.saturating_mul(1_000_000), Ordering::Relaxed);
    }

    /// The ids of every other node this one knows.
    pub fn peer_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.peers.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// `Unsupported` unless `process` lives on this node: a node registers only its own
    /// processes (each node is the authority for its own names).
    pub fn check_local(&self, process: &ProcessRef) -> Result<(), naming_strategies::NamingError> {
        if process.pid().node() == self.id {
            Ok(())
        } else {
            Err(naming_strategies::NamingError::Unsupported(
                "registering a process of another node",
            ))
        }
    }

    /// Ties `name` to the exit path of `process`, a process of this node, so that
    /// `observer` hears when it exits; the backend's own table write comes after.
    /// `Unsupported` for another node's process, `NoProc` for a dead one.
    pub fn hold_local(
        &self,
        process: &ProcessRef,
        observer: &Arc<dyn process_runtime::ExitObserver>,
        name: process_runtime::Name,
        tag: u32,
    ) -> Result<(), naming_strategies::NamingError> {
        self.check_local(process)?;
        process
            .hold_name(observer, name, tag, |_| Ok::<(), ()>(()))
            .map_err(|_| naming_strategies::NamingError::NoProc)
    }

    /// Cuts (or, with an empty list, restores) traffic to these nodes by fault injection.
    pub fn isolate_from(&self, nodes: &[u32]) {
        *self.blocked.write() = nodes.iter().copied().collect();
    }

    /// Whether fault injection cuts this node off from `node`.
    pub fn is_blocked(&self, node: u32) -> bool {
        self.blocked.read().contains(&node)
    }

    /// A client for peer `node`, connecting (or reconnecting) if needed.
    pub async fn peer(&self, node: u32) -> Result<NodeApiClient, WireCallError> {
        if self.is_blocked(node) {
            return Err(WireCallError::NoConnection);
        }
        let peer = self.peers.get(&node).ok_or(WireCallError::NoConnection)?;
        let mut slot = peer.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let transport = match tokio::time::timeout(CONNECT_TIMEOUT, connect(peer.addr)).await {
            Ok(Ok(t)) => t,
            _ => return Err(WireCallError::NoConnection),
        };
        let c = NodeApiClient::new(client::Config::default(), transport).spawn();
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Forgets the connection to `node`, so the next use reconnects.
    async fn drop_peer(&self, node: u32) {
        if let Some(peer) = self.peers.get(&node) {
            *peer.client.lock().await = None;
        }
    }

    /// Runs one RPC against peer `node` with a deadline; a transport failure drops the
    /// connection and reads as `NoConnection`.
    pub async fn rpc<T, F, Fut>(
        &self,
        node: u32,
        deadline: Duration,
        f: F,
    ) -> Result<T, WireCallError>
    where
        F: FnOnce(NodeApiClient, context::Context) -> Fut,
        Fut: std::future::Future<Output = Result<T, tarpc::client::RpcError>>,
    {
        let c = self.peer(node).await?;
        let mut ctx = context::current();
        // Saturated: a `Duration::MAX` deadline means none, not an overflow panic.
        ctx.deadline = process_runtime::deadline_after(deadline);
        match f(c, ctx).await {
            Ok(v) => Ok(v),
            Err(tarpc::client::RpcError::DeadlineExceeded) => Err(WireCallError::Timeout),
            Err(_) => {
                self.drop_peer(node).await;
                Err(WireCallError::NoConnection)
            }
        }
    }

    /// A handle to process `pid`: the local process, or a proxy for a remote one.
    /// `None` if `pid` is local and dead, or names a node this one does not know.
    pub fn resolve(self: &Arc<Self>, pid: Pid) -> Option<ProcessRef> {
        if pid.node() == self.id {
            return self.runtime.process(pid);
        }
        if !self.peers.contains_key(&pid.node()) {
            return None;
        }
        if let Some(p) = self.proxies.get(&pid) {
            if p.is_alive() {
                return Some(p.clone());
            }
        }
        let proxy = self.spawn_proxy(pid)?;
        self.proxies.insert(pid, proxy.clone());
        Some(proxy)
    }

    /// Ends the proxies of every process on `node` (it left the cluster): their callers get
    /// `NoProc` and monitors of them fire, as `noconnection` does on the BEAM.
    pub fn node_down(&self, node: u32) {
        let gone: Vec<ProcessRef> = self
            .proxies
            .iter()
            .filter(|e| e.key().node() == node)
            .map(|e| e.value().clone())
            .collect();
        for p in gone {
            self.proxies.remove(&p.pid());
            p.exit(ExitReason::error("noconnection"));
        }
    }

    /// Node `watcher` holds a proxy of local process `pid`: once `pid` exits, `watcher` is
    /// told its exit reason (the remote half of a cross-node monitor or link). `false` if
    /// no such process is alive here. Watching the same pair twice tells `watcher` once.
    pub fn watch_local(self: &Arc<Self>, pid: Pid, watcher: u32) -> bool {
        let Some(process) = self.runtime.process(pid) else {
            return false;
        };
        if !self.watched.insert((pid, watcher)) {
            return true;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let reason = WireExitReason::from(&process.exited().await);
            let Some(core) = weak.upgrade() else { return };
            core.watched.remove(&(pid, watcher));
            let to = WirePid::from(pid);
            // Unreachable watcher: its own failure detection ends its proxies instead.
            let _ = core
                .rpc(watcher, REMOTE_CALL_DEADLINE, |c, ctx| async move {
                    c.exited(ctx, to, reason).await
                })
                .await;
        });
        true
    }

    /// The remote process `pid` exited with `reason`: this node's proxy of it ends with
    /// that reason, so monitors of it get a `Down` and processes linked to it the signal.
    pub fn remote_exited(&self, pid: Pid, reason: ExitReason) {
        if let Some((_, proxy)) = self.proxies.remove(&pid) {
            proxy.exit(reason);
        }
    }

    /// Delivers the exit signal of process `from` on another node, linked to local process
    /// `to`: `to` dies with `reason` (unless it is `Normal`), or, trapping exits, gets an
    /// `Exit` message from `from`, as a local link would. `false` if `to` is not alive here
    /// or `from` names this node.
    pub fn deliver_exit_signal(&self, from: Pid, to: Pid, reason: ExitReason) -> bool {
        let Some(target) = self.runtime.process(to) else {
            return false;
        };
        // A short-lived stand-in for `from` links to `to` and exits with `reason`: the
        // runtime's own link semantics (trap or die, `Normal` ignored) then apply.
        self.runtime
            .spawn_remote_proxy::<Payload, Payload, _, _>(from, move |ctx| async move {
                match ctx.link(&target) {
                    Ok(()) => reason,
                    Err(_) => ExitReason::Normal,
                }
            })
            .is_ok()
    }

    /// Asks the node of `pid` to tell this one when `pid` exits; ends `proxy` at once with
    /// `noproc` if `pid` is dead, or `noconnection` if its node cannot be reached.
    async fn watch_remote(self: Arc<Self>, pid: Pid, proxy: ProcessRef) {
        let (to, me) = (WirePid::from(pid), self.id);
        let ended = match self
            .rpc(pid.node(), REMOTE_CALL_DEADLINE, |c, ctx| async move {
                c.watch(ctx, to, me).await
            })
            .await
        {
            Ok(true) => return,
            Ok(false) => ExitReason::error("noproc"),
            Err(WireCallError::NoConnection) => ExitReason::error("noconnection"),
            // No answer in time: calls through the proxy still find out.
            Err(_) => return,
        };
        proxy.exit(ended);
        self.proxies.remove_if(&pid, |_, p| !p.is_alive());
    }

    fn spawn_proxy(self: &Arc<Self>, pid: Pid) -> Option<ProcessRef> {
        let core = Arc::clone(self);
        self.runtime
            .spawn_remote_proxy::<Payload, Payload, _, _>(pid, move |ctx| {
                proxy_loop(core, pid, ctx)
            })
            .ok()
    }

    /// Forwards a call to the remote process `pid`.
    pub async fn remote_call(
        &self,
        pid: Pid,
        request: Payload,
        timeout: Duration,
    ) -> Result<Payload, WireCallError> {
        let to = WirePid::from(pid);
        // Saturated: `Duration::MAX` stays "no limit" on the wire, never wraps to a short one.
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.rpc(
            pid.node(),
            timeout.saturating_add(Duration::from_millis(50)),
            |c, ctx| async move { c.call(ctx, to, request, ms).await },
        )
        .await?
    }

    /// Forwards a plain message to the remote process `pid`.
    pub async fn remote_send(&self, pid: Pid, msg: Payload) -> Result<(), WireCallError> {
        let to = WirePid::from(pid);
        self.rpc(pid.node(), REMOTE_CALL_DEADLINE, |c, ctx| async move {
            c.send(ctx, to, msg).await
        })
        .await?
    }

    /// Kills process `pid`, local or remote, with `reason` (`None`: `Killed`).
    pub async fn kill(&self, pid: Pid, reason: Option<String>) -> bool {
        if pid.node() == self.id {
            return match self.runtime.process(pid) {
                Some(p) => match reason {
                    Some(r) => p.exit(ExitReason::error(r)),
                    None => p.kill(),
                },
                None => false,
            };
        }
        let to = WirePid::from(pid);
        self.rpc(pid.node(), REMOTE_CALL_DEADLINE, |c, ctx| async move {
            c.kill(ctx, to, reason).await
        })
        .await
        .unwrap_or(false)
    }
}

/// The framed bincode transport of one connection, as tarpc's serde transport builds it.
pub type Transport<Item, SinkItem> = tarpc::serde_transport::Transport<
    tokio::net::TcpStream,
    Item,
    SinkItem,
    Bincode<Item, SinkItem>,
>;

/// Wraps an accepted or connected stream in tarpc's serde transport, with Nagle off: calls
/// are small and latency-bound, and pipelined requests must not wait for an ACK.
pub fn transport<Item, SinkItem>(
    stream: tokio::net::TcpStream,
) -> std::io::Result<Transport<Item, SinkItem>>
where
    Item: for<'de> serde::Deserialize<'de>,
    SinkItem: serde::Serialize,
{
    stream.set_nodelay(true)?;
    Ok(tarpc::serde_transport::Transport::from((
        stream,
        Bincode::default(),
    )))
}

/// Connects to a node's service at `addr`.
pub async fn connect<Item, SinkItem>(addr: SocketAddr) -> std::io::Result<Transport<Item, SinkItem>>
where
    Item: for<'de> serde::Deserialize<'de>,
    SinkItem: serde::Serialize,
{
    transport(tokio::net::TcpStream::connect(addr).await?)
}

/// A proxy's body: calls are forwarded concurrently (each waits for its own reply); sends
/// and casts are forwarded one at a time, in order, as the BEAM orders messages between a
/// pair of processes. A `NoProc` from the remote node ends the proxy.
///
/// Monitors and links: the remote node is asked to report the process's exit, and the
/// proxy then ends with its reason (`noconnection` when its node leaves). The proxy traps
/// exits: a local process linked to it that exits has its signal forwarded, in order
/// after its messages, to the remote process.
async fn proxy_loop(core: Arc<NodeCore>, pid: Pid, mut ctx: Ctx) -> ExitReason {
    ctx.trap_exit(true);
    tokio::spawn(Arc::clone(&core).watch_remote(pid, ctx.me().clone()));
    let reason = loop {
        match ctx.recv().await {
            Envelope::Call(call) => match call.downcast::<Payload, Payload>() {
                Ok(CallRequest { request, reply_to }) => {
                    let core = Arc::clone(&core);
                    let me = ctx.me().clone();
                    tokio::spawn(async move {
                        match core.remote_call(pid, request, REMOTE_CALL_DEADLINE).await {
                            Ok(rep) => reply_to.reply(rep),
                            Err(e) => {
                                reply_to.fail(e.into());
                                if e == WireCallError::NoProc {
                                    core.proxies.remove(&pid);
                                    me.exit(ExitReason::error("noproc"));
                                }
                            }
                        }
                    });
                }
                Err(other) => other.reject(),
            },
            Envelope::Cast(msg) | Envelope::Info(msg) => {
                // The sender checked the type; anything else cannot cross and is refused there.
                if let Ok(payload) = msg.downcast::<Payload>() {
                    if core.remote_send(pid, *payload).await == Err(WireCallError::NoProc) {
                        break ExitReason::error("noproc");
                    }
                }
            }
            Envelope::Exit(signal) => {
                let (from, to) = (WirePid::from(signal.from), WirePid::from(pid));
                let reason = WireExitReason::from(&signal.reason);
                let _ = core
                    .rpc(pid.node(), REMOTE_CALL_DEADLINE, |c, ctx| async move {
                        c.exit_signal(ctx, from, to, reason).await
                    })
                    .await;
            }
            Envelope::Down(_) => {}
        }
    };
    core.proxies.remove(&pid);
    reason
}

/// Echo workers: what the harness starts on a node and names; a call returns its request.
pub fn spawn_echo(runtime: &Runtime) -> ProcessRef {
    runtime.spawn(|mut ctx: Ctx| async move {
        loop {
            match ctx.recv().await {
                Envelope::Call(call) => match call.downcast::<Payload, Payload>() {
                    Ok(CallRequest { request, reply_to }) => reply_to.reply(request),
                    Err(other) => other.reject(),
                },
                // Plain messages and signals are not part of the echo protocol.
                Envelope::Cast(_) | Envelope::Info(_) | Envelope::Down(_) | Envelope::Exit(_) => {}
            }
        }
    })
}

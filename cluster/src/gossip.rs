//! The gossip layer: one [chitchat](https://docs.rs/chitchat) instance per node.
//!
//! Every node publishes string key/values under its own identity; chitchat replicates them to
//! every other node (scuttlebutt anti-entropy over UDP) and runs a phi-accrual failure detector
//! on the heartbeats it sees. [`Gossip`] wraps that instance with the little the naming
//! backends need: set/delete own keys, the live member set (as a value and as a
//! [`tokio::sync::watch`] channel), a prefix scan over live nodes, and a stream of key
//! changes under a prefix.
//!
//! Node ids are `u32`s (the node part of a [`Pid`](process_runtime::Pid)); the chitchat node id
//! is `n{node}` and the generation id is the start time in unix nanoseconds, so a restarted node
//! is a new generation and its previous incarnation is simply a dead node to the others.
//!
//! [`Faults`] cuts links without network namespaces: the UDP transport of a node drops every
//! datagram sent to, or received from, a blocked peer address.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chitchat::transport::{RecvOutcome, SendOutcome, Socket, Transport, UdpTransport};
use chitchat::{
    spawn_chitchat, Chitchat, ChitchatConfig, ChitchatEnvelope, ChitchatHandle, ChitchatId,
    ListenerHandle, ProtocolVersion,
};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

pub use chitchat::FailureDetectorConfig;

/// The default interval between two gossip rounds.
pub const DEFAULT_GOSSIP_INTERVAL: Duration = Duration::from_millis(100);

/// Errors of the gossip layer.
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    /// The configuration cannot work (e.g. an unspecified advertise address).
    #[error("bad gossip configuration: {0}")]
    Config(String),
    /// Chitchat could not start (typically: the UDP port could not be bound).
    #[error("gossip failed to start: {0}")]
    Start(String),
    /// Chitchat stopped with an error while shutting down.
    #[error("gossip shutdown failed: {0}")]
    Shutdown(String),
}

/// The failure detector settings used by [`GossipConfig::new`]: a dead node is declared dead
/// about 1.5-2 s after its last heartbeat.
///
/// Chitchat's detector declares a node dead when `elapsed / mean > phi_threshold`, where `mean`
/// is the mean of the last `sampling_window_size` heartbeat intervals smoothed with 5 samples
/// of `initial_interval`, and intervals above `max_interval` are ignored. A small window keeps
/// the prior in charge, so the timeout is bounded whatever the cluster size (more nodes means
/// heartbeats are relayed more often, i.e. shorter observed intervals):
/// `mean` lies in `[initial/2, (initial + max)/2]` = `[0.1 s, 0.35 s]`, and with a threshold of
/// 12 the timeout lies in `[1.2 s, 4.2 s]`; observed intervals of 20-100 ms on a 100 ms gossip
/// interval give 1.4-1.8 s, plus up to one gossip round before liveness is re-evaluated.
pub fn tuned_failure_detector() -> FailureDetectorConfig {
    FailureDetectorConfig {
        phi_threshold: 12.0,
        sampling_window_size: 5,
        max_interval: Duration::from_millis(500),
        initial_interval: Duration::from_millis(200),
        dead_node_grace_period: Duration::from_secs(20),
    }
}

/// Configuration of one node's gossip instance.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// This node's id (the node part of its pids).
    pub node: u32,
    /// Nodes only talk to nodes with the same cluster id.
    pub cluster_id: String,
    /// UDP address to bind. Port 0 picks a free port (see [`Gossip::listen_addr`]).
    pub listen: SocketAddr,
    /// Address peers use to reach this node; `None` means the bound address, which then must
    /// not be an unspecified IP (`0.0.0.0`).
    pub advertise: Option<SocketAddr>,
    /// Addresses gossiped with until they are known members (other nodes' listen addresses).
    pub seeds: Vec<SocketAddr>,
    /// Interval between gossip rounds (default 100 ms).
    pub gossip_interval: Duration,
    /// Failure detector settings (default [`tuned_failure_detector`]).
    pub failure_detector: FailureDetectorConfig,
    /// How long tombstones of deleted keys are kept before being garbage collected.
    pub tombstone_grace: Duration,
    /// Links cut by fault injection; share a clone to control this node from a test.
    pub faults: Faults,
}

impl GossipConfig {
    /// A configuration with the defaults: cluster `"naming-bench"`, 100 ms gossip rounds,
    /// [`tuned_failure_detector`], 60 s tombstone grace, no faults.
    pub fn new(node: u32, listen: SocketAddr, seeds: Vec<SocketAddr>) -> Self {
        GossipConfig {
            node,
            cluster_id: "naming-bench".to_string(),
            listen,
            advertise: None,
            seeds,
            gossip_interval: DEFAULT_GOSSIP_INTERVAL,
            failure_detector: tuned_failure_detector(),
            tombstone_grace: Duration::from_secs(60),
            faults: Faults::default(),
        }
    }
}

/// Fault injection: the peer addresses this node neither sends to nor hears from.
///
/// A cheap-clone handle; the node's transport consults it on every datagram.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    blocked: Arc<RwLock<HashSet<SocketAddr>>>,
}

impl Faults {
    /// No blocked peers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops every datagram to or from these addresses from now on.
    pub fn block(&self, addrs: &[SocketAddr]) {
        self.blocked.write().extend(addrs.iter().copied());
    }

    /// Stops dropping datagrams to or from these addresses.
    pub fn unblock(&self, addrs: &[SocketAddr]) {
        let mut blocked = self.blocked.write();
        for addr in addrs {
            blocked.remove(addr);
        }
    }

    /// Stops dropping anything.
    pub fn unblock_all(&self) {
        self.blocked.write().clear();
    }

    /// Whether datagrams to or from `addr` are dropped.
    pub fn is_blocked(&self, addr: SocketAddr) -> bool {
        let blocked = self.blocked.read();
        !blocked.is_empty() && blocked.contains(&addr)
    }
}

/// Chitchat's UDP transport with [`Faults`] applied.
struct FaultyTransport {
    faults: Faults,
}

#[async_trait]
impl Transport for FaultyTransport {
    async fn open(&self, listen_addr: SocketAddr) -> anyhow::Result<Box<dyn Socket>> {
        let inner = UdpTransport.open(listen_addr).await?;
        Ok(Box::new(FaultySocket {
            inner,
            faults: self.faults.clone(),
        }))
    }
}

struct FaultySocket {
    inner: Box<dyn Socket>,
    faults: Faults,
}

#[async_trait]
impl Socket for FaultySocket {
    fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.inner.local_addr()
    }

    async fn send(
        &mut self,
        to: SocketAddr,
        envelope: ChitchatEnvelope,
    ) -> anyhow::Result<SendOutcome> {
        if self.faults.is_blocked(to) {
            return Ok(SendOutcome { num_bytes_sent: 0 });
        }
        self.inner.send(to, envelope).await
    }

    // Cancel-safe like the inner recv: a dropped datagram is consumed and forgotten.
    async fn recv(&mut self) -> anyhow::Result<RecvOutcome> {
        loop {
            let outcome = self.inner.recv().await?;
            if !self.faults.is_blocked(outcome.from_addr) {
                return Ok(outcome);
            }
        }
    }
}

/// A change of a key under a watched prefix, as seen in the live view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// The node owning the key.
    pub node: u32,
    /// The full key (prefix included).
    pub key: String,
    /// The new value; `None` when the key was deleted or its node left the live set.
    pub value: Option<String>,
}

/// One prefix subscription: what the subscriber has been told so far.
struct Subscription {
    prefix: String,
    tx: mpsc::UnboundedSender<KeyEvent>,
    /// Per node: the generation and max version last scanned, and the key/values sent.
    nodes: HashMap<u32, NodeView>,
}

struct NodeView {
    id: ChitchatId,
    max_version: u64,
    kvs: BTreeMap<String, String>,
}

struct Shared {
    subs: Mutex<Vec<Subscription>>,
    wake: Notify,
}

/// A node's gossip instance. Dropping it stops gossiping (like [`Gossip::shutdown`], without
/// waiting).
pub struct Gossip {
    node: u32,
    listen_addr: SocketAddr,
    faults: Faults,
    handle: Option<ChitchatHandle>,
    chitchat: Arc<tokio::sync::Mutex<Chitchat>>,
    members_rx: watch::Receiver<Vec<u32>>,
    shared: Arc<Shared>,
    sync_task: JoinHandle<()>,
    _listener: ListenerHandle,
}

/// Parses a chitchat node id `n{node}`.
fn parse_node_id(node_id: &str) -> Option<u32> {
    node_id.strip_prefix('n')?.parse().ok()
}

/// The live chitchat ids, one per node (the newest generation), self included.
fn live_by_node(chitchat: &Chitchat) -> BTreeMap<u32, ChitchatId> {
    let mut live: BTreeMap<u32, ChitchatId> = BTreeMap::new();
    for id in chitchat.live_nodes() {
        let Some(node) = parse_node_id(&id.node_id) else {
            continue;
        };
        match live.get(&node) {
            Some(known) if known.generation_id >= id.generation_id => {}
            _ => {
                live.insert(node, id.clone());
            }
        }
    }
    live
}

fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Gossip {
    /// Binds the UDP socket and starts gossiping with the seeds.
    pub async fn start(cfg: GossipConfig) -> Result<Gossip, GossipError> {
        // Chitchat must know its advertised address before it binds, so port 0 is resolved
        // here by asking the OS for a free port (tiny race with other binders; retried).
        let attempts = if cfg.listen.port() == 0 { 5 } else { 1 };
        let mut last_err = String::new();
        for _ in 0..attempts {
            let listen = if cfg.listen.port() == 0 {
                let probe = std::net::UdpSocket::bind(cfg.listen)
                    .map_err(|e| GossipError::Start(format!("bind {}: {e}", cfg.listen)))?;
                probe
                    .local_addr()
                    .map_err(|e| GossipError::Start(e.to_string()))?
            } else {
                cfg.listen
            };
            match Self::start_on(&cfg, listen).await {
                Ok(gossip) => return Ok(gossip),
                Err(GossipError::Start(e)) => last_err = e,
                Err(e) => return Err(e),
            }
        }
        Err(GossipError::Start(last_err))
    }

    async fn start_on(cfg: &GossipConfig, listen: SocketAddr) -> Result<Gossip, GossipError> {
        let advertise = cfg.advertise.unwrap_or(listen);
        if advertise.ip().is_unspecified() || advertise.port() == 0 {
            return Err(GossipError::Config(format!(
                "advertise address {advertise} is not reachable; set `advertise`"
            )));
        }
        let chitchat_id = ChitchatId::new(format!("n{}", cfg.node), now_unix_nanos(), advertise);
        let config = ChitchatConfig {
            chitchat_id,
            cluster_id: cfg.cluster_id.clone(),
            gossip_interval: cfg.gossip_interval,
            listen_addr: listen,
            seed_nodes: cfg
                .seeds
                .iter()
                .filter(|s| **s != advertise)
                .map(|s| s.to_string())
                .collect(),
            failure_detector_config: cfg.failure_detector.clone(),
            marked_for_deletion_grace_period: cfg.tombstone_grace,
            catchup_callback: None,
            extra_liveness_predicate: None,
            protocol_version: ProtocolVersion::V0,
        };
        let transport = FaultyTransport {
            faults: cfg.faults.clone(),
        };
        let handle = spawn_chitchat(config, Vec::new(), &transport)
            .await
            .map_err(|e| GossipError::Start(format!("{e:#}")))?;
        let chitchat = handle.chitchat();

        let shared = Arc::new(Shared {
            subs: Mutex::new(Vec::new()),
            wake: Notify::new(),
        });
        // Chitchat calls this with its state locked, on every key set (not on deletes): only
        // wake the sync task, which reads the state afterwards.
        let listener = {
            let shared = Arc::clone(&shared);
            chitchat
                .lock()
                .await
                .subscribe_event("", move |_event| shared.wake.notify_one())
        };
        let (members_tx, members_rx) = watch::channel(vec![cfg.node]);
        let live_rx = chitchat.lock().await.live_nodes_watcher();
        let sync_task = tokio::spawn(sync_loop(
            Arc::clone(&chitchat),
            Arc::clone(&shared),
            members_tx,
            live_rx,
            cfg.gossip_interval,
        ));
        Ok(Gossip {
            node: cfg.node,
            listen_addr: advertise,
            faults: cfg.faults.clone(),
            handle: Some(handle),
            chitchat,
            members_rx,
            shared,
            sync_task,
            _listener: listener,
        })
    }

    /// This node's id.
    pub fn self_node(&self) -> u32 {
        self.node
    }

    /// The address peers reach this node at (give it to others as a seed, or to [`Faults`]).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// This node's fault-injection handle.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Publishes (or overwrites) one of this node's keys.
    pub async fn set(&self, key: &str, value: &str) {
        self.chitchat.lock().await.self_node_state().set(key, value);
        self.shared.wake.notify_one();
    }

    /// Deletes one of this node's keys (a tombstone that replicates like a set). A key that
    /// does not exist is ignored.
    pub async fn delete(&self, key: &str) {
        {
            let mut chitchat = self.chitchat.lock().await;
            let state = chitchat.self_node_state();
            if state.get(key).is_some() {
                state.delete(key);
            }
        }
        self.shared.wake.notify_one();
    }

    /// The nodes the failure detector considers alive, self included, sorted.
    pub async fn live_members(&self) -> Vec<u32> {
        let chitchat = self.chitchat.lock().await;
        live_by_node(&chitchat).into_keys().collect()
    }

    /// The live member set (self included, sorted), updated when it changes.
    pub fn members(&self) -> watch::Receiver<Vec<u32>> {
        self.members_rx.clone()
    }

    /// Every key starting with `prefix` on the live nodes: `(node, key, value)`, sorted by node
    /// then key.
    pub async fn scan(&self, prefix: &str) -> Vec<(u32, String, String)> {
        let chitchat = self.chitchat.lock().await;
        let mut out = Vec::new();
        for (node, id) in live_by_node(&chitchat) {
            if let Some(state) = chitchat.node_state(&id) {
                for (key, value) in state.iter_prefix(prefix) {
                    out.push((node, key.to_string(), value.value.clone()));
                }
            }
        }
        out
    }

    /// The value of `key` in the state this node holds for `node`, whether `node` is live or
    /// declared dead (but not yet forgotten). A diagnostic: it tells what has reached this
    /// node, where [`Gossip::scan`] tells what counts.
    pub async fn known_value(&self, node: u32, key: &str) -> Option<String> {
        let chitchat = self.chitchat.lock().await;
        let id = chitchat
            .node_states()
            .keys()
            .filter(|id| parse_node_id(&id.node_id) == Some(node))
            .max_by_key(|id| id.generation_id)?;
        chitchat.node_state(id)?.get(key).map(str::to_string)
    }

    /// Streams changes of keys starting with `prefix` in the live view.
    ///
    /// The stream starts with one `Some` event per key currently present, then reports sets,
    /// deletes (`None`), and whole nodes appearing (`Some` for each of their keys) or being
    /// declared dead (`None` for each). Changes are picked up at once for sets and within one
    /// gossip interval for deletes and membership changes; intermediate values may be
    /// coalesced. The subscription ends when the receiver is dropped.
    pub fn subscribe(&self, prefix: &str) -> mpsc::UnboundedReceiver<KeyEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.shared.subs.lock().push(Subscription {
            prefix: prefix.to_string(),
            tx,
            nodes: HashMap::new(),
        });
        self.shared.wake.notify_one();
        rx
    }

    /// Stops gossiping and waits for the gossip task to end. Peers declare this node dead after
    /// the failure-detection timeout.
    pub async fn shutdown(mut self) -> Result<(), GossipError> {
        self.sync_task.abort();
        match self.handle.take() {
            Some(handle) => handle
                .shutdown()
                .await
                .map_err(|e| GossipError::Shutdown(format!("{e:#}"))),
            None => Ok(()),
        }
    }
}

impl Drop for Gossip {
    fn drop(&mut self) {
        self.sync_task.abort();
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

impl std::fmt::Debug for Gossip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gossip")
            .field("node", &self.node)
            .field("listen_addr", &self.listen_addr)
            .finish_non_exhaustive()
    }
}

/// Keeps the member watch and the prefix subscriptions in step with chitchat's state.
async fn sync_loop(
    chitchat: Arc<tokio::sync::Mutex<Chitchat>>,
    shared: Arc<Shared>,
    members_tx: watch::Sender<Vec<u32>>,
    mut live_rx: watch::Receiver<BTreeMap<ChitchatId, chitchat::NodeState>>,
    interval: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut live_open = true;
    loop {
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tick.tick() => {}
            changed = live_rx.changed(), if live_open => {
                if changed.is_err() {
                    live_open = false;
                }
            }
        }
        let chitchat = chitchat.lock().await;
        let live = live_by_node(&chitchat);
        let members: Vec<u32> = live.keys().copied().collect();
        members_tx.send_if_modified(|current| {
            if *current != members {
                *current = members;
                true
            } else {
                false
            }
        });
        let mut subs = shared.subs.lock();
        subs.retain_mut(|sub| sync_subscription(sub, &chitchat, &live));
    }
}

/// Sends `sub` the differences between what it was told and the live view. Returns false when
/// the subscriber is gone.
fn sync_subscription(
    sub: &mut Subscription,
    chitchat: &Chitchat,
    live: &BTreeMap<u32, ChitchatId>,
) -> bool {
    let mut events = Vec::new();
    // Nodes that left the live view: all their keys go.
    let gone: Vec<u32> = sub
        .nodes
        .keys()
        .filter(|node| !live.contains_key(node))
        .copied()
        .collect();
    for node in gone {
        if let Some(view) = sub.nodes.remove(&node) {
            for key in view.kvs.into_keys() {
                events.push(KeyEvent {
                    node,
                    key,
                    value: None,
                });
            }
        }
    }
    for (&node, id) in live {
        let Some(state) = chitchat.node_state(id) else {
            continue;
        };
        let max_version = state.max_version();
        if let Some(view) = sub.nodes.get(&node) {
            if view.id == *id && view.max_version == max_version {
                continue;
            }
        }
        let fresh: BTreeMap<String, String> = state
            .iter_prefix(&sub.prefix)
            .map(|(k, v)| (k.to_string(), v.value.clone()))
            .collect();
        let old = sub
            .nodes
            .insert(
                node,
                NodeView {
                    id: id.clone(),
                    max_version,
                    kvs: fresh,
                },
            )
            .map(|view| view.kvs)
            .unwrap_or_default();
        let fresh = &sub.nodes[&node].kvs;
        for key in old.keys() {
            if !fresh.contains_key(key) {
                events.push(KeyEvent {
                    node,
                    key: key.clone(),
                    value: None,
                });
            }
        }
        for (key, value) in fresh {
            if old.get(key) != Some(value) {
                events.push(KeyEvent {
                    node,
                    key: key.clone(),
                    value: Some(value.clone()),
                });
            }
        }
    }
    for event in events {
        if sub.tx.send(event).is_err() {
            return false;
        }
    }
    !sub.tx.is_closed()
}

//! What crosses the socket between nodes: the tarpc service every node serves, and its types.
//!
//! Framing and serialisation are tarpc's serde transport with bincode over TCP; nothing
//! here is a hand-made wire format. Names travel in their unambiguous text form
//! (`Name::encoded`: a kind tag, then the content), as they do in etcd keys and gossip keys,
//! so `Id(42)` and `Text("42")` stay different names across nodes, as on one node.

use std::fmt;

use naming_schema::{Family, Identity};
use naming_strategies::NamingError;
use process_runtime::{CallError, ExitReason, Pid};
use serde::{Deserialize, Serialize};

/// A pid on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WirePid {
    /// The node the process lives on.
    pub node: u32,
    /// The incarnation of that node (a restarted node has a new one).
    pub creation: u32,
    /// Its serial number there.
    pub serial: u64,
}

impl From<Pid> for WirePid {
    fn from(p: Pid) -> Self {
        WirePid {
            node: p.node(),
            creation: p.creation(),
            serial: p.serial(),
        }
    }
}

impl From<WirePid> for Pid {
    fn from(p: WirePid) -> Self {
        Pid::with_creation(p.node, p.creation, p.serial)
    }
}

/// The message type that can cross nodes: opaque bytes the two ends agree on.
///
/// A remote process is reached through a proxy that takes calls, casts and sends of this
/// type only; any other type fails at the sender with `BadRequest`, never silently.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Payload(pub Vec<u8>);

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({} bytes)", self.0.len())
    }
}

/// Why a process exited, on the wire: carried by cross-node monitors (`Down`) and links
/// (exit signals), as the BEAM carries an exit reason between nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireExitReason {
    /// Returned normally.
    Normal,
    /// Stopped on purpose.
    Shutdown,
    /// Killed.
    Killed,
    /// Panicked, with the panic message.
    Panic(String),
    /// Any other error reason.
    Error(String),
}

impl From<&ExitReason> for WireExitReason {
    fn from(r: &ExitReason) -> Self {
        match r {
            ExitReason::Normal => WireExitReason::Normal,
            ExitReason::Shutdown => WireExitReason::Shutdown,
            ExitReason::Killed => WireExitReason::Killed,
            ExitReason::Panic(m) => WireExitReason::Panic(m.to_string()),
            ExitReason::Error(m) => WireExitReason::Error(m.to_string()),
        }
    }
}

impl From<WireExitReason> for ExitReason {
    fn from(r: WireExitReason) -> Self {
        match r {
            WireExitReason::Normal => ExitReason::Normal,
            WireExitReason::Shutdown => ExitReason::Shutdown,
            WireExitReason::Killed => ExitReason::Killed,
            WireExitReason::Panic(m) => ExitReason::Panic(m.into()),
            WireExitReason::Error(m) => ExitReason::error(m),
        }
    }
}

/// A call error on the wire, plus the one a local call cannot have: the node was unreachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireCallError {
    /// No such live process on that node.
    NoProc,
    /// No reply in time.
    Timeout,
    /// The process speaks other types.
    BadRequest,
    /// The node could not be reached (down, or cut off by a partition).
    NoConnection,
}

impl From<CallError> for WireCallError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::NoProc => WireCallError::NoProc,
            CallError::Timeout => WireCallError::Timeout,
            CallError::BadRequest => WireCallError::BadRequest,
        }
    }
}

impl From<WireCallError> for CallError {
    /// An unreachable node reads as `NoProc`, as a call to a pid on a disconnected BEAM node
    /// exits with `noconnection`: the process cannot be reached.
    fn from(e: WireCallError) -> Self {
        match e {
            WireCallError::NoProc | WireCallError::NoConnection => CallError::NoProc,
            WireCallError::Timeout => CallError::Timeout,
            WireCallError::BadRequest => CallError::BadRequest,
        }
    }
}

/// A naming error on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireNamingError {
    /// Held by this live process.
    AlreadyRegistered(WirePid),
    /// The process is dead.
    NoProc,
    /// Held by another process.
    NotOwner(WirePid),
    /// Not held by anyone.
    NotRegistered,
    /// The backend is not running on that node (e.g. no etcd configured).
    Unsupported(String),
    /// The registry could not be reached or did not answer.
    RegistryDown,
    /// The registry timed out.
    Timeout,
    /// The node could not be reached.
    NoConnection,
}

impl From<NamingError> for WireNamingError {
    fn from(e: NamingError) -> Self {
        match e {
            NamingError::AlreadyRegistered(p) => WireNamingError::AlreadyRegistered(p.into()),
            NamingError::NoProc => WireNamingError::NoProc,
            NamingError::NotOwner { owner } => WireNamingError::NotOwner(owner.into()),
            NamingError::NotRegistered => WireNamingError::NotRegistered,
            NamingError::Timeout => WireNamingError::Timeout,
            NamingError::RegistryDown => WireNamingError::RegistryDown,
            other => WireNamingError::Unsupported(other.to_string()),
        }
    }
}

impl From<WireNamingError> for NamingError {
    fn from(e: WireNamingError) -> Self {
        match e {
            WireNamingError::AlreadyRegistered(p) => NamingError::AlreadyRegistered(p.into()),
            WireNamingError::NoProc => NamingError::NoProc,
            WireNamingError::NotOwner(p) => NamingError::NotOwner { owner: p.into() },
            WireNamingError::NotRegistered => NamingError::NotRegistered,
            WireNamingError::Unsupported(_) => NamingError::Unsupported("remote backend"),
            WireNamingError::RegistryDown | WireNamingError::NoConnection => {
                NamingError::RegistryDown
            }
            WireNamingError::Timeout => NamingError::Timeout,
        }
    }
}

/// Which naming backend a control request is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Backend {
    /// This node's own single-node `Registry` (the reference line).
    Local,
    /// Consistent global names over etcd (`:global`).
    Global,
    /// The gossip-replicated registry (`pg` / syn).
    Gossip,
    /// Hash-ring ownership (Swarm / libring).
    Ring,
}

impl Backend {
    /// Every backend, the reference first.
    pub const ALL: [Backend; 4] = [
        Backend::Local,
        Backend::Global,
        Backend::Gossip,
        Backend::Ring,
    ];

    /// The label used in results and plots: the one place each is written.
    pub const fn label(self) -> &'static str {
        match self {
            Backend::Local => "registry-local",
            Backend::Global => "global-etcd",
            Backend::Gossip => "gossip-replicated",
            Backend::Ring => "hash-ring",
        }
    }

    /// Who this backend is in the results: its label and its family (the single-node
    /// `Registry` reference is a [`Family::Registry`], the other three are
    /// [`Family::Distributed`]).
    pub const fn identity(self) -> Identity {
        let family = match self {
            Backend::Local => Family::Registry,
            Backend::Global | Backend::Gossip | Backend::Ring => Family::Distributed,
        };
        Identity::new(self.label(), family)
    }
}

/// Latencies one node measured of its own lookups + calls through a backend.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProbeReport {
    /// Calls that got a reply.
    pub ok: u64,
    /// Names that were not found.
    pub not_found: u64,
    /// Calls that failed (no process, timeout, unreachable).
    pub failed: u64,
    /// Latency percentiles of the successful lookup + call, in nanoseconds: p50, p90, p99, max.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Slowest.
    pub max_ns: u64,
    /// Mean of the successful calls.
    pub mean_ns: f64,
}

/// Counters a node keeps about its distributed naming, for the results.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NodeStats {
    /// Processes this node killed because they lost a name conflict after a heal.
    pub conflict_kills: u64,
    /// Ring entries this node handed to a new owner after a membership change.
    pub handoffs_out: u64,
    /// Ring lookups that reached this node as owner but found nothing (e.g. during a handoff).
    pub ring_misses: u64,
    /// Names this node lost when its etcd lease lapsed and someone else took them.
    pub lease_losses: u64,
    /// Plain messages from other nodes delivered to a live local process.
    pub remote_delivered: u64,
    /// Times this node noticed it had been frozen past failure detection.
    pub freezes: u64,
}

/// The service every node serves: messaging between nodes, ring ownership between nodes,
/// and control by the harness.
#[tarpc::service]
pub trait NodeApi {
    /// Calls local process `to` with `request`, waiting up to `timeout_ms`.
    async fn call(to: WirePid, request: Payload, timeout_ms: u64)
        -> Result<Payload, WireCallError>;
    /// Sends a plain message to local process `to`.
    async fn send(to: WirePid, msg: Payload) -> Result<(), WireCallError>;
    /// Whether each local pid is alive.
    async fn alive(pids: Vec<WirePid>) -> Vec<bool>;
    /// Kills a local process (reason `Killed`, or an error reason if `reason` is given).
    async fn kill(pid: WirePid, reason: Option<String>) -> bool;

    /// Monitors and links: node `watcher` holds a proxy of local process `pid` and wants
    /// to hear (through [`exited`](NodeApi::exited)) when it exits; `false` if no such
    /// process is alive (the proxy then ends with `noproc`, as a BEAM monitor of a dead pid).
    async fn watch(pid: WirePid, watcher: u32) -> bool;
    /// Monitors and links: the remote process `pid` exited with `reason`; this node's proxy
    /// of it ends with that reason, so its monitors get `Down` and its links the signal.
    async fn exited(pid: WirePid, reason: WireExitReason);
    /// Links: process `from` of the calling node, linked to local process `to`, exited with
    /// `reason`; `to` gets the exit signal (dies, or an `Exit` message if it traps exits).
    /// `false` if `to` is not alive.
    async fn exit_signal(from: WirePid, to: WirePid, reason: WireExitReason) -> bool;

    /// As ring owner: records `name -> pid` (unique), `stamp` is its registration time.
    async fn ring_claim(name: String, pid: WirePid, stamp: u64) -> Result<(), WireNamingError>;
    /// As ring owner: removes `name` if `pid` holds it.
    async fn ring_release(name: String, pid: WirePid) -> bool;
    /// As ring owner: who holds `name`.
    async fn ring_lookup(name: String) -> Option<WirePid>;
    /// As new ring owner: takes over entries; returns the ones it refused (the conflict losers).
    async fn ring_handoff(entries: Vec<(String, WirePid, u64)>) -> Vec<(String, WirePid)>;

    /// Control: starts an echo worker on this node registered as `name` in `backend`.
    async fn spawn_worker(backend: Backend, name: String) -> Result<WirePid, WireNamingError>;
    /// Control: starts and registers one echo worker per name, back to back; returns how
    /// many registered and the nanoseconds the whole batch took on this node.
    async fn register_many(backend: Backend, names: Vec<String>) -> (u64, u64);
    /// Control: this node's answer to `whereis(name)` in `backend`.
    async fn whereis(backend: Backend, name: String) -> Option<WirePid>;
    /// Control: every name this node sees in `backend`, with its owner.
    async fn names(backend: Backend) -> Vec<(String, WirePid)>;
    /// Control: this node looks up and calls each of `names` `rounds` times through `backend`.
    async fn probe(
        backend: Backend,
        names: Vec<String>,
        rounds: u32,
        timeout_ms: u64,
    ) -> ProbeReport;
    /// Control: times `rounds` bare round trips to node `peer` over the node transport
    /// (the floor under every cross-node call).
    async fn rpc_floor(peer: u32, rounds: u32) -> ProbeReport;
    /// Control: the live members this node sees.
    async fn members() -> Vec<u32>;
    /// Control: cut (fault injection) all traffic to and from `nodes`; empty heals.
    async fn isolate_from(nodes: Vec<u32>);
    /// Control: this node's counters.
    async fn stats() -> NodeStats;
    /// Control: this node calls process `pid` (local, or remote over the node transport),
    /// waiting up to `timeout_ms`; the remote node's answer as it came.
    async fn call_pid(
        pid: WirePid,
        request: Payload,
        timeout_ms: u64,
    ) -> Result<Payload, WireCallError>;
    /// Control: this node sends a plain message to process `pid` (local or remote).
    async fn send_pid(pid: WirePid, msg: Payload) -> Result<(), WireCallError>;
    /// Control: starts `count` group members on this node and joins them to `group` in
    /// `backend`; each records, for [`group_received`](NodeApi::group_received), how long
    /// every dispatched message took to reach it. The error of the first refused join.
    async fn join_group(
        backend: Backend,
        group: String,
        count: u32,
    ) -> Result<Vec<WirePid>, WireNamingError>;
    /// Control: the members of `group` this node sees in `backend` (only the
    /// gossip-replicated backend has cross-node groups; the others answer none).
    async fn group_members(backend: Backend, group: String) -> Vec<WirePid>;
    /// Control: this node dispatches `messages` time-stamped messages to `group` in
    /// `backend`; how many members they reached in all.
    async fn dispatch_group(
        backend: Backend,
        group: String,
        messages: u32,
    ) -> Result<u64, WireNamingError>;
    /// Control: the delivery latencies (ns, dispatch to receipt) of the messages this
    /// node's members of `group` received since the last ask.
    async fn group_received(group: String) -> Vec<u64>;
    /// Control: skews this node's registration clock by `offset_ms` (test hook).
    async fn set_clock_offset(offset_ms: i64);
}

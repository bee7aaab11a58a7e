//! `:global`-like names over etcd: one owner per name cluster-wide, decided by etcd.
//!
//! Each node runs one [`EtcdNames`]. A claim is one etcd transaction (create the key if absent,
//! attached to the node's lease), so of racing claimers exactly one wins. The node's lease is
//! kept alive in the background; when the node dies its lease expires and etcd deletes its
//! names. Like `:global`, which replicates its table to every node, each node keeps a local copy
//! of the whole table, updated by an etcd watch, so [`EtcdNames::lookup`] is a local read.
//!
//! Keys are `{prefix}/n/{name}`, values the pid as `"{node}.{serial}"`.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use parking_lot::Mutex;
use process_runtime::Pid;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::etcd_kv::{Created, EtcdError, EtcdKv, WatchEvent};

/// Options of an [`EtcdNames`] table.
#[derive(Debug, Clone)]
pub struct GlobalOpts {
    /// Key prefix of this table (several tables can share one etcd cluster).
    pub prefix: String,
    /// TTL of the node's lease, in seconds: how long a dead or partitioned node's names survive.
    pub lease_ttl_secs: i64,
    /// Per-request timeout towards etcd.
    pub request_timeout: Duration,
}

impl Default for GlobalOpts {
    fn default() -> Self {
        GlobalOpts {
            prefix: "/naming-bench/global".into(),
            lease_ttl_secs: 5,
            request_timeout: Duration::from_secs(2),
        }
    }
}

/// Why a claim failed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another pid holds the name (as etcd decided, linearizably).
    #[error("name held by {0}")]
    Held(Pid),
    /// etcd could not be reached or answered an error; the claim may or may not have happened
    /// (a retry is safe: a claim finding its own pid succeeds).
    #[error(transparent)]
    Unavailable(#[from] EtcdError),
}

/// Encode a pid as an etcd value: `"{node}.{creation}.{serial}"`.
pub fn encode_pid(pid: Pid) -> String {
    format!("{}.{}.{}", pid.node(), pid.creation(), pid.serial())
}

/// Decode an etcd value written by [`encode_pid`]; `None` if malformed.
pub fn decode_pid(value: &[u8]) -> Option<Pid> {
    let s = std::str::from_utf8(value).ok()?;
    let (node, rest) = s.split_once('.')?;
    crate::replicated::parse_local_pid(node.parse().ok()?, rest).filter(|_| rest.contains('.'))
}

struct Shared {
    kv: EtcdKv,
    node: u32,
    /// `{prefix}/n/`
    key_prefix: String,
    ttl: i64,
    lease: AtomicI64,
    /// Set when re-claiming after a lease loss did not finish; the keepalive loop retries.
    reclaim_pending: AtomicBool,
    /// Serialises lease renewal (keepalive loop and claims that hit a dead lease).
    renew: tokio::sync::Mutex<()>,
    /// name -> (pid, revision of the write that set it). Events older than the entry are ignored.
    cache: DashMap<String, (Pid, i64)>,
    own: DashMap<String, Pid>,
    /// Until when the current lease is surely alive in etcd: the send time of the last grant
    /// or keepalive etcd answered, plus the TTL it gave. Past it, etcd may have expired the
    /// lease and handed this node's names to others, so this node does not answer as their
    /// owner (a frozen or cut-off node must not serve names it may have lost).
    valid_until: Mutex<Instant>,
    lost_tx: mpsc::UnboundedSender<(String, Pid)>,
}

/// The `:global` name table of one node, backed by etcd. See the module docs.
pub struct EtcdNames {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<AbortHandle>>,
    lost_rx: Mutex<Option<mpsc::UnboundedReceiver<(String, Pid)>>>,
}

impl std::fmt::Debug for EtcdNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdNames")
            .field("node", &self.shared.node)
            .field("prefix", &self.shared.key_prefix)
            .field("lease", &self.shared.lease.load(Ordering::Relaxed))
            .field("names", &self.shared.cache.len())
            .finish()
    }
}

impl Shared {
    /// Records that etcd, asked at `sent`, kept the lease alive for `ttl_secs` more seconds.
    fn lease_alive(&self, sent: Instant, ttl_secs: i64) {
        let until = sent + Duration::from_secs(ttl_secs.max(0) as u64);
        let mut v = self.valid_until.lock();
        if until > *v {
            *v = until;
        }
    }

    /// Whether this node's answer `pid` for a name can be given: always for another node's
    /// process, for its own only while its lease is surely alive.
    fn answerable(&self, pid: Pid) -> bool {
        pid.node() != self.node || Instant::now() <= *self.valid_until.lock()
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.key_prefix)
    }

    fn name_of<'k>(&self, key: &'k [u8]) -> Option<&'k str> {
        std::str::from_utf8(key)
            .ok()?
            .strip_prefix(self.key_prefix.as_str())
    }

    /// Set `name` in the cache unless the cache already holds a newer write.
    fn cache_put(&self, name: &str, pid: Pid, revision: i64) {
        let mut e = self
            .cache
            .entry(name.to_string())
            .or_insert((pid, revision));
        if e.1 <= revision {
            *e = (pid, revision);
        }
    }

    /// Remove `name` from the cache unless it holds a write newer than `revision`.
    fn cache_remove(&self, name: &str, revision: i64) {
        self.cache.remove_if(name, |_, (_, r)| *r <= revision);
    }

    /// One create-if-absent under the current lease; renews the lease once if it was dead.
    async fn try_claim(&self, name: &str, pid: Pid) -> Result<(), ClaimError> {
        let key = self.key(name);
        let value = encode_pid(pid);
        let mut renewed = false;
        loop {
            let lease = self.lease.load(Ordering::Acquire);
            match self
                .kv
                .create_if_absent(key.as_bytes(), value.as_bytes(), lease)
                .await
            {
                Ok(Created::Created { revision }) => {
                    self.cache_put(name, pid, revision);
                    return Ok(());
                }
                Ok(Created::Existing(kv)) => {
                    let holder = decode_pid(&kv.value).ok_or_else(|| {
                        EtcdError::Decode(format!("bad pid value under {key}: {:?}", kv.value))
                    })?;
                    self.cache_put(name, holder, kv.mod_revision);
                    // Our own earlier (timed-out, retried) write counts as success.
                    if holder == pid && kv.lease == lease {
                        return Ok(());
                    }
                    return Err(ClaimError::Held(holder));
                }
                Err(e) if e.is_lease_not_found() && !renewed => {
                    renewed = true;
                    self.renew_lease(lease).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Replace lease `dead` by a new one (if nobody did already) and re-claim every own claim.
    async fn renew_lease(&self, dead: i64) -> Result<(), EtcdError> {
        let _guard = self.renew.lock().await;
        if self.lease.load(Ordering::Acquire) != dead {
            return Ok(());
        }
        let sent = Instant::now();
        let fresh = self.kv.lease_grant(self.ttl).await?;
        self.lease_alive(sent, self.ttl);
        self.lease.store(fresh, Ordering::Release);
        self.reclaim_pending.store(true, Ordering::Release);
        self.reclaim_all().await
    }

    /// Re-claim every own claim under the current lease; names taken meanwhile go to `lost`.
    async fn reclaim_all(&self) -> Result<(), EtcdError> {
        let claims: Vec<(String, Pid)> = self
            .own
            .iter()
            .map(|e| (e.key().clone(), *e.value()))
            .collect();
        // Losses are reported after the pass, so a receiver sees the surviving claims in place.
        let mut lost = Vec::new();
        let mut result = Ok(());
        for (name, pid) in claims {
            match self.try_claim_no_renew(&name, pid).await {
                Ok(()) => {}
                Err(ClaimError::Held(_)) => {
                    if self.own.remove_if(&name, |_, p| *p == pid).is_some() {
                        lost.push((name, pid));
                    }
                }
                Err(ClaimError::Unavailable(e)) => {
                    result = Err(e);
                    break;
                }
            }
        }
        for l in lost {
            let _ = self.lost_tx.send(l);
        }
        if result.is_ok() {
            self.reclaim_pending.store(false, Ordering::Release);
        }
        result
    }

    async fn try_claim_no_renew(&self, name: &str, pid: Pid) -> Result<(), ClaimError> {
        let key = self.key(name);
        let value = encode_pid(pid);
        let lease = self.lease.load(Ordering::Acquire);
        match self
            .kv
            .create_if_absent(key.as_bytes(), value.as_bytes(), lease)
            .await?
        {
            Created::Created { revision } => {
                self.cache_put(name, pid, revision);
                Ok(())
            }
            Created::Existing(kv) => match decode_pid(&kv.value) {
                Some(holder) if holder == pid && kv.lease == lease => Ok(()),
                Some(holder) => {
                    self.cache_put(name, holder, kv.mod_revision);
                    Err(ClaimError::Held(holder))
                }
                None => Err(EtcdError::Decode(format!("bad pid value under {key}")).into()),
            },
        }
    }

    async fn keepalive_loop(self: Arc<Self>) {
        let period = Duration::from_millis((self.ttl.max(1) as u64 * 1000) / 3);
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let lease = self.lease.load(Ordering::Acquire);
            let sent = Instant::now();
            match self.kv.lease_keepalive_once(lease).await {
                Ok(0) => {
                    // Lease gone (e.g. partitioned past the TTL): new lease, re-claim.
                    let _ = self.renew_lease(lease).await;
                }
                Ok(ttl) => {
                    self.lease_alive(sent, ttl);
                    if self.reclaim_pending.load(Ordering::Acquire) {
                        let _guard = self.renew.lock().await;
                        let _ = self.reclaim_all().await;
                    }
                }
                Err(_) => {} // unreachable now; retried next tick
            }
        }
    }

    /// Load the table, then follow it with a watch; reload whenever the watch ends.
    async fn watch_loop(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(50);
        loop {
            let (kvs, revision) = match self.kv.range_prefix(self.key_prefix.as_bytes()).await {
                Ok(r) => r,
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            backoff = Duration::from_millis(50);
            let mut seen = std::collections::HashSet::with_capacity(kvs.len());
            for kv in &kvs {
                if let (Some(name), Some(pid)) = (self.name_of(&kv.key), decode_pid(&kv.value)) {
                    self.cache_put(name, pid, kv.mod_revision);
                    seen.insert(name.to_string());
                }
            }
            self.cache
                .retain(|name, (_, r)| seen.contains(name) || *r > revision);
            let mut events = self
                .kv
                .watch_prefix(self.key_prefix.as_bytes(), revision + 1);
            while let Some(ev) = events.recv().await {
                match ev {
                    WatchEvent::Put {
                        key,
                        value,
                        revision,
                    } => {
                        if let (Some(name), Some(pid)) = (self.name_of(&key), decode_pid(&value)) {
                            self.cache_put(name, pid, revision);
                        }
                    }
                    WatchEvent::Delete { key, revision } => {
                        if let Some(name) = self.name_of(&key) {
                            self.cache_remove(name, revision);
                        }
                    }
                    WatchEvent::Compacted { .. } => break,
                }
            }
        }
    }
}

impl EtcdNames {
    /// Join the table: grant this node's lease, load the table, and start the keepalive (every
    /// TTL/3) and watch tasks. Must be called inside a tokio runtime.
    pub async fn connect(
        endpoints: Vec<String>,
        node: u32,
        opts: GlobalOpts,
    ) -> Result<Self, EtcdError> {
        let kv = EtcdKv::new(endpoints, opts.request_timeout)?;
        let ttl = opts.lease_ttl_secs.max(1);
        let sent = Instant::now();
        let lease = kv.lease_grant(ttl).await?;
        let (lost_tx, lost_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            kv,
            node,
            key_prefix: format!("{}/n/", opts.prefix.trim_end_matches('/')),
            ttl,
            lease: AtomicI64::new(lease),
            reclaim_pending: AtomicBool::new(false),
            renew: tokio::sync::Mutex::new(()),
            cache: DashMap::new(),
            own: DashMap::new(),
            valid_until: Mutex::new(sent + Duration::from_secs(ttl as u64)),
            lost_tx,
        });
        // Initial load before returning, so a fresh node sees the table at once.
        let (kvs, _) = match shared.kv.range_prefix(shared.key_prefix.as_bytes()).await {
            Ok(r) => r,
            Err(e) => {
                let _ = shared.kv.lease_revoke(lease).await;
                return Err(e);
            }
        };
        for kv in &kvs {
            if let (Some(name), Some(pid)) = (shared.name_of(&kv.key), decode_pid(&kv.value)) {
                shared.cache_put(name, pid, kv.mod_revision);
            }
        }
        let keepalive = tokio::spawn(shared.clone().keepalive_loop()).abort_handle();
        let watch = tokio::spawn(shared.clone().watch_loop()).abort_handle();
        Ok(EtcdNames {
            shared,
            tasks: Mutex::new(vec![keepalive, watch]),
            lost_rx: Mutex::new(Some(lost_rx)),
        })
    }

    /// The node this table belongs to.
    pub fn node(&self) -> u32 {
        self.shared.node
    }

    /// The lease currently holding this node's names.
    pub fn lease_id(&self) -> i64 {
        self.shared.lease.load(Ordering::Acquire)
    }

    /// Register `name` for `pid` cluster-wide; fails with [`ClaimError::Held`] if another pid
    /// has it. On success the name is in the local cache at once (read-your-writes) and counts
    /// as one of this node's claims (re-claimed if the lease is lost).
    pub async fn claim(&self, name: &str, pid: Pid) -> Result<(), ClaimError> {
        self.shared.try_claim(name, pid).await?;
        self.shared.own.insert(name.to_string(), pid);
        Ok(())
    }

    /// Unregister `name` if it is still held by `pid`; returns whether it was deleted.
    pub async fn release(&self, name: &str, pid: Pid) -> Result<bool, EtcdError> {
        let s = &self.shared;
        let (deleted, revision) =
            s.kv.delete_if_value(s.key(name).as_bytes(), encode_pid(pid).as_bytes())
                .await?;
        if deleted {
            s.own.remove_if(name, |_, p| *p == pid);
            s.cache
                .remove_if(name, |_, (p, r)| *p == pid && *r <= revision);
        }
        Ok(deleted)
    }

    /// The pid holding `name` as far as this node's replica knows (a local read; may lag etcd
    /// by the watch delay). A name held by this node's own process is not answered while
    /// its lease may have lapsed (no keepalive answered within the TTL).
    pub fn lookup(&self, name: &str) -> Option<Pid> {
        let pid = self.shared.cache.get(name).map(|e| e.0)?;
        self.shared.answerable(pid).then_some(pid)
    }

    /// The pid holding `name` as etcd says now (a linearizable read; one round trip).
    pub async fn lookup_consistent(&self, name: &str) -> Result<Option<Pid>, EtcdError> {
        let s = &self.shared;
        let key = s.key(name);
        match s.kv.get(key.as_bytes()).await? {
            None => Ok(None),
            Some(kv) => decode_pid(&kv.value)
                .map(Some)
                .ok_or_else(|| EtcdError::Decode(format!("bad pid value under {key}"))),
        }
    }

    /// Number of names in the local replica.
    pub fn len(&self) -> usize {
        self.shared.cache.len()
    }

    /// Whether the local replica is empty.
    pub fn is_empty(&self) -> bool {
        self.shared.cache.is_empty()
    }

    /// Every `(name, pid)` in the local replica that [`lookup`](Self::lookup) would answer
    /// (a snapshot; for checks and tests).
    pub fn snapshot(&self) -> Vec<(String, Pid)> {
        self.shared
            .cache
            .iter()
            .filter(|e| self.shared.answerable(e.value().0))
            .map(|e| (e.key().clone(), e.value().0))
            .collect()
    }

    /// Number of names this node claimed and still holds.
    pub fn own_claims(&self) -> usize {
        self.shared.own.len()
    }

    /// The channel of own claims lost to another node after a lease loss (the node should kill
    /// those processes, as `:global` tells the loser). `None` after the first call.
    pub fn lost(&self) -> Option<mpsc::UnboundedReceiver<(String, Pid)>> {
        self.lost_rx.lock().take()
    }

    /// Test/benchmark hook simulating this node dying: stop keepalives and the watch without
    /// revoking the lease, so the names vanish only when the TTL runs out.
    pub fn crash(&self) {
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
    }

    /// Leave cleanly: stop background tasks and revoke the lease, deleting this node's names now.
    pub async fn shutdown(self) -> Result<(), EtcdError> {
        self.crash();
        let lease = self.shared.lease.load(Ordering::Acquire);
        self.shared.kv.lease_revoke(lease).await
    }
}

impl Drop for EtcdNames {
    fn drop(&mut self) {
        self.crash();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_values_round_trip() {
        let p = Pid::new(7, 1 << 40);
        assert_eq!(decode_pid(encode_pid(p).as_bytes()), Some(p));
        let restarted = Pid::with_creation(7, u32::MAX, 3);
        assert_eq!(
            decode_pid(encode_pid(restarted).as_bytes()),
            Some(restarted)
        );
        assert_eq!(decode_pid(b"7.3"), None);
        assert_eq!(decode_pid(b"7"), None);
        assert_eq!(decode_pid(b"x.1"), None);
        assert_eq!(decode_pid(&[0xff, b'.', b'1']), None);
    }
}

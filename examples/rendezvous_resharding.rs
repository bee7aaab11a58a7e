//! Routes calls to shard workers by rendezvous hashing (seed 000's `pick_shard`) and
//! reshards while clients call: a fifth shard worker is added to four, and the keys it now
//! wins are handed over to it.
//!
//! Each shard worker keeps a counter per user and serves only the users the current router
//! gives it. The reshard: start shard 4 under its name, switch every client to the router
//! over five shards, then move the counters of the users shard 4 now wins from their old
//! shards to it. The declared handover: a call routed by the old router that reaches its old
//! shard after the switch is answered `Moved` (counted) and is retried once through the new
//! router. Asserted: no call fails or is lost (every user's final counter equals the
//! increments the clients saw answered), every `Moved` is for a user that moved and
//! succeeds on its one retry, and rendezvous hashing moves only about 1/5 of the keys, all
//! to the new shard.
//!
//! Run: `cargo run --release --example rendezvous_resharding`

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use naming_strategies::runtime::{
    ChildSpec, Ctx, DynamicSupervisor, DynamicSupervisorOpts, GenServer, Restart, Runtime,
    StartOpts,
};
use naming_strategies::shard::{shard_name, RendezvousRouter, ShardRouter};
use naming_strategies::{via, DashMapTable, Naming, Registry};
use parking_lot::RwLock;

const T: Duration = Duration::from_secs(2);
/// Shards before the reshard; one is added.
const SHARDS: usize = 4;
/// The users the clients call for.
const USERS: u64 = 10_000;
/// Concurrent clients.
const CLIENTS: u64 = 4;

/// The router every client and shard reads: replaced whole at the reshard.
type Current = Arc<RwLock<Arc<RendezvousRouter>>>;

/// What a shard worker is asked.
enum ShardCall {
    /// Add one to this user's counter.
    Incr(u64),
    /// Give up (and return) the counters of the users the current router gives elsewhere.
    HandOver,
    /// Take these counters (added to any the shard already has for those users).
    Adopt(Vec<(u64, u64)>),
    /// Every counter the shard holds.
    Dump,
}

/// What a shard worker answers.
#[derive(Debug)]
enum ShardReply {
    /// The increment is done.
    Counted,
    /// The user is not this shard's under the current router: route again.
    Moved,
    /// Counters handed over or dumped.
    Entries(Vec<(u64, u64)>),
    /// Counters adopted.
    Adopted,
}

/// Shard `k`: the counters of the users the current router gives it.
struct Shard {
    k: usize,
    router: Current,
    counters: HashMap<u64, u64>,
}

impl Shard {
    fn owns(&self, user: u64) -> bool {
        self.router.read().shard_of(user) == self.k
    }
}

impl GenServer for Shard {
    type Call = ShardCall;
    type Reply = ShardReply;
    type Cast = ();

    async fn handle_call(&mut self, call: ShardCall, _ctx: &mut Ctx) -> ShardReply {
        match call {
            ShardCall::Incr(user) if self.owns(user) => {
                let c = self.counters.entry(user).or_insert(0);
                *c += 1;
                ShardReply::Counted
            }
            ShardCall::Incr(_) => ShardReply::Moved,
            ShardCall::HandOver => {
                let router = self.router.read().clone();
                let leaving: Vec<u64> = self
                    .counters
                    .keys()
                    .copied()
                    .filter(|&u| router.shard_of(u) != self.k)
                    .collect();
                ShardReply::Entries(
                    leaving
                        .into_iter()
                        .filter_map(|u| self.counters.remove(&u).map(|c| (u, c)))
                        .collect(),
                )
            }
            ShardCall::Adopt(entries) => {
                for (u, c) in entries {
                    *self.counters.entry(u).or_insert(0) += c;
                }
                ShardReply::Adopted
            }
            ShardCall::Dump => {
                ShardReply::Entries(self.counters.iter().map(|(&u, &c)| (u, c)).collect())
            }
        }
    }
}

/// Shard `k`'s child spec: registered as `{:shard, k}` in `names`.
fn shard(k: usize, names: &Registry<DashMapTable>, router: &Current) -> ChildSpec {
    let (names, router) = (names.clone(), router.clone());
    ChildSpec::new(
        "shard",
        Restart::Permanent,
        move |rt: Runtime, mut opts: StartOpts| {
            opts.register = Some(via(&names, shard_name(k)));
            let worker = Shard {
                k,
                router: router.clone(),
                counters: HashMap::new(),
            };
            async move {
                rt.start_opts(worker, opts)
                    .await
                    .map(|s| s.process().clone())
            }
        },
    )
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    /// Increments answered, per user.
    answered: HashMap<u64, u64>,
    /// Calls answered `Moved`, with their user.
    moved: Vec<u64>,
}

/// Increments random users' counters through the current router until `stop`; a `Moved`
/// is retried once through the router read again. Any other failure ends the example.
async fn client(
    seed: u64,
    names: Registry<DashMapTable>,
    router: Current,
    stop: Arc<AtomicBool>,
) -> Seen {
    let mut seen = Seen::default();
    let mut x = seed;
    while !stop.load(Ordering::Relaxed) {
        // A small xorshift: which user this call is for.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let user = x % USERS;
        let mut tries = 0;
        loop {
            let name = router.read().route(user);
            let reply: ShardReply = names
                .call(&name, ShardCall::Incr(user), T)
                .await
                .unwrap_or_else(|e| panic!("a call for user {user} to {name:?} failed: {e}"));
            match reply {
                ShardReply::Counted => {
                    *seen.answered.entry(user).or_insert(0) += 1;
                    break;
                }
                ShardReply::Moved => {
                    seen.moved.push(user);
                    tries += 1;
                    assert!(
                        tries < 2,
                        "user {user} answered Moved again after its retry"
                    );
                }
                other => panic!("unexpected answer {other:?}"),
            }
        }
        tokio::task::yield_now().await;
    }
    seen
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    // Run on a worker thread, as a client process would, not on the blocked main thread.
    tokio::spawn(demo()).await.expect("the demo panicked");
}

async fn demo() {
    let rt = Runtime::new();
    let names = Registry::<DashMapTable>::new(1);
    let before = Arc::new(RendezvousRouter::new(SHARDS).expect("four shards"));
    let router: Current = Arc::new(RwLock::new(before.clone()));
    let sup = DynamicSupervisor::start(&rt, DynamicSupervisorOpts::default())
        .await
        .expect("the shard supervisor starts");
    for k in 0..SHARDS {
        sup.start_child(shard(k, &names, &router))
            .await
            .expect("a shard starts");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(client(
                0x9E37_79B9_7F4A_7C15 ^ (c + 1),
                names.clone(),
                router.clone(),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The reshard, while the clients call: a fifth shard, then the router over five, then
    // the handover of the counters the new shard now owns.
    let after = Arc::new(before.with_shards(SHARDS + 1).expect("five shards"));
    sup.start_child(shard(SHARDS, &names, &router))
        .await
        .expect("the new shard starts");
    *router.write() = after.clone();
    let mut handed = Vec::new();
    for k in 0..SHARDS {
        match names.call(&shard_name(k), ShardCall::HandOver, T).await {
            Ok(ShardReply::Entries(entries)) => handed.extend(entries),
            other => panic!("shard {k} did not hand over: {other:?}"),
        }
    }
    let moved_users = handed.len();
    assert!(
        handed.iter().all(|&(u, _)| after.shard_of(u) == SHARDS),
        "a shard handed over a user the new shard does not own"
    );
    match names
        .call(&shard_name(SHARDS), ShardCall::Adopt(handed), T)
        .await
    {
        Ok(ShardReply::Adopted) => {}
        other => panic!("the new shard did not adopt: {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);

    let mut answered: HashMap<u64, u64> = HashMap::new();
    let mut moved = Vec::new();
    for c in clients {
        let seen = c.await.expect("a client panicked");
        for (u, n) in seen.answered {
            *answered.entry(u).or_insert(0) += n;
        }
        moved.extend(seen.moved);
    }
    let calls: u64 = answered.values().sum();

    // No call lost: the shards hold exactly the increments the clients saw answered, each
    // user on the shard the new router gives it.
    let mut held: HashMap<u64, u64> = HashMap::new();
    for k in 0..=SHARDS {
        match names.call(&shard_name(k), ShardCall::Dump, T).await {
            Ok(ShardReply::Entries(entries)) => {
                for (u, c) in entries {
                    assert_eq!(after.shard_of(u), k, "user {u} left on shard {k}");
                    assert!(held.insert(u, c).is_none(), "user {u} on two shards");
                }
            }
            other => panic!("shard {k} did not dump: {other:?}"),
        }
    }
    assert_eq!(
        held, answered,
        "counters differ from the answered increments"
    );
    // The declared handover: only calls for users that moved were answered `Moved`.
    assert!(
        moved.iter().all(|&u| after.shard_of(u) == SHARDS),
        "a call for a user that did not move was answered Moved"
    );

    // Keys moved: about 1/5 of all users, every one to the new shard (rendezvous moves
    // only the keys the new shard wins).
    let mut moved_keys = 0u64;
    for u in 0..USERS {
        let (from, to) = (before.shard_of(u), after.shard_of(u));
        if from != to {
            assert_eq!(to, SHARDS, "user {u} moved between old shards");
            moved_keys += 1;
        }
    }
    let fraction = moved_keys as f64 / USERS as f64;
    let expected = 1.0 / (SHARDS + 1) as f64;
    assert!(
        (fraction - expected).abs() < 0.02,
        "moved {fraction:.4} of the keys, expected about {expected:.4}"
    );
    println!(
        "{calls} increments answered through {CLIENTS} clients across a reshard from {SHARDS} to {} shards; none lost",
        SHARDS + 1
    );
    println!(
        "keys moved: {moved_keys} of {USERS} ({:.2}%, 1/{} = {:.2}%), all to the new shard; {moved_users} counters handed over",
        fraction * 100.0,
        SHARDS + 1,
        expected * 100.0
    );
    println!(
        "declared handover: {} calls answered Moved after the switch (each for a moved user, each answered on its one retry)",
        moved.len()
    );
    let exited = sup.process().exited();
    sup.process().kill();
    exited.await;
}

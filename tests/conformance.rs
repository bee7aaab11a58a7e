//! One conformance suite, run against every naming backend.
//!
//! Adding a backend is one line in the `conformance!` list at the bottom. Each case is
//! written once, generic over `N: Naming`; where a backend cannot do something by design
//! (no registration at all, a fixed set of names) the case asserts the typed error it gives.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_strategies::runtime::{
    CallError, ChildSpec, Ctx, DynamicSupervisor, DynamicSupervisorOpts, Envelope, ExitReason,
    GenServer, Name, ProcessRef, Restart, Runtime, StartOpts,
};
use naming_strategies::{via, Naming, NamingError};

mod agent;
use agent::{agent, unregister_as};

const T: Duration = Duration::from_secs(2);

/// Every name the suite uses, so that a backend with a declared set can declare them.
pub fn conformance_names() -> Vec<Name> {
    let mut names = vec![
        Name::text("worker"),
        Name::text("nobody"),
        Name::tagged("session", 42),
        // Same display text as `Id(5)` and `Tagged("session", 42)`: distinct names all the same.
        Name::text("5"),
        Name::text("session_42"),
    ];
    names.extend((0..64).map(Name::Id));
    names
}

/// A worker that answers `n` with `n + 1`, and stops normally on a `Stop` cast.
struct Echo;

struct Stop;

impl GenServer for Echo {
    type Call = u64;
    type Reply = u64;
    type Cast = Stop;

    async fn handle_call(&mut self, n: u64, _ctx: &mut Ctx) -> u64 {
        n + 1
    }

    async fn handle_cast(&mut self, _: Stop, ctx: &mut Ctx) {
        ctx.stop(ExitReason::Normal);
    }
}

async fn echo(rt: &Runtime) -> ProcessRef {
    rt.start(Echo).await.expect("echo starts").process().clone()
}

/// Polls `check` until it holds or `limit` passes; returns whether it held.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// For backends without registration: the typed refusal, asserted. Returns `true` if the
/// caller should stop (nothing more to check).
async fn refuses_registration<N: Naming>(naming: &N, rt: &Runtime) -> bool {
    if naming.capabilities().register {
        return false;
    }
    let p = echo(rt).await;
    assert_eq!(
        naming.register(Name::text("worker"), &p).await,
        Err(NamingError::Unsupported("register")),
        "a backend without registration must refuse with Unsupported(\"register\")"
    );
    assert!(naming.whereis(&Name::text("worker")).await.is_none());
    true
}

pub async fn register_then_whereis<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let p = echo(&rt).await;
    let name = Name::text("worker");
    naming.register(name.clone(), &p).await.unwrap();
    assert_eq!(naming.whereis(&name).await.map(|w| w.pid()), Some(p.pid()));
    let reply: u64 = naming.call(&name, 41u64, T).await.unwrap();
    assert_eq!(reply, 42);
    // Names of every shape.
    for other in [Name::Id(7), Name::tagged("session", 42)] {
        let q = echo(&rt).await;
        naming.register(other.clone(), &q).await.unwrap();
        assert_eq!(naming.whereis(&other).await.map(|w| w.pid()), Some(q.pid()));
    }
    assert_eq!(naming.registered_count().await, 3);
}

pub async fn double_register_names_owner<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let first = echo(&rt).await;
    let second = echo(&rt).await;
    let name = Name::Id(1);
    naming.register(name.clone(), &first).await.unwrap();
    assert_eq!(
        naming.register(name.clone(), &second).await,
        Err(NamingError::AlreadyRegistered(first.pid()))
    );
    assert_eq!(
        naming.register(name.clone(), &first).await,
        Err(NamingError::AlreadyRegistered(first.pid()))
    );
    assert_eq!(
        naming.whereis(&name).await.map(|w| w.pid()),
        Some(first.pid())
    );
}

pub async fn unknown_name_is_none<N: Naming>(naming: N, _rt: Runtime) {
    assert!(naming.whereis(&Name::text("nobody")).await.is_none());
    assert!(naming.whereis(&Name::Id(63)).await.is_none());
}

pub async fn call_through_unknown_name_is_noproc<N: Naming>(naming: N, _rt: Runtime) {
    let r: Result<u64, CallError> = naming.call(&Name::text("nobody"), 1u64, T).await;
    assert_eq!(r, Err(CallError::NoProc));
    assert_eq!(
        naming.send(&Name::text("nobody"), 1u64).await,
        Err(CallError::NoProc)
    );
}

pub async fn registering_a_dead_process_is_noproc<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let p = echo(&rt).await;
    p.kill();
    p.exited().await;
    assert_eq!(
        naming.register(Name::Id(2), &p).await,
        Err(NamingError::NoProc)
    );
    assert!(naming.whereis(&Name::Id(2)).await.is_none());
}

pub async fn killed_owner_released_then_restarted_once<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let sup = DynamicSupervisor::start(&rt, DynamicSupervisorOpts::default())
        .await
        .unwrap();
    let name = Name::Id(3);
    let spec = {
        let naming = naming.clone();
        let name = name.clone();
        ChildSpec::new(
            "user_worker",
            Restart::Permanent,
            move |rt: Runtime, mut opts: StartOpts| {
                opts.register = Some(via(&naming, name.clone()));
                async move { rt.start_opts(Echo, opts).await.map(|s| s.process().clone()) }
            },
        )
    };
    let first = sup.start_child(spec).await.unwrap();
    assert_eq!(
        naming.whereis(&name).await.map(|p| p.pid()),
        Some(first.pid())
    );

    // Kill it and wait on its exit (a monitor), not on a fixed sleep.
    let exited = first.exited();
    assert!(first.kill());
    assert_eq!(exited.await, ExitReason::Killed);

    // Released: the name never again points at the dead pid ...
    assert!(
        eventually(T, || async {
            naming.whereis(&name).await.map(|p| p.pid()) != Some(first.pid())
        })
        .await,
        "name still points at the killed process"
    );
    // ... and the restart registers it again, with a new pid.
    assert!(
        eventually(T, || async {
            matches!(naming.whereis(&name).await, Some(p) if p.pid() != first.pid())
        })
        .await,
        "the restarted worker never registered its name"
    );
    let second = naming.whereis(&name).await.unwrap();
    let reply: u64 = naming.call(&name, 1u64, T).await.unwrap();
    assert_eq!(reply, 2);
    // Exactly one entry, one child.
    assert_eq!(naming.registered_count().await, 1);
    let children = sup.which_children().await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(
        children[0].process.as_ref().map(|p| p.pid()),
        Some(second.pid())
    );
}

pub async fn racing_registrations_have_one_winner<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let name = Name::text("worker");
    let mut contenders = Vec::new();
    for _ in 0..100 {
        contenders.push(echo(&rt).await);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(contenders.len()));
    let tasks: Vec<_> = contenders
        .iter()
        .cloned()
        .map(|p| {
            let naming = naming.clone();
            let name = name.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                (p.pid(), naming.register(name, &p).await)
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let winners: Vec<_> = results.iter().filter(|(_, r)| r.is_ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one registration wins");
    let winner = winners[0].0;
    for (_, r) in results.iter().filter(|(_, r)| r.is_err()) {
        assert_eq!(*r, Err(NamingError::AlreadyRegistered(winner)));
    }
    assert_eq!(naming.whereis(&name).await.map(|p| p.pid()), Some(winner));
    assert_eq!(naming.registered_count().await, 1);
}

pub async fn unregister_by_non_owner_is_refused<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let owner = agent(&rt);
    let other = agent(&rt);
    let name = Name::Id(4);
    naming.register(name.clone(), &owner).await.unwrap();
    assert_eq!(
        unregister_as(&other, &naming, &name).await,
        Err(NamingError::NotOwner { owner: owner.pid() })
    );
    assert_eq!(
        naming.whereis(&name).await.map(|p| p.pid()),
        Some(owner.pid())
    );
    unregister_as(&owner, &naming, &name).await.unwrap();
    assert!(naming.whereis(&name).await.is_none());
    assert_eq!(
        unregister_as(&owner, &naming, &name).await,
        Err(NamingError::NotRegistered)
    );
    // The owner lives on and may register again; its old registration left nothing behind.
    naming.register(name.clone(), &owner).await.unwrap();
    owner.kill();
    owner.exited().await;
    assert!(eventually(T, || async { naming.whereis(&name).await.is_none() }).await);
}

pub async fn name_is_free_after_normal_return<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let p = echo(&rt).await;
    let name = Name::Id(5);
    naming.register(name.clone(), &p).await.unwrap();
    let exited = p.exited();
    p.cast(Stop).unwrap();
    assert_eq!(exited.await, ExitReason::Normal);
    assert!(eventually(T, || async { naming.whereis(&name).await.is_none() }).await);
    let q = echo(&rt).await;
    assert!(
        eventually(T, || async {
            naming.register(name.clone(), &q).await.is_ok()
        })
        .await,
        "the name is not free again after its owner returned"
    );
}

pub async fn name_is_free_after_panic<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let name = Name::Id(6);
    let p = rt.spawn(|mut ctx: Ctx| async move {
        let _ = ctx.recv().await;
        panic!("boom");
    });
    naming.register(name.clone(), &p).await.unwrap();
    let exited = p.exited();
    p.send(()).unwrap();
    assert_eq!(exited.await, ExitReason::Panic("boom".into()));
    assert!(eventually(T, || async { naming.whereis(&name).await.is_none() }).await);
}

pub async fn cycles_leave_the_table_empty<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    for i in 0..10_000u64 {
        let p = rt.spawn(|mut ctx: Ctx| async move {
            match ctx.recv().await {
                Envelope::Info(_) => ExitReason::Normal,
                _ => ExitReason::error("unexpected"),
            }
        });
        naming
            .register(Name::Id(i % 64), &p)
            .await
            .unwrap_or_else(|e| {
                panic!("cycle {i}: register failed: {e}");
            });
        let exited = p.exited();
        p.send(()).unwrap();
        exited.await;
        // Wait for the release before reusing the name (a server-based backend cleans up
        // when it handles the Down).
        if i % 64 == 63 {
            assert!(eventually(T, || async { naming.registered_count().await == 0 }).await);
        }
    }
    assert!(
        eventually(T, || async { naming.registered_count().await == 0 }).await,
        "names left behind after 10,000 register/exit cycles"
    );
    // Only the backend's own processes may remain.
    assert!(
        rt.process_count() <= 2,
        "processes leaked: {}",
        rt.process_count()
    );
}

pub async fn undeclared_names_are_typed_errors<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let p = echo(&rt).await;
    let name = Name::text("not_declared_anywhere");
    let r = naming.register(name.clone(), &p).await;
    if naming.capabilities().dynamic_names {
        assert_eq!(r, Ok(()));
    } else {
        assert_eq!(r, Err(NamingError::Undeclared(name)));
    }
}

/// Names of different kinds that print alike (`Id(5)` and `Text("5")`, `Tagged("session", 42)`
/// and `Text("session_42")`) are different names, in every backend.
pub async fn distinct_names_with_the_same_text_stay_distinct<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let pairs = [
        (Name::Id(5), Name::text("5")),
        (Name::tagged("session", 42), Name::text("session_42")),
    ];
    for (a, b) in pairs {
        assert_eq!(a.to_string(), b.to_string(), "the pair must print alike");
        let p = echo(&rt).await;
        let q = echo(&rt).await;
        naming.register(a.clone(), &p).await.unwrap();
        assert!(
            naming.whereis(&b).await.is_none(),
            "{b:?} found the process registered as {a:?}"
        );
        assert_eq!(
            naming.register(b.clone(), &q).await,
            Ok(()),
            "{b:?} vs {a:?}"
        );
        assert_eq!(naming.whereis(&a).await.map(|w| w.pid()), Some(p.pid()));
        assert_eq!(naming.whereis(&b).await.map(|w| w.pid()), Some(q.pid()));
    }
    assert_eq!(naming.registered_count().await, 4);
}

/// Immediately after `kill()` returns, the name no longer reaches the process: `whereis`
/// answers `None` (or, in a backend that keeps stale answers by design and counts them in a
/// `stale_lookups` gauge, a process that is no longer alive), and a send through the name is
/// a typed error, never `Ok` for a message that would be dropped.
pub async fn killed_process_is_unreachable_at_once<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let keeps_stale = naming.gauges().iter().any(|(g, _)| *g == "stale_lookups");
    for i in 0..200u64 {
        let name = Name::Id(i % 64);
        let p = echo(&rt).await;
        assert!(
            eventually(T, || async {
                naming.register(name.clone(), &p).await.is_ok()
            })
            .await,
            "round {i}: the name never became free"
        );
        assert!(p.kill());
        match naming.whereis(&name).await {
            None => {}
            Some(found) => {
                assert!(
                    keeps_stale,
                    "round {i}: whereis found the killed process right after kill()"
                );
                assert!(!found.is_alive(), "round {i}: killed process still alive");
                assert_eq!(found.send(1u64), Err(CallError::NoProc));
            }
        }
        let sent = naming.send(&name, 1u64).await;
        assert_eq!(sent, Err(CallError::NoProc), "round {i}: send after kill");
        let r: Result<u64, CallError> = naming.call(&name, 1u64, T).await;
        assert_eq!(r, Err(CallError::NoProc), "round {i}: call after kill");
        // Dead at once: it can take no further name either.
        assert_eq!(
            naming.register(Name::text("worker"), &p).await,
            Err(NamingError::NoProc),
            "round {i}: a killed process registered a name"
        );
        p.exited().await;
    }
}

/// A call through a name with `Duration::MAX` as its timeout ("wait forever") answers; it
/// does not panic on the deadline arithmetic.
pub async fn call_with_duration_max_answers<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let p = echo(&rt).await;
    let name = Name::Id(8);
    naming.register(name.clone(), &p).await.unwrap();
    let reply: u64 = naming.call(&name, 1u64, Duration::MAX).await.unwrap();
    assert_eq!(reply, 2);
    let r: Result<u64, CallError> = naming.call(&Name::Id(9), 1u64, Duration::MAX).await;
    assert_eq!(r, Err(CallError::NoProc));
}

/// Only the owner may unregister its name, as itself: however many other processes try
/// (each with its own `Ctx`, the only proof of identity `unregister` takes), every one is
/// refused with `NotOwner` and the name stays; then the owner's own unregister succeeds.
pub async fn only_the_owner_can_unregister<N: Naming>(naming: N, rt: Runtime) {
    if refuses_registration(&naming, &rt).await {
        return;
    }
    let owner = agent(&rt);
    let name = Name::Id(10);
    naming.register(name.clone(), &owner).await.unwrap();
    let others: Vec<ProcessRef> = (0..8).map(|_| agent(&rt)).collect();
    let attempts = others.iter().map(|o| unregister_as(o, &naming, &name));
    for r in futures_util::future::join_all(attempts).await {
        assert_eq!(r, Err(NamingError::NotOwner { owner: owner.pid() }));
    }
    assert_eq!(
        naming.whereis(&name).await.map(|p| p.pid()),
        Some(owner.pid())
    );
    assert_eq!(unregister_as(&owner, &naming, &name).await, Ok(()));
    assert!(naming.whereis(&name).await.is_none());
    // Free again: another process takes it.
    naming.register(name.clone(), &others[0]).await.unwrap();
    assert_eq!(
        naming.whereis(&name).await.map(|p| p.pid()),
        Some(others[0].pid())
    );
}

macro_rules! conformance {
    ($($backend:ident => $make:expr;)*) => {$(
        mod $backend {
            use super::*;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let rt = Runtime::new();
                        let naming = ($make)(rt.clone()).await;
                        super::$name(naming, rt).await;
                    }
                };
            }

            case!(register_then_whereis);
            case!(double_register_names_owner);
            case!(unknown_name_is_none);
            case!(call_through_unknown_name_is_noproc);
            case!(registering_a_dead_process_is_noproc);
            case!(killed_owner_released_then_restarted_once);
            case!(racing_registrations_have_one_winner);
            case!(unregister_by_non_owner_is_refused);
            case!(name_is_free_after_normal_return);
            case!(name_is_free_after_panic);
            case!(cycles_leave_the_table_empty);
            case!(undeclared_names_are_typed_errors);
            case!(distinct_names_with_the_same_text_stay_distinct);
            case!(killed_process_is_unreachable_at_once);
            case!(call_with_duration_max_answers);
            case!(only_the_owner_can_unregister);
        }
    )*};
}

conformance! {
    registry_dashmap => |_rt: Runtime| async { naming_strategies::Registry::<naming_strategies::DashMapTable>::new(1) };
    registry_dashmap_partitioned => |_rt: Runtime| async { naming_strategies::Registry::<naming_strategies::DashMapTable>::new(4) };
    registry_flurry => |_rt: Runtime| async { naming_strategies::Registry::<naming_strategies::FlurryTable>::new(1) };
    registry_scc => |_rt: Runtime| async { naming_strategies::Registry::<naming_strategies::SccTable>::new(1) };
    registry_rwlock => |_rt: Runtime| async { naming_strategies::Registry::<naming_strategies::RwLockTable>::new(1) };
    registry_papaya => |_rt: Runtime| async { naming_strategies::Registry::<naming_strategies::PapayaTable>::new(1) };
    registry_dashmap_per_core => |_rt: Runtime| async { naming_strategies::Registry::<naming_strategies::DashMapTable>::new(std::thread::available_parallelism().map_or(1, |n| n.get())) };
    registry_papaya_partitioned => |_rt: Runtime| async { naming_strategies::Registry::<naming_strategies::PapayaTable>::new(3) };
    duplicate_dashmap => |_rt: Runtime| async { naming_strategies::DuplicateRegistry::<naming_strategies::DashMapTable>::new(1) };
    duplicate_dashmap_partitioned => |_rt: Runtime| async { naming_strategies::DuplicateRegistry::<naming_strategies::DashMapTable>::new(4) };
    duplicate_flurry => |_rt: Runtime| async { naming_strategies::DuplicateRegistry::<naming_strategies::FlurryTable>::new(1) };
    duplicate_scc => |_rt: Runtime| async { naming_strategies::DuplicateRegistry::<naming_strategies::SccTable>::new(1) };
    duplicate_rwlock => |_rt: Runtime| async { naming_strategies::DuplicateRegistry::<naming_strategies::RwLockTable>::new(1) };
    duplicate_papaya => |_rt: Runtime| async { naming_strategies::DuplicateRegistry::<naming_strategies::PapayaTable>::new(1) };
    startup_which_children => |rt: Runtime| async move {
        let children = vec![naming_strategies::runtime::ChildSpec::server("db_worker", Restart::Permanent, || Echo)];
        let sup = naming_strategies::runtime::Supervisor::start(&rt, children, naming_strategies::runtime::Strategy::OneForOne, Default::default()).await.unwrap();
        naming_strategies::StartupDiscovery::scanning(sup)
    };
    startup_discovery_scan => |rt: Runtime| async move { use naming_bench::contenders::{Contender, DiscoveryScan}; let placeholder = DiscoveryScan.make(&rt, 1).await.unwrap(); DiscoveryScan::start_found(placeholder, &rt, &[Name::text("db_worker")]).await.unwrap().0 };
    startup_handed => |rt: Runtime| async move {
        naming_strategies::StartupDiscovery::handed([(Name::text("db_worker"), echo(&rt).await)])
    };
    static_names => |_rt: Runtime| async { naming_strategies::StaticNames::new(conformance_names()) };
    interned_names => |_rt: Runtime| async { naming_strategies::InternedNames::new() };
    monitor_registry => |rt: Runtime| async move { naming_strategies::MonitorRegistry::start(&rt, naming_strategies::ReadPath::Call).await.unwrap() };
    monitor_registry_ets => |rt: Runtime| async move { naming_strategies::MonitorRegistry::start(&rt, naming_strategies::ReadPath::Table).await.unwrap() };
    gproc => |_rt: Runtime| async { naming_strategies::Gproc::<()>::new() };
    gossip_replicated => |rt: Runtime| async move { naming_cluster::Node::single(rt).await.unwrap().gossip_names().clone() };
    hash_ring => |rt: Runtime| async move { naming_cluster::Node::single(rt).await.unwrap().ring().clone() };
}

//! The monitor registry's own behaviour, beyond the conformance suite: typed errors when its
//! process is dead or slow, the stale window it keeps on purpose, and monitors (not links).

use std::pin::Pin;
use std::time::Duration;

use futures_util::FutureExt;
use naming_strategies::runtime::{Ctx, ExitReason, GenServer, Name, ProcessRef, Runtime};
use naming_strategies::{MonitorRegistry, Naming, NamingError, ReadPath};

mod agent;
use agent::{agent, unregister_as};

const T: Duration = Duration::from_secs(2);

struct Echo;

impl GenServer for Echo {
    type Call = u64;
    type Reply = u64;
    type Cast = ();

    async fn handle_call(&mut self, n: u64, _ctx: &mut Ctx) -> u64 {
        n + 1
    }
}

async fn echo(rt: &Runtime) -> ProcessRef {
    rt.start(Echo).await.unwrap().process().clone()
}

type Pending = Pin<Box<dyn std::future::Future<Output = Result<(), NamingError>> + Send>>;

/// Queues `n` calls in the registry's mailbox (each polled once, so each is sent) and
/// returns them unfinished: whatever is sent next waits behind all of them. On a
/// current-thread runtime the registry cannot run until the caller yields. Each call is a
/// registration of a process that has exited, so it changes nothing and answers `NoProc`.
async fn flood(reg: &MonitorRegistry, rt: &Runtime, n: usize) -> Vec<Pending> {
    let dead = echo(rt).await;
    dead.kill();
    dead.exited().await;
    let mut queued = Vec::with_capacity(n);
    for _ in 0..n {
        let reg = reg.clone();
        let dead = dead.clone();
        let mut call: Pending =
            Box::pin(async move { reg.register(Name::text("nobody"), &dead).await });
        // Polling once sends the call; in the unlikely case it is answered at once, keep
        // the answer rather than the finished future.
        match call.as_mut().now_or_never() {
            None => queued.push(call),
            Some(done) => queued.push(Box::pin(std::future::ready(done))),
        }
    }
    queued
}

async fn registry_down_is_typed(reads: ReadPath) {
    let rt = Runtime::new();
    let reg = MonitorRegistry::start(&rt, reads).await.unwrap();
    let p = echo(&rt).await;
    reg.register(Name::Id(1), &p).await.unwrap();

    let exited = reg.process().exited();
    reg.stop();
    assert_eq!(exited.await, ExitReason::Shutdown);

    assert_eq!(
        reg.lookup(&Name::Id(1)).await,
        Err(NamingError::RegistryDown)
    );
    assert_eq!(reg.count().await, Err(NamingError::RegistryDown));
    assert_eq!(
        reg.register(Name::Id(2), &p).await,
        Err(NamingError::RegistryDown)
    );
    assert_eq!(
        unregister_as(&agent(&rt), &reg, &Name::Id(1)).await,
        Err(NamingError::RegistryDown)
    );
    assert!(reg.whereis(&Name::Id(1)).await.is_none());
    assert_eq!(reg.registered_count().await, 0);
    // The registered process itself is untouched.
    assert!(p.is_alive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_registry_answers_registry_down() {
    registry_down_is_typed(ReadPath::Call).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_registry_answers_registry_down_ets() {
    registry_down_is_typed(ReadPath::Table).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_registry_answers_registry_down() {
    let rt = Runtime::new();
    let reg = MonitorRegistry::start(&rt, ReadPath::Call).await.unwrap();
    let exited = reg.process().exited();
    reg.process().kill();
    assert_eq!(exited.await, ExitReason::Killed);
    let p = echo(&rt).await;
    assert_eq!(
        reg.register(Name::Id(1), &p).await,
        Err(NamingError::RegistryDown)
    );
}

// One thread: the registry cannot drain the flood while it is being queued.
#[tokio::test]
async fn slow_registry_answers_timeout() {
    let rt = Runtime::new();
    let reg = MonitorRegistry::start(&rt, ReadPath::Call).await.unwrap();
    let p = echo(&rt).await;
    // 50,000 calls ahead of ours: no registry drains that in 1 ms.
    let queued = flood(&reg, &rt, 50_000).await;
    let impatient = reg.clone().with_call_timeout(Duration::from_millis(1));
    assert_eq!(
        impatient.lookup(&Name::Id(1)).await,
        Err(NamingError::Timeout)
    );
    assert_eq!(
        impatient.register(Name::Id(1), &p).await,
        Err(NamingError::Timeout)
    );
    // The queued calls are answered in the end; the registry is fine.
    for call in queued {
        assert_eq!(call.await, Err(NamingError::NoProc));
    }
    assert!(reg.process().is_alive());
}

// One thread: the registry cannot drain the flood while it is being queued.
#[tokio::test]
async fn table_reads_see_a_dead_owner_until_the_down_is_handled() {
    let rt = Runtime::new();
    let reg = MonitorRegistry::start(&rt, ReadPath::Table).await.unwrap();
    let owner = echo(&rt).await;
    let name = Name::text("bucket");
    reg.register(name.clone(), &owner).await.unwrap();

    // Put the Down behind a queue of calls, then kill the owner.
    let queued = flood(&reg, &rt, 20_000).await;
    let exited = owner.exited();
    owner.kill();
    exited.await;
    // Kept on purpose: the table still names the dead owner, and the lookup is counted.
    let found = reg.lookup(&name).await.unwrap();
    assert_eq!(found.as_ref().map(ProcessRef::pid), Some(owner.pid()));
    assert!(!found.unwrap().is_alive());
    assert!(reg.stale_lookups() >= 1);
    drop(queued);
    // Once the registry reaches the Down, the name is gone.
    let deadline = std::time::Instant::now() + T;
    while reg.lookup(&name).await.unwrap().is_some() {
        assert!(std::time::Instant::now() < deadline, "never cleaned up");
        tokio::task::yield_now().await;
    }
    assert_eq!(reg.count().await, Ok(0));
}

// One thread: the registry cannot drain the flood while it is being queued.
#[tokio::test]
async fn call_lookups_queued_before_the_down_answer_the_dead_owner() {
    let rt = Runtime::new();
    let reg = MonitorRegistry::start(&rt, ReadPath::Call).await.unwrap();
    let owner = echo(&rt).await;
    let name = Name::text("bucket");
    reg.register(name.clone(), &owner).await.unwrap();

    let queued = flood(&reg, &rt, 20_000).await;
    // A lookup queued now, before the owner dies ...
    let mut lookup = Box::pin(reg.lookup(&name));
    assert!(lookup.as_mut().now_or_never().is_none());
    let exited = owner.exited();
    owner.kill();
    exited.await;
    // ... is answered with the owner, dead by then.
    let found = lookup.await.unwrap().unwrap();
    assert_eq!(found.pid(), owner.pid());
    assert!(!found.is_alive());
    assert_eq!(reg.stale_lookups(), 1);
    assert_eq!(reg.gauges(), vec![("stale_lookups", 1.0)]);
    // A lookup sent after the death queues behind the Down: never stale.
    assert!(reg.lookup(&name).await.unwrap().is_none());
    drop(queued);
}

// One thread: the registry cannot drain the flood while it is being queued.
#[tokio::test]
async fn stale_window_measures_one_window() {
    let rt = Runtime::new();
    let reg = MonitorRegistry::start(&rt, ReadPath::Table).await.unwrap();
    let owner = echo(&rt).await;
    let name = Name::Id(9);
    reg.register(name.clone(), &owner).await.unwrap();
    let queued = flood(&reg, &rt, 20_000).await;
    let w = reg
        .stale_window(&name, &owner, ExitReason::Killed, T)
        .await
        .unwrap();
    assert_eq!(owner.exit_reason(), Some(ExitReason::Killed));
    assert!(w.lookups >= 1 && w.stale_lookups <= w.lookups);
    assert!(
        w.stale_lookups >= 1,
        "the Down was queued behind 20,000 calls"
    );
    drop(queued);

    // Not held by that owner: typed errors, and the process is left alone.
    assert_eq!(
        reg.stale_window(&name, &owner, ExitReason::Killed, T).await,
        Err(NamingError::NotRegistered)
    );
    let other = echo(&rt).await;
    let third = echo(&rt).await;
    reg.register(name.clone(), &other).await.unwrap();
    assert_eq!(
        reg.stale_window(&name, &third, ExitReason::Killed, T).await,
        Err(NamingError::NotOwner { owner: other.pid() })
    );
    assert!(third.is_alive());
    // A window longer than the timeout: Timeout.
    let queued = flood(&reg, &rt, 20_000).await;
    assert_eq!(
        reg.stale_window(&name, &other, ExitReason::Shutdown, Duration::ZERO)
            .await,
        Err(NamingError::Timeout)
    );
    drop(queued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_holder_does_not_take_the_registry_down() {
    for reads in [ReadPath::Call, ReadPath::Table] {
        let rt = Runtime::new();
        let reg = MonitorRegistry::start(&rt, reads).await.unwrap();
        let p = rt.spawn(|mut ctx: Ctx| async move {
            let _ = ctx.recv().await;
            panic!("bucket crashed");
        });
        reg.register(Name::Id(1), &p).await.unwrap();
        let exited = p.exited();
        p.send(()).unwrap();
        assert!(matches!(exited.await, ExitReason::Panic(_)));
        // Monitored, not linked: the registry lives on and cleans up.
        let deadline = std::time::Instant::now() + T;
        while reg.lookup(&Name::Id(1)).await.unwrap().is_some() {
            assert!(std::time::Instant::now() < deadline);
            tokio::task::yield_now().await;
        }
        assert!(reg.process().is_alive());
        // And the registry's death does not touch its holders either.
        let q = echo(&rt).await;
        reg.register(Name::Id(2), &q).await.unwrap();
        reg.process().kill();
        reg.process().exited().await;
        assert!(q.is_alive());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_stops_the_registry() {
    let rt = Runtime::new();
    let reg = MonitorRegistry::start(&rt, ReadPath::Table).await.unwrap();
    let server = reg.process().clone();
    let copy = reg.clone();
    drop(reg);
    assert!(server.is_alive());
    drop(copy);
    assert_eq!(server.exited().await, ExitReason::Shutdown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_path_names_the_two_configurations() {
    let rt = Runtime::new();
    let call = MonitorRegistry::start(&rt, ReadPath::Call).await.unwrap();
    let table = MonitorRegistry::start(&rt, ReadPath::Table).await.unwrap();
    assert_eq!(call.read_path(), ReadPath::Call);
    assert_eq!(table.read_path(), ReadPath::Table);
}

/// A caller who has seen an owner's exit (`exited()` resolved) finds the name gone from a
/// `Call` monitor registry at once: the registry's `Down` was queued before the exit was
/// reported, so the lookup is answered after it. No sleep, 2,000 times, for each way to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whereis_is_none_once_the_exit_is_seen() {
    let rt = Runtime::new();
    let reg = MonitorRegistry::start(&rt, ReadPath::Call).await.unwrap();
    let name = Name::Id(1);
    for i in 0..2_000u64 {
        let p = rt.spawn(|mut ctx: Ctx| async move {
            let _ = ctx.recv().await;
            ExitReason::Normal
        });
        reg.register(name.clone(), &p).await.unwrap();
        if i % 2 == 0 {
            p.send(()).unwrap();
        } else {
            p.kill();
        }
        // A fresh waiter, made after the exit may have begun.
        p.exited().await;
        assert!(
            reg.whereis(&name).await.is_none(),
            "iteration {i}: the registry still names the exited process"
        );
        assert_eq!(reg.registered_count().await, 0, "iteration {i}");
    }
}

//! `DuplicateRegistry` on its own terms: many holders per key, dispatch, release on exit,
//! unregister of one's own entries only. Every case runs over all five storages.

use std::time::Duration;

use naming_strategies::runtime::{Ctx, Envelope, ExitReason, Name, Pid, ProcessRef, Runtime};
use naming_strategies::{DuplicateRegistry, DuplicateStorage, NamingError};
use tokio::sync::mpsc;

mod agent;
use agent::{agent, as_agent};

const T: Duration = Duration::from_secs(2);

/// A subscriber: forwards every `u32` it receives, with its pid, to `out`, and runs the
/// agent jobs it is sent (to act as itself).
fn subscriber(rt: &Runtime, out: mpsc::UnboundedSender<(Pid, u32)>) -> ProcessRef {
    rt.spawn(move |mut ctx: Ctx| async move {
        loop {
            if let Envelope::Info(msg) = ctx.recv().await {
                match msg.downcast::<u32>() {
                    Ok(n) => {
                        let _ = out.send((ctx.pid(), *n));
                    }
                    Err(msg) => {
                        if let Ok(job) = msg.downcast::<Box<dyn agent::Job>>() {
                            job.run(&ctx).await;
                        }
                    }
                }
            }
        }
    })
}

/// A process that waits for any message, then returns normally.
fn idle(rt: &Runtime) -> ProcessRef {
    rt.spawn(|mut ctx: Ctx| async move {
        let _ = ctx.recv().await;
        ExitReason::Normal
    })
}

async fn receive_n(rx: &mut mpsc::UnboundedReceiver<(Pid, u32)>, n: usize) -> Vec<(Pid, u32)> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match tokio::time::timeout(T, rx.recv()).await {
            Ok(Some(m)) => got.push(m),
            _ => panic!("only {} of {n} messages arrived", got.len()),
        }
    }
    got
}

async fn many_holders_and_values<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S, u64>::new(1);
    let topic = Name::text("topic");
    let procs: Vec<_> = (0..50).map(|_| idle(&rt)).collect();
    for (i, p) in procs.iter().enumerate() {
        reg.register(topic.clone(), p, i as u64).unwrap();
    }
    let mut found = reg.lookup(&topic);
    assert_eq!(found.len(), 50);
    found.sort_by_key(|(_, v)| *v);
    for (i, (p, v)) in found.iter().enumerate() {
        assert_eq!(*v, i as u64);
        assert_eq!(p.pid(), procs[i].pid());
    }
    assert_eq!(reg.count_key(&topic), 50);
    assert_eq!(reg.count(), 50);
    // Another key is independent.
    reg.register(Name::Id(9), &procs[0], 99).unwrap();
    assert_eq!(reg.lookup(&Name::Id(9)).len(), 1);
    assert_eq!(reg.count(), 51);
    assert!(reg.lookup(&Name::text("nobody")).is_empty());
}

async fn same_process_twice<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S, &'static str>::new(1);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let p = subscriber(&rt, tx);
    let key = Name::text("events");
    reg.register(key.clone(), &p, "a").unwrap();
    reg.register(key.clone(), &p, "b").unwrap();
    let mut values: Vec<_> = reg.lookup(&key).into_iter().map(|(_, v)| v).collect();
    values.sort();
    assert_eq!(values, ["a", "b"]);
    assert_eq!(p.held_names(), 2);
    // One message per entry, as Elixir's `for {pid, _} <- entries, do: send(pid, msg)`.
    let report = reg.dispatch(&key, 7u32);
    assert_eq!((report.delivered, report.no_proc), (2, 0));
    assert_eq!(
        receive_n(&mut rx, 2).await,
        vec![(p.pid(), 7), (p.pid(), 7)]
    );
    // Unregister (by p itself) removes both entries and both holds.
    let r = {
        let (reg, key) = (reg.clone(), key.clone());
        as_agent(&p, move |ctx| reg.unregister(&key, ctx)).await
    };
    assert_eq!(r, Ok(2));
    assert_eq!(p.held_names(), 0);
    assert_eq!(reg.count(), 0);
}

async fn dispatch_reaches_all<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S>::new(4);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let key = Name::tagged("room", 1);
    let subs: Vec<_> = (0..100).map(|_| subscriber(&rt, tx.clone())).collect();
    for s in &subs {
        reg.register(key.clone(), s, ()).unwrap();
    }
    let report = reg.dispatch(&key, 42u32);
    assert_eq!(report.delivered, 100);
    assert_eq!(report.no_proc, 0);
    let mut got: Vec<Pid> = receive_n(&mut rx, 100)
        .await
        .into_iter()
        .map(|(pid, n)| {
            assert_eq!(n, 42);
            pid
        })
        .collect();
    got.sort();
    let mut want: Vec<Pid> = subs.iter().map(ProcessRef::pid).collect();
    want.sort();
    assert_eq!(got, want, "every subscriber got the message exactly once");
    // Nobody under another key.
    assert_eq!(
        reg.dispatch(&Name::tagged("room", 2), 1u32),
        Default::default()
    );
}

async fn released_on_exit_and_kill<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S>::new(2);
    let key = Name::text("workers");
    let procs: Vec<_> = (0..20).map(|_| idle(&rt)).collect();
    for p in &procs {
        reg.register(key.clone(), p, ()).unwrap();
        reg.register(key.clone(), p, ()).unwrap();
    }
    assert_eq!(reg.count_key(&key), 40);
    // Half are killed, a quarter return normally.
    for p in &procs[..10] {
        let exited = p.exited();
        p.kill();
        assert_eq!(exited.await, ExitReason::Killed);
    }
    for p in &procs[10..15] {
        let exited = p.exited();
        p.send(()).unwrap();
        assert_eq!(exited.await, ExitReason::Normal);
    }
    // Released in the exit path, before the monitor fired: no waiting needed.
    assert_eq!(reg.count_key(&key), 10);
    let live: Vec<Pid> = reg.lookup(&key).iter().map(|(p, _)| p.pid()).collect();
    assert_eq!(live.len(), 10);
    assert!(live
        .iter()
        .all(|pid| procs[15..].iter().any(|p| p.pid() == *pid)));
    let report = reg.dispatch(&key, 1u32);
    assert_eq!(report.delivered + report.no_proc, 10);
    for p in &procs[15..] {
        let exited = p.exited();
        p.kill();
        exited.await;
    }
    assert_eq!(reg.count(), 0, "every entry released");
    assert!(reg.lookup(&key).is_empty());
    assert_eq!(rt.process_count(), 0);
}

async fn unregister_only_own<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S>::new(1);
    let key = Name::Id(5);
    let a = agent(&rt);
    let b = agent(&rt);
    let c = agent(&rt);
    // Each unregister is done by the process itself, with its own `Ctx`.
    let unregister = |p: &ProcessRef| {
        let (reg, key, p) = (reg.clone(), key.clone(), p.clone());
        async move { as_agent(&p, move |ctx| reg.unregister(&key, ctx)).await }
    };
    reg.register(key.clone(), &a, ()).unwrap();
    reg.register(key.clone(), &b, ()).unwrap();
    assert_eq!(unregister(&b).await, Ok(1));
    assert_eq!(
        reg.lookup(&key)
            .iter()
            .map(|(p, _)| p.pid())
            .collect::<Vec<_>>(),
        vec![a.pid()]
    );
    // c holds nothing: refused, and a's entry untouched.
    assert_eq!(
        unregister(&c).await,
        Err(NamingError::NotOwner { owner: a.pid() })
    );
    assert_eq!(reg.count_key(&key), 1);
    assert_eq!(unregister(&a).await, Ok(1));
    assert_eq!(unregister(&a).await, Err(NamingError::NotRegistered));
    assert_eq!(a.held_names(), 0);
    // a may join again, and its exit releases the new entry.
    reg.register(key.clone(), &a, ()).unwrap();
    a.kill();
    a.exited().await;
    assert_eq!(reg.count(), 0);
}

async fn dead_process_cannot_register<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S>::new(1);
    let p = idle(&rt);
    p.kill();
    p.exited().await;
    assert_eq!(reg.register(Name::Id(1), &p, ()), Err(NamingError::NoProc));
    assert_eq!(reg.count(), 0);
}

async fn unique_style_beside_duplicates<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S>::new(1);
    let key = Name::text("svc");
    let a = idle(&rt);
    let b = idle(&rt);
    reg.register(key.clone(), &a, ()).unwrap();
    // A key with any holder cannot be claimed unique-style ...
    assert_eq!(
        reg.register_unique(key.clone(), &b, ()),
        Err(NamingError::AlreadyRegistered(a.pid()))
    );
    // ... and is free to claim once its holder is gone.
    a.kill();
    a.exited().await;
    reg.register_unique(key.clone(), &b, ()).unwrap();
    assert_eq!(reg.first(&key).map(|p| p.pid()), Some(b.pid()));
}

/// Joins and leaves from many tasks at once keep the books straight.
async fn concurrent_churn<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S>::new(2);
    let procs: Vec<_> = (0..16).map(|_| agent(&rt)).collect();
    let tasks: Vec<_> = procs
        .iter()
        .cloned()
        .map(|p| {
            let reg = reg.clone();
            tokio::spawn(async move {
                for round in 0..200u64 {
                    let key = Name::Id(round);
                    reg.register(key.clone(), &p, ()).unwrap();
                    reg.register(key.clone(), &p, ()).unwrap();
                    if round % 3 == 0 {
                        // Unregistering is the process's own act.
                        let (reg, key) = (reg.clone(), key.clone());
                        let r = as_agent(&p, move |ctx| reg.unregister(&key, ctx)).await;
                        assert_eq!(r, Ok(2));
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // Each process: 200 rounds x 2 entries, minus 67 rounds unregistered x 2.
    let per_process = (200 - 67) * 2;
    assert_eq!(reg.count(), 16 * per_process);
    for p in &procs {
        assert_eq!(p.held_names(), per_process);
    }
    for p in &procs {
        p.kill();
        p.exited().await;
    }
    assert_eq!(reg.count(), 0);
}

macro_rules! for_every_storage {
    ($($storage:ident => $ty:ty;)*) => {$(
        mod $storage {
            #[allow(unused_imports)]
            use super::*;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        super::$name::<$ty>().await;
                    }
                };
            }

            case!(many_holders_and_values);
            case!(same_process_twice);
            case!(dispatch_reaches_all);
            case!(released_on_exit_and_kill);
            case!(unregister_only_own);
            case!(dead_process_cannot_register);
            case!(unique_style_beside_duplicates);
            case!(concurrent_churn);
        }
    )*};
}

for_every_storage! {
    dashmap => naming_strategies::DashMapTable;
    flurry => naming_strategies::FlurryTable;
    scc => naming_strategies::SccTable;
    rwlock => naming_strategies::RwLockTable;
    papaya => naming_strategies::PapayaTable;
}

//! Elixir's `Registry` API beyond `{:via, ...}`, as its users use it: values on every
//! entry, `update_value`, `keys` / `values`, `meta`, `match` / `select` and their counts,
//! `unregister_match`, `dispatch` with a callback, and listeners told of every register and
//! unregister (crashes included). Every case runs over all five storages, for the unique
//! [`Registry`] and for the [`DuplicateRegistry`].

use std::time::Duration;

use naming_strategies::runtime::{Ctx, Envelope, Name, Pid, ProcessRef, Runtime};
use naming_strategies::{
    DuplicateRegistry, DuplicateStorage, NameTable, Naming, NamingError, Query, Registry,
    RegistryEvent, SyncNaming,
};
use tokio::sync::mpsc;

mod agent;
use agent::{agent, as_agent};

const T: Duration = Duration::from_secs(2);

/// A listener: forwards every registry event it receives to `out`.
fn listener(rt: &Runtime, out: mpsc::UnboundedSender<RegistryEvent<u32>>) -> ProcessRef {
    rt.spawn(move |mut ctx: Ctx| async move {
        loop {
            if let Envelope::Info(msg) = ctx.recv().await {
                if let Ok(event) = msg.downcast::<RegistryEvent<u32>>() {
                    let _ = out.send(*event);
                }
            }
        }
    })
}

async fn next_event(rx: &mut mpsc::UnboundedReceiver<RegistryEvent<u32>>) -> RegistryEvent<u32> {
    match tokio::time::timeout(T, rx.recv()).await {
        Ok(Some(e)) => e,
        _ => panic!("no registry event arrived"),
    }
}

/// Nothing more arrives for a short while (the events counted so far were all).
async fn no_more_events(rx: &mut mpsc::UnboundedReceiver<RegistryEvent<u32>>) {
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(rx.try_recv().ok(), None, "an unexpected event arrived");
}

fn sorted<X: Ord>(mut v: Vec<X>) -> Vec<X> {
    v.sort();
    v
}

/// Crashes `agent` (it panics) and waits until its exit path has run.
async fn crash(agent: &ProcessRef) {
    agent.send("panic").unwrap();
    let reason = tokio::time::timeout(T, agent.exited()).await.unwrap();
    assert!(
        !reason.is_normal(),
        "the agent was meant to crash: {reason:?}"
    );
}

// ---- unique keys -------------------------------------------------------------------

async fn unique_lookup_returns_the_value<S: NameTable>() {
    let rt = Runtime::new();
    let reg = Registry::<S, u32>::new(2);
    let (a, b) = (agent(&rt), agent(&rt));
    let name = Name::text("worker");
    reg.register_value(name.clone(), &a, 7).unwrap();
    assert_eq!(
        reg.lookup_entry(&name).map(|(p, v)| (p.pid(), v)),
        Some((a.pid(), 7))
    );
    // The plain lookup and the `Naming` trait see the same process.
    assert_eq!(reg.lookup(&name).map(|p| p.pid()), Some(a.pid()));
    assert_eq!(reg.whereis(&name).await.map(|p| p.pid()), Some(a.pid()));
    assert_eq!(reg.values(&name, a.pid()), vec![7]);
    assert!(reg.values(&name, b.pid()).is_empty());
    assert_eq!(reg.keys(a.pid()), vec![name.clone()]);
    // A clash keeps the first value; `Naming::register` stores the default value.
    assert_eq!(
        reg.register_value(name.clone(), &b, 9),
        Err(NamingError::AlreadyRegistered(a.pid()))
    );
    reg.register(Name::Id(1), &b).await.unwrap();
    assert_eq!(reg.lookup_entry(&Name::Id(1)).map(|(_, v)| v), Some(0));
    assert_eq!(sorted(reg.keys(b.pid())), vec![Name::Id(1)]);
    assert!(reg.lookup_entry(&Name::text("nobody")).is_none());
}

async fn unique_update_value_by_owner_only<S: NameTable>() {
    let rt = Runtime::new();
    let reg = Registry::<S, u32>::new(1);
    let (a, b) = (agent(&rt), agent(&rt));
    let name = Name::Id(3);
    reg.register_value(name.clone(), &a, 7).unwrap();
    let update = |p: &ProcessRef, name: Name| {
        let (reg, p) = (reg.clone(), p.clone());
        async move { as_agent(&p, move |ctx| reg.update_value(&name, ctx, |v| v + 1)).await }
    };
    assert_eq!(update(&a, name.clone()).await, Ok((8, 7)));
    assert_eq!(update(&a, name.clone()).await, Ok((9, 8)));
    assert_eq!(
        update(&b, name.clone()).await,
        Err(NamingError::NotOwner { owner: a.pid() })
    );
    assert_eq!(
        update(&b, Name::Id(4)).await,
        Err(NamingError::NotRegistered)
    );
    assert_eq!(reg.lookup_entry(&name).map(|(_, v)| v), Some(9));
    // The refused update changed nothing; the owner still holds the name.
    assert_eq!(reg.lookup(&name).map(|p| p.pid()), Some(a.pid()));
}

async fn unique_meta_round_trip<S: NameTable>() {
    let reg = Registry::<S, u32>::new(1);
    assert_eq!(reg.meta::<u64>("custom"), Ok(None));
    reg.put_meta("custom", 42u64);
    assert_eq!(reg.meta::<u64>("custom"), Ok(Some(42)));
    // Another handle sees the same metadata; a later put replaces it, of any type.
    let other = reg.clone();
    other.put_meta("custom", String::from("value"));
    assert_eq!(reg.meta::<String>("custom"), Ok(Some("value".into())));
    assert!(matches!(
        reg.meta::<u64>("custom"),
        Err(NamingError::MetaType { .. })
    ));
}

async fn unique_match_and_select<S: NameTable>() {
    let rt = Runtime::new();
    let reg = Registry::<S, u32>::new(4);
    let procs: Vec<_> = (0..10).map(|_| agent(&rt)).collect();
    for (i, p) in procs.iter().enumerate() {
        reg.register_value(Name::Id(i as u64), p, i as u32).unwrap();
    }
    let odd = |v: &u32| v % 2 == 1;
    let matched = reg.match_values(&Name::Id(3), odd);
    assert_eq!(
        matched
            .iter()
            .map(|(p, v)| (p.pid(), *v))
            .collect::<Vec<_>>(),
        vec![(procs[3].pid(), 3)]
    );
    assert!(reg.match_values(&Name::Id(4), odd).is_empty());
    assert_eq!(reg.count_match(&Name::Id(3), odd), 1);
    assert_eq!(reg.count_match(&Name::Id(4), odd), 0);
    assert_eq!(reg.count_match(&Name::Id(99), |_| true), 0);

    let big = Query::all().value_where(|v: &u32| *v >= 5);
    let keys: Vec<Name> = sorted(reg.select(&big).into_iter().map(|s| s.key).collect());
    assert_eq!(keys, (5..10).map(Name::Id).collect::<Vec<_>>());
    assert_eq!(reg.count_select(&big), 5);
    assert_eq!(reg.count_select(&Query::all()), 10);
    // A bound key reads one entry; a pid guard finds that process's entries.
    let one = reg.select(&Query::all().key(Name::Id(2)));
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].process.pid(), one[0].value), (procs[2].pid(), 2));
    assert_eq!(
        reg.count_select(&Query::all().key(Name::Id(2)).value_where(|v| *v > 2)),
        0
    );
    let p7 = procs[7].pid();
    let by_pid = reg.select(&Query::all().pid(p7));
    assert_eq!(
        by_pid
            .iter()
            .map(|s| (s.key.clone(), s.value))
            .collect::<Vec<_>>(),
        vec![(Name::Id(7), 7)]
    );
    assert_eq!(
        reg.count_select(&Query::all().key_where(|k| matches!(k, Name::Id(n) if *n < 3))),
        3
    );
    // A dead holder is never selected.
    procs[9].kill();
    procs[9].exited().await;
    assert_eq!(reg.count_select(&big), 4);
    assert!(reg.match_values(&Name::Id(9), |_| true).is_empty());
}

async fn unique_unregister_match_only_own_matching<S: NameTable>() {
    let rt = Runtime::new();
    let reg = Registry::<S, u32>::new(1);
    let (a, b) = (agent(&rt), agent(&rt));
    let name = Name::text("job");
    reg.register_value(name.clone(), &a, 1).unwrap();
    let unregister_match = |p: &ProcessRef, want: u32| {
        let (reg, p, name) = (reg.clone(), p.clone(), name.clone());
        async move {
            as_agent(&p, move |ctx| {
                reg.unregister_match(&name, ctx, move |v| *v == want)
            })
            .await
        }
    };
    assert_eq!(
        unregister_match(&b, 1).await,
        Err(NamingError::NotOwner { owner: a.pid() })
    );
    assert_eq!(unregister_match(&a, 2).await, Ok(0));
    assert_eq!(reg.lookup(&name).map(|p| p.pid()), Some(a.pid()));
    assert_eq!(unregister_match(&a, 1).await, Ok(1));
    assert!(reg.lookup(&name).is_none());
    assert_eq!(a.held_names(), 0);
    assert_eq!(
        unregister_match(&a, 1).await,
        Err(NamingError::NotRegistered)
    );
}

async fn unique_dispatch_callback<S: NameTable>() {
    let rt = Runtime::new();
    let reg = Registry::<S, u32>::new(1);
    let a = agent(&rt);
    let name = Name::Id(8);
    assert_eq!(reg.dispatch_with(&name, |_| unreachable!()), None::<()>);
    reg.register_value(name.clone(), &a, 5).unwrap();
    let seen = reg.dispatch_with(&name, |entries| {
        entries
            .iter()
            .map(|(p, v)| (p.pid(), *v))
            .collect::<Vec<_>>()
    });
    assert_eq!(seen, Some(vec![(a.pid(), 5)]));
}

async fn unique_listener_told_of_everything<S: NameTable>() {
    let rt = Runtime::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let l = listener(&rt, tx);
    let reg = Registry::<S, u32>::with_listeners(2, 0, vec![l]);
    let id = reg.id();
    let (a, b, c) = (agent(&rt), agent(&rt), agent(&rt));
    let (ka, kb, kc) = (Name::text("a"), Name::text("b"), Name::text("c"));

    reg.register_value(ka.clone(), &a, 1).unwrap();
    assert_eq!(
        next_event(&mut rx).await,
        RegistryEvent::Register {
            registry: id,
            key: ka.clone(),
            pid: a.pid(),
            value: 1
        }
    );
    // Unregistered by the owner itself.
    let (r, k) = (reg.clone(), ka.clone());
    as_agent(&a, move |ctx| r.unregister_sync(&k, ctx))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut rx).await,
        RegistryEvent::Unregister {
            registry: id,
            key: ka.clone(),
            pid: a.pid()
        }
    );
    // Removed by a crash, and by a kill.
    reg.register_value(kb.clone(), &b, 2).unwrap();
    reg.register_value(kc.clone(), &c, 3).unwrap();
    assert!(matches!(
        next_event(&mut rx).await,
        RegistryEvent::Register { value: 2, .. }
    ));
    assert!(matches!(
        next_event(&mut rx).await,
        RegistryEvent::Register { value: 3, .. }
    ));
    crash(&b).await;
    assert_eq!(
        next_event(&mut rx).await,
        RegistryEvent::Unregister {
            registry: id,
            key: kb.clone(),
            pid: b.pid()
        }
    );
    c.kill();
    c.exited().await;
    assert_eq!(
        next_event(&mut rx).await,
        RegistryEvent::Unregister {
            registry: id,
            key: kc,
            pid: c.pid()
        }
    );
    // A refused registration tells nobody.
    let d = agent(&rt);
    reg.register_value(Name::text("d"), &d, 4).unwrap();
    let _ = next_event(&mut rx).await;
    assert!(reg.register_value(Name::text("d"), &a, 5).is_err());
    no_more_events(&mut rx).await;
}

async fn unique_keys_and_values_empty_after_exit<S: NameTable>() {
    let rt = Runtime::new();
    let reg = Registry::<S, u32>::new(3);
    let (a, b) = (agent(&rt), agent(&rt));
    for i in 0..5 {
        reg.register_value(Name::Id(i), &a, i as u32).unwrap();
    }
    reg.register_value(Name::Id(9), &b, 9).unwrap();
    assert_eq!(
        sorted(reg.keys(a.pid())),
        (0..5).map(Name::Id).collect::<Vec<_>>()
    );
    a.send(()).unwrap();
    a.exited().await;
    assert!(reg.keys(a.pid()).is_empty());
    assert!(reg.values(&Name::Id(2), a.pid()).is_empty());
    assert_eq!(reg.count_select(&Query::all().pid(a.pid())), 0);
    crash(&b).await;
    assert!(reg.keys(b.pid()).is_empty());
    assert!(reg.values(&Name::Id(9), b.pid()).is_empty());
    assert_eq!(reg.registered_count().await, 0);
}

// ---- duplicate keys ----------------------------------------------------------------

/// `(a, b)` with entries: a under k1 (1), k1 (2), k2 (3); b under k1 (10).
fn populate<S: DuplicateStorage>(
    rt: &Runtime,
    reg: &DuplicateRegistry<S, u32>,
) -> (ProcessRef, ProcessRef) {
    let (a, b) = (agent(rt), agent(rt));
    reg.register(Name::Id(1), &a, 1).unwrap();
    reg.register(Name::Id(1), &a, 2).unwrap();
    reg.register(Name::Id(2), &a, 3).unwrap();
    reg.register(Name::Id(1), &b, 10).unwrap();
    (a, b)
}

fn pairs(entries: &[(ProcessRef, u32)]) -> Vec<(Pid, u32)> {
    sorted(entries.iter().map(|(p, v)| (p.pid(), *v)).collect())
}

async fn dup_lookup_keys_and_values<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S, u32>::new(2);
    let (a, b) = populate(&rt, &reg);
    assert_eq!(
        pairs(&reg.lookup(&Name::Id(1))),
        sorted(vec![(a.pid(), 1), (a.pid(), 2), (b.pid(), 10)])
    );
    assert_eq!(sorted(reg.values(&Name::Id(1), a.pid())), vec![1, 2]);
    assert_eq!(reg.values(&Name::Id(1), b.pid()), vec![10]);
    assert!(reg.values(&Name::Id(2), b.pid()).is_empty());
    assert_eq!(
        sorted(reg.keys(a.pid())),
        vec![Name::Id(1), Name::Id(1), Name::Id(2)]
    );
    assert_eq!(reg.keys(b.pid()), vec![Name::Id(1)]);
}

async fn dup_meta_round_trip<S: DuplicateStorage>() {
    let reg = DuplicateRegistry::<S, u32>::new(1);
    assert_eq!(reg.meta::<&str>("topic"), Ok(None));
    reg.put_meta("topic", "news");
    assert_eq!(reg.clone().meta::<&str>("topic"), Ok(Some("news")));
    assert!(matches!(
        reg.meta::<u8>("topic"),
        Err(NamingError::MetaType { .. })
    ));
}

async fn dup_match_and_select<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S, u32>::new(2);
    let (a, b) = populate(&rt, &reg);
    let over_one = |v: &u32| *v > 1;
    assert_eq!(
        pairs(&reg.match_values(&Name::Id(1), over_one)),
        sorted(vec![(a.pid(), 2), (b.pid(), 10)])
    );
    assert_eq!(reg.count_match(&Name::Id(1), over_one), 2);
    assert_eq!(reg.count_match(&Name::Id(2), |v| *v == 3), 1);
    assert_eq!(reg.count_match(&Name::Id(3), |_| true), 0);

    assert_eq!(reg.count_select(&Query::all()), 4);
    let of_a = reg.select(&Query::all().pid(a.pid()));
    assert_eq!(
        sorted(of_a.iter().map(|s| (s.key.clone(), s.value)).collect()),
        vec![(Name::Id(1), 1), (Name::Id(1), 2), (Name::Id(2), 3)]
    );
    let q = Query::all().key(Name::Id(1)).value_where(|v: &u32| *v >= 2);
    assert_eq!(
        sorted(
            reg.select(&q)
                .iter()
                .map(|s| (s.process.pid(), s.value))
                .collect()
        ),
        sorted(vec![(a.pid(), 2), (b.pid(), 10)])
    );
    assert_eq!(reg.count_select(&q), 2);
    assert_eq!(
        reg.count_select(&Query::all().key_where(|k| *k == Name::Id(2))),
        1
    );
    // A dead holder's entries are never matched or selected.
    b.kill();
    b.exited().await;
    assert_eq!(reg.count_select(&q), 1);
    assert_eq!(reg.count_match(&Name::Id(1), over_one), 1);
}

async fn dup_unregister_match_only_own_matching<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S, u32>::new(1);
    let (a, b) = populate(&rt, &reg);
    reg.register(Name::Id(1), &a, 2).unwrap(); // a now holds 1, 2, 2 under k1
    let c = agent(&rt);
    let unregister_match = |p: &ProcessRef, key: u64, want: u32| {
        let (reg, p) = (reg.clone(), p.clone());
        async move {
            as_agent(&p, move |ctx| {
                reg.unregister_match(&Name::Id(key), ctx, move |v| *v == want)
            })
            .await
        }
    };
    assert_eq!(unregister_match(&a, 1, 2).await, Ok(2));
    assert_eq!(reg.values(&Name::Id(1), a.pid()), vec![1]);
    // b's entry, and a's other key, are untouched.
    assert_eq!(reg.values(&Name::Id(1), b.pid()), vec![10]);
    assert_eq!(reg.values(&Name::Id(2), a.pid()), vec![3]);
    assert_eq!(a.held_names(), 2);
    assert_eq!(unregister_match(&a, 1, 9).await, Ok(0));
    assert_eq!(unregister_match(&a, 1, 10).await, Ok(0));
    assert_eq!(reg.values(&Name::Id(1), b.pid()), vec![10]);
    assert!(matches!(
        unregister_match(&c, 1, 10).await,
        Err(NamingError::NotOwner { .. })
    ));
    assert_eq!(
        unregister_match(&c, 7, 1).await,
        Err(NamingError::NotRegistered)
    );
    assert_eq!(unregister_match(&a, 2, 3).await, Ok(1));
    assert_eq!(unregister_match(&a, 1, 1).await, Ok(1));
    assert_eq!(a.held_names(), 0);
    assert!(reg.keys(a.pid()).is_empty());
    assert_eq!(reg.count(), 1);
}

async fn dup_dispatch_callback_sees_every_entry<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S, u32>::new(2);
    let topic = Name::text("topic");
    assert_eq!(reg.dispatch_with(&topic, |_| unreachable!()), None::<()>);
    let procs: Vec<_> = (0..20).map(|_| agent(&rt)).collect();
    for (i, p) in procs.iter().enumerate() {
        reg.register(topic.clone(), p, i as u32).unwrap();
    }
    reg.register(topic.clone(), &procs[0], 100).unwrap();
    let seen = reg.dispatch_with(&topic, pairs).unwrap();
    let mut want: Vec<(Pid, u32)> = procs
        .iter()
        .enumerate()
        .map(|(i, p)| (p.pid(), i as u32))
        .collect();
    want.push((procs[0].pid(), 100));
    assert_eq!(seen, sorted(want));
    // The callback may use the registry (the entries were copied out first).
    let n = reg.dispatch_with(&topic, |entries| entries.len() + reg.count_key(&topic));
    assert_eq!(n, Some(42));
}

async fn dup_listener_told_of_everything<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let l = listener(&rt, tx);
    let reg = DuplicateRegistry::<S, u32>::with_listeners(2, 0, vec![l]);
    let id = reg.id();
    let (a, b) = (agent(&rt), agent(&rt));
    let key = Name::text("topic");
    reg.register(key.clone(), &a, 1).unwrap();
    reg.register(key.clone(), &b, 2).unwrap();
    reg.register(key.clone(), &b, 3).unwrap();
    for (pid, value) in [(a.pid(), 1), (b.pid(), 2), (b.pid(), 3)] {
        assert_eq!(
            next_event(&mut rx).await,
            RegistryEvent::Register {
                registry: id,
                key: key.clone(),
                pid,
                value
            }
        );
    }
    let (r, k) = (reg.clone(), key.clone());
    assert_eq!(as_agent(&a, move |ctx| r.unregister(&k, ctx)).await, Ok(1));
    assert_eq!(
        next_event(&mut rx).await,
        RegistryEvent::Unregister {
            registry: id,
            key: key.clone(),
            pid: a.pid()
        }
    );
    // A crash removes each of b's entries, and each removal is told.
    crash(&b).await;
    for _ in 0..2 {
        assert_eq!(
            next_event(&mut rx).await,
            RegistryEvent::Unregister {
                registry: id,
                key: key.clone(),
                pid: b.pid()
            }
        );
    }
    no_more_events(&mut rx).await;
    assert_eq!(reg.count(), 0);
}

async fn dup_keys_and_values_empty_after_exit<S: DuplicateStorage>() {
    let rt = Runtime::new();
    let reg = DuplicateRegistry::<S, u32>::new(2);
    let (a, b) = populate(&rt, &reg);
    a.send(()).unwrap();
    a.exited().await;
    assert!(reg.keys(a.pid()).is_empty());
    assert!(reg.values(&Name::Id(1), a.pid()).is_empty());
    assert_eq!(reg.values(&Name::Id(1), b.pid()), vec![10]);
    crash(&b).await;
    assert!(reg.keys(b.pid()).is_empty());
    assert!(reg.values(&Name::Id(1), b.pid()).is_empty());
    assert_eq!(reg.count(), 0);
    assert_eq!(reg.count_select(&Query::all()), 0);
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

            case!(unique_lookup_returns_the_value);
            case!(unique_update_value_by_owner_only);
            case!(unique_meta_round_trip);
            case!(unique_match_and_select);
            case!(unique_unregister_match_only_own_matching);
            case!(unique_dispatch_callback);
            case!(unique_listener_told_of_everything);
            case!(unique_keys_and_values_empty_after_exit);
            case!(dup_lookup_keys_and_values);
            case!(dup_meta_round_trip);
            case!(dup_match_and_select);
            case!(dup_unregister_match_only_own_matching);
            case!(dup_dispatch_callback_sees_every_entry);
            case!(dup_listener_told_of_everything);
            case!(dup_keys_and_values_empty_after_exit);
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

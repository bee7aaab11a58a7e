//! Gproc's own features, beyond the unique names the conformance suite covers: properties,
//! counters and aggregated counters, await, send to a property, reverse-index cleanup, select.

use std::sync::Arc;
use std::time::Duration;

use naming_strategies::runtime::{Ctx, Envelope, ExitReason, Name, Pid, ProcessRef, Runtime};
use naming_strategies::{
    Gproc, GprocKey, KeyPattern, MonitorMode, MonitorRef, NameEvent, NameEventKind, Naming,
    NamingError,
};
use tokio::sync::mpsc;

mod agent;
use agent::{agent, as_agent};

const T: Duration = Duration::from_secs(2);

/// A process that runs until it gets a message: `()` ends it normally, `"panic"` panics.
fn idle(rt: &Runtime) -> ProcessRef {
    rt.spawn(|mut ctx: Ctx| async move {
        loop {
            if let Envelope::Info(m) = ctx.recv().await {
                if m.is::<()>() {
                    return ExitReason::Normal;
                }
                if m.downcast_ref::<&str>() == Some(&"panic") {
                    panic!("asked to");
                }
            }
        }
    })
}

/// A process that forwards every `u32` it receives, with its pid, to `out`.
fn forwarder(rt: &Runtime, out: mpsc::UnboundedSender<(Pid, u32)>) -> ProcessRef {
    rt.spawn(move |mut ctx: Ctx| async move {
        loop {
            if let Envelope::Info(m) = ctx.recv().await {
                if let Ok(n) = m.downcast::<u32>() {
                    let _ = out.send((ctx.pid(), *n));
                }
            }
        }
    })
}

async fn kill(p: &ProcessRef) {
    let exited = p.exited();
    p.kill();
    assert_eq!(exited.await, ExitReason::Killed);
}

fn pids(ps: &[ProcessRef]) -> Vec<Pid> {
    ps.iter().map(ProcessRef::pid).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_include_duplicate_keys_and_await() {
    let g: Gproc = Gproc::new();
    assert!(g.capabilities().duplicate_keys);
    assert!(g.capabilities().await_name);
    assert!(g.capabilities().dynamic_names && g.capabilities().register);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn properties_have_many_holders_each_with_its_value() {
    let rt = Runtime::new();
    let g: Gproc<u32> = Gproc::new();
    let job = Name::tagged("job", 123);
    let holders: Vec<ProcessRef> = (0..3).map(|_| idle(&rt)).collect();
    for (i, p) in holders.iter().enumerate() {
        g.reg_property(job.clone(), p, 10 * (i as u32 + 1)).unwrap();
    }
    // One property per (key, process).
    assert_eq!(
        g.reg_property(job.clone(), &holders[0], 99),
        Err(NamingError::AlreadyRegistered(holders[0].pid()))
    );
    assert_eq!(pids(&g.lookup_pids(&job)), pids(&holders));
    let values: Vec<(Pid, u32)> = g
        .lookup_values(&job)
        .into_iter()
        .map(|(p, v)| (p.pid(), v))
        .collect();
    assert_eq!(
        values,
        vec![
            (holders[0].pid(), 10),
            (holders[1].pid(), 20),
            (holders[2].pid(), 30)
        ]
    );
    g.set_property_value(&job, holders[1].pid(), 21).unwrap();
    assert_eq!(g.lookup_values(&job)[1].1, 21);
    assert_eq!(
        g.set_property_value(&job, Pid::new(0, 9999), 1),
        Err(NamingError::NotRegistered)
    );
    // A property is not a name: the unique-name table knows nothing of it.
    assert!(g.where_(&job).is_none());
    assert_eq!(g.registered_count().await, 0);

    g.unreg_property(&job, holders[0].pid()).unwrap();
    assert_eq!(
        g.unreg_property(&job, holders[0].pid()),
        Err(NamingError::NotRegistered)
    );
    kill(&holders[2]).await;
    // Cleaned in the exit path, before the exit is reported: no waiting needed.
    assert_eq!(pids(&g.lookup_pids(&job)), vec![holders[1].pid()]);
    holders[1].send(()).unwrap();
    holders[1].exited().await;
    assert!(g.lookup_pids(&job).is_empty());
    assert!(g.select_properties(KeyPattern::All).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_aggregated_counters_stay_current() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let hits = Name::text("hits");
    let a = idle(&rt);
    let b = idle(&rt);
    let c = idle(&rt);
    g.reg_counter(hits.clone(), &a, 1).unwrap();
    g.reg_counter(hits.clone(), &b, 2).unwrap();
    assert_eq!(
        g.reg_counter(hits.clone(), &b, 5),
        Err(NamingError::AlreadyRegistered(b.pid()))
    );
    // No aggregated counter registered yet: no value.
    assert_eq!(g.aggregated_value(&hits), None);

    // Registered after the counters, it starts at their sum.
    let agg = idle(&rt);
    g.reg_aggregated(hits.clone(), &agg).unwrap();
    assert_eq!(g.aggregated_value(&hits), Some(3));
    assert_eq!(
        g.reg_aggregated(hits.clone(), &c),
        Err(NamingError::AlreadyRegistered(agg.pid()))
    );

    g.reg_counter(hits.clone(), &c, 3).unwrap();
    assert_eq!(g.aggregated_value(&hits), Some(6));
    assert_eq!(g.update_counter(&hits, a.pid(), 10), Ok(11));
    assert_eq!(g.update_counter(&hits, b.pid(), -1), Ok(1));
    assert_eq!(g.aggregated_value(&hits), Some(15));
    assert_eq!(g.counter_value(&hits, a.pid()), Some(11));
    let counters: Vec<(Pid, i64)> = g
        .lookup_counters(&hits)
        .into_iter()
        .map(|(p, v)| (p.pid(), v))
        .collect();
    assert_eq!(counters, vec![(a.pid(), 11), (b.pid(), 1), (c.pid(), 3)]);
    assert_eq!(
        g.update_counter(&hits, agg.pid(), 1),
        Err(NamingError::NotRegistered)
    );
    assert_eq!(
        g.update_counter(&Name::text("misses"), a.pid(), 1),
        Err(NamingError::NotRegistered)
    );

    // Unregistering and exiting both take the counter's contribution away.
    g.unreg_counter(&hits, b.pid()).unwrap();
    assert_eq!(g.aggregated_value(&hits), Some(14));
    kill(&a).await;
    assert_eq!(g.aggregated_value(&hits), Some(3));
    assert_eq!(g.counter_value(&hits, a.pid()), None);

    // The aggregator's exit removes the aggregate, not the counters ...
    kill(&agg).await;
    assert_eq!(g.aggregated_value(&hits), None);
    assert_eq!(g.counter_value(&hits, c.pid()), Some(3));
    // ... and a new aggregator picks up the current sum.
    let agg2 = idle(&rt);
    g.reg_aggregated(hits.clone(), &agg2).unwrap();
    assert_eq!(g.aggregated_value(&hits), Some(3));
    g.unreg_aggregated(&hits, agg2.pid()).unwrap();
    assert_eq!(g.aggregated_value(&hits), None);
    assert_eq!(
        g.unreg_aggregated(&hits, agg2.pid()),
        Err(NamingError::NotRegistered)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_is_exact_under_concurrent_updates_and_exits() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let key = Name::tagged("load", 1);
    let agg = idle(&rt);
    g.reg_aggregated(key.clone(), &agg).unwrap();
    let workers: Vec<ProcessRef> = (0..8).map(|_| idle(&rt)).collect();
    for w in &workers {
        g.reg_counter(key.clone(), w, 0).unwrap();
    }
    let tasks: Vec<_> = workers
        .iter()
        .map(|w| {
            let g = g.clone();
            let key = key.clone();
            let pid = w.pid();
            tokio::spawn(async move {
                for i in 0..2_000 {
                    // Fails once the worker is killed: its counter is gone.
                    let _ = g.update_counter(&key, pid, 1);
                    if i % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    // Kill half of them while they count.
    for w in workers.iter().step_by(2) {
        kill(w).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    let remaining: i64 = g.lookup_counters(&key).iter().map(|(_, v)| v).sum();
    assert_eq!(g.lookup_counters(&key).len(), 4);
    assert_eq!(remaining, 4 * 2_000);
    assert_eq!(g.aggregated_value(&key), Some(remaining));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_resolves_when_the_name_is_registered() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let name = Name::tagged("service", 1);
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let g = g.clone();
            let name = name.clone();
            tokio::spawn(async move { g.await_name(&name, T).await })
        })
        .collect();
    // Let them all park.
    while g.awaiting() < 5 {
        tokio::task::yield_now().await;
    }
    let p = idle(&rt);
    g.reg_name(name.clone(), &p).unwrap();
    for w in waiters {
        assert_eq!(w.await.unwrap().map(|r| r.pid()), Ok(p.pid()));
    }
    assert_eq!(g.awaiting(), 0);
    // Already registered: at once.
    assert_eq!(
        g.await_name(&name, Duration::ZERO).await.map(|r| r.pid()),
        Ok(p.pid())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_times_out_and_leaves_nothing_behind() {
    let g: Gproc = Gproc::new();
    let name = Name::text("never");
    let t = std::time::Instant::now();
    assert_eq!(
        g.await_name(&name, Duration::from_millis(30)).await.err(),
        Some(NamingError::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert_eq!(g.awaiting(), 0);
    // A waiter dropped before it resolves removes itself too.
    let waiting = {
        let g = g.clone();
        let name = name.clone();
        tokio::spawn(async move { g.await_name(&name, T).await })
    };
    while g.awaiting() < 1 {
        tokio::task::yield_now().await;
    }
    waiting.abort();
    let _ = waiting.await;
    assert_eq!(g.awaiting(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_sees_a_registrant_that_then_dies_and_then_waits_again() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let name = Name::text("db_worker");
    let waiter = {
        let g = g.clone();
        let name = name.clone();
        tokio::spawn(async move { g.await_name(&name, T).await })
    };
    while g.awaiting() < 1 {
        tokio::task::yield_now().await;
    }
    let first = idle(&rt);
    g.reg_name(name.clone(), &first).unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got.pid(), first.pid());

    // The registrant dies: its name goes with it, and the answer the waiter holds is a
    // pid like any other (now dead).
    kill(&first).await;
    assert!(!got.is_alive());
    assert!(g.where_(&name).is_none());
    assert_eq!(
        g.await_name(&name, Duration::from_millis(20)).await.err(),
        Some(NamingError::Timeout)
    );

    // A later registration answers a later await.
    let second = idle(&rt);
    g.reg_name(name.clone(), &second).unwrap();
    assert_eq!(
        g.await_name(&name, T).await.map(|r| r.pid()),
        Ok(second.pid())
    );
}

// One thread, so the order is fixed: the registrant registers (waking the waiter) and is
// killed before the waiter runs, and its exit path runs before the woken waiter does.
#[tokio::test]
async fn await_skips_a_registrant_that_died_before_the_waiter_woke() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let name = Name::text("db_worker");
    let waiter = {
        let g = g.clone();
        let name = name.clone();
        tokio::spawn(async move { g.await_name(&name, T).await })
    };
    while g.awaiting() < 1 {
        tokio::task::yield_now().await;
    }
    let doomed = idle(&rt);
    let exited = doomed.exited();
    // The waiter is woken with it, but does not run before the kill.
    g.reg_name(name.clone(), &doomed).unwrap();
    doomed.kill();
    // Killed: dead at once, so it can take no further name.
    assert_eq!(
        g.reg_name(Name::text("another"), &doomed),
        Err(NamingError::NoProc)
    );
    assert_eq!(exited.await, ExitReason::Killed);
    assert!(g.where_(&name).is_none());
    // The waiter found it dead and waits on for a live one.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!waiter.is_finished());
    assert_eq!(g.awaiting(), 1);
    let live = idle(&rt);
    g.reg_name(name.clone(), &live).unwrap();
    assert_eq!(waiter.await.unwrap().map(|r| r.pid()), Ok(live.pid()));
    assert_eq!(g.awaiting(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_loses_no_wake_up_when_racing_registration() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    for i in 0..500u64 {
        let name = Name::Id(i);
        let waiter = {
            let g = g.clone();
            let name = name.clone();
            tokio::spawn(async move { g.await_name(&name, T).await })
        };
        let p = idle(&rt);
        let registrar = {
            let g = g.clone();
            let p = p.clone();
            tokio::spawn(async move { g.reg_name(name, &p) })
        };
        registrar.await.unwrap().unwrap();
        assert_eq!(
            waiter.await.unwrap().map(|r| r.pid()),
            Ok(p.pid()),
            "round {i}"
        );
    }
    assert_eq!(g.awaiting(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_a_property_reaches_every_holder() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let topic = Name::tagged("topic", 7);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let subs: Vec<ProcessRef> = (0..5).map(|_| forwarder(&rt, tx.clone())).collect();
    for s in &subs {
        g.reg_property(topic.clone(), s, ()).unwrap();
    }
    assert_eq!(g.send_property(&topic, 42u32), 5);
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap());
    }
    got.sort();
    let mut want: Vec<(Pid, u32)> = subs.iter().map(|s| (s.pid(), 42)).collect();
    want.sort();
    assert_eq!(got, want);

    kill(&subs[0]).await;
    assert_eq!(g.send_property(&topic, 1u32), 4);
    assert_eq!(g.send_property(&Name::text("nobody"), 1u32), 0);

    // Send to a unique name, too.
    g.reg_name(Name::text("logger"), &subs[1]).unwrap();
    g.send_name(&Name::text("logger"), 7u32).unwrap();
    let mut seen = false;
    while let Ok(Some((pid, n))) = tokio::time::timeout(T, rx.recv()).await {
        if (pid, n) == (subs[1].pid(), 7) {
            seen = true;
            break;
        }
    }
    assert!(seen);
    assert!(g.send_name(&Name::text("nobody"), 1u32).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_is_removed_through_the_reverse_index_on_exit() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    // One process of each ending: normal return, kill, panic.
    for ending in ["normal", "kill", "panic"] {
        let p = idle(&rt);
        let name = Name::text(ending);
        let prop = Name::text("members");
        let ctr = Name::text("requests");
        let agg = Name::text(&format!("total_{ending}"));
        g.reg_name(name.clone(), &p).unwrap();
        g.reg_property(prop.clone(), &p, ()).unwrap();
        g.reg_counter(ctr.clone(), &p, 5).unwrap();
        g.reg_aggregated(agg.clone(), &p).unwrap();
        let mut want = vec![
            GprocKey::Name(name.clone()),
            GprocKey::Property(prop.clone()),
            GprocKey::Counter(ctr.clone()),
            GprocKey::Aggregated(agg.clone()),
        ];
        want.sort();
        assert_eq!(g.keys_of(p.pid()), want);

        let exited = p.exited();
        match ending {
            "normal" => p.send(()).unwrap(),
            "kill" => {
                p.kill();
            }
            _ => p.send("panic").unwrap(),
        }
        exited.await;
        assert!(g.keys_of(p.pid()).is_empty(), "{ending}");
        assert!(g.where_(&name).is_none());
        assert!(g.lookup_pids(&prop).is_empty());
        assert_eq!(g.counter_value(&ctr, p.pid()), None);
        assert_eq!(g.aggregated_value(&agg), None);
        assert_eq!(g.registered_count().await, 0);
        assert_eq!(g.tracked_processes(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistering_updates_the_reverse_index() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let p = agent(&rt);
    let q = agent(&rt);
    // `gproc:unreg/1` is done by the process itself, with its own `Ctx`.
    let unreg = |who: &ProcessRef| {
        let (g, who) = (g.clone(), who.clone());
        async move { as_agent(&who, move |ctx| g.unreg_name(&Name::Id(1), ctx)).await }
    };
    g.reg_name(Name::Id(1), &p).unwrap();
    g.reg_name(Name::Id(2), &p).unwrap();
    assert_eq!(
        unreg(&q).await,
        Err(NamingError::NotOwner { owner: p.pid() })
    );
    unreg(&p).await.unwrap();
    assert_eq!(unreg(&p).await, Err(NamingError::NotRegistered));
    assert_eq!(g.keys_of(p.pid()), vec![GprocKey::Name(Name::Id(2))]);
    assert_eq!(g.registered_count().await, 1);
    // A name released by unregistering can be taken by another process.
    g.reg_name(Name::Id(1), &q).unwrap();
    kill(&p).await;
    assert_eq!(g.where_(&Name::Id(1)).map(|r| r.pid()), Some(q.pid()));
    assert_eq!(g.registered_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_process_takes_no_key() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let p = idle(&rt);
    kill(&p).await;
    let k = Name::text("k");
    assert_eq!(g.reg_name(k.clone(), &p), Err(NamingError::NoProc));
    assert_eq!(g.reg_property(k.clone(), &p, ()), Err(NamingError::NoProc));
    assert_eq!(g.reg_counter(k.clone(), &p, 1), Err(NamingError::NoProc));
    assert_eq!(g.reg_aggregated(k.clone(), &p), Err(NamingError::NoProc));
    assert_eq!(g.tracked_processes(), 0);
    assert!(g.keys_of(p.pid()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_by_tag_text_prefix_and_predicate() {
    let rt = Runtime::new();
    let g: Gproc<&'static str> = Gproc::new();
    let mut sessions = Vec::new();
    for id in [3u64, 1, 2, u64::MAX] {
        let p = idle(&rt);
        g.reg_name(Name::tagged("session", id), &p).unwrap();
        sessions.push((id, p));
    }
    for (name, p) in [
        (Name::tagged("user", 1), idle(&rt)),
        (Name::tagged("sessions", 1), idle(&rt)),
        (Name::text("session_9"), idle(&rt)),
        (Name::text("sess"), idle(&rt)),
        (Name::text("server"), idle(&rt)),
        (Name::Id(1), idle(&rt)),
    ] {
        g.reg_name(name, &p).unwrap();
    }
    // All {:session, _}, in key order.
    let got: Vec<Name> = g
        .select_names(KeyPattern::Tagged("session"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        got,
        vec![
            Name::tagged("session", 1),
            Name::tagged("session", 2),
            Name::tagged("session", 3),
            Name::tagged("session", u64::MAX),
        ]
    );
    let texts: Vec<Name> = g
        .select_names(KeyPattern::TextPrefix("sess"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(texts, vec![Name::text("sess"), Name::text("session_9")]);
    let odd = |n: &Name| matches!(n, Name::Tagged(t, id) if t.as_str() == "session" && id % 2 == 1);
    assert_eq!(g.select_names(KeyPattern::Where(&odd)).len(), 3);
    assert_eq!(g.select_names(KeyPattern::All).len(), 10);

    // Dead holders drop out of selects.
    let (_, p1) = &sessions[1];
    kill(p1).await;
    assert_eq!(g.select_names(KeyPattern::Tagged("session")).len(), 3);

    // Properties select by the same patterns.
    let a = idle(&rt);
    g.reg_property(Name::tagged("room", 1), &a, "lobby")
        .unwrap();
    g.reg_property(Name::tagged("room", 2), &a, "kitchen")
        .unwrap();
    g.reg_property(Name::text("other"), &a, "x").unwrap();
    let rooms: Vec<(Name, &str)> = g
        .select_properties(KeyPattern::Tagged("room"))
        .into_iter()
        .map(|(n, _, v)| (n, v))
        .collect();
    assert_eq!(
        rooms,
        vec![
            (Name::tagged("room", 1), "lobby"),
            (Name::tagged("room", 2), "kitchen")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_processes_many_keys_leave_nothing_behind() {
    let rt = Runtime::new();
    let g: Gproc<u64> = Gproc::new();
    let shared = Arc::new(Name::text("all"));
    let agg = idle(&rt);
    g.reg_aggregated(Name::text("count"), &agg).unwrap();
    for round in 0..20u64 {
        let procs: Vec<ProcessRef> = (0..50).map(|_| idle(&rt)).collect();
        for (i, p) in procs.iter().enumerate() {
            let i = i as u64;
            g.reg_name(Name::tagged("w", round * 100 + i), p).unwrap();
            g.reg_property((*shared).clone(), p, i).unwrap();
            g.reg_counter(Name::text("count"), p, 1).unwrap();
        }
        assert_eq!(g.aggregated_value(&Name::text("count")), Some(50));
        for (i, p) in procs.iter().enumerate() {
            if i % 2 == 0 {
                p.kill();
            } else {
                p.send(()).unwrap();
            }
        }
        for p in &procs {
            p.exited().await;
        }
        assert_eq!(g.registered_count().await, 0);
        assert!(g.lookup_pids(&shared).is_empty());
        assert_eq!(g.aggregated_value(&Name::text("count")), Some(0));
    }
    // Only the aggregator keeps an entry.
    assert_eq!(g.tracked_processes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_through_the_naming_trait_are_properties() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let group = Name::tagged("group", 1);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let members: Vec<ProcessRef> = (0..3).map(|_| forwarder(&rt, tx.clone())).collect();
    for m in &members {
        g.join(group.clone(), m).await.unwrap();
    }
    assert_eq!(
        g.join(group.clone(), &members[0]).await,
        Err(NamingError::AlreadyRegistered(members[0].pid()))
    );
    assert_eq!(pids(&g.lookup_pids(&group)), pids(&members));
    assert_eq!(g.dispatch(&group, 5u32).await, Ok(3));
    for _ in 0..3 {
        assert_eq!(
            tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap().1,
            5
        );
    }
    assert_eq!(g.dispatch(&Name::text("empty"), 5u32).await, Ok(0));
    let gauges = g.gauges();
    assert!(gauges.contains(&("tracked_processes", 3.0)), "{gauges:?}");
    assert!(gauges.contains(&("awaiting", 0.0)), "{gauges:?}");
}

/// `await_name` with `Duration::MAX` ("wait forever") neither panics on the deadline
/// arithmetic nor gives up: it answers once the name is registered, at once if it already is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_name_with_duration_max_waits_without_panicking() {
    let rt = Runtime::new();
    let g = Gproc::<()>::new();
    let name = Name::text("later");
    let waiter = tokio::spawn({
        let g = g.clone();
        let name = name.clone();
        async move { g.await_name(&name, Duration::MAX).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    let p = idle(&rt);
    g.register(name.clone(), &p).await.unwrap();
    let found = tokio::time::timeout(T, waiter)
        .await
        .expect("the waiter answered")
        .expect("the waiter did not panic");
    assert_eq!(found.map(|r| r.pid()), Ok(p.pid()));
    // Already registered: at once.
    assert_eq!(
        g.await_name(&name, Duration::MAX).await.map(|r| r.pid()),
        Ok(p.pid())
    );
}

// ---- values on unique names, reg_or_locate, mreg, monitors, give_away, reset, select ----

/// A process that forwards every [`NameEvent`] it receives to `out`.
fn watcher(rt: &Runtime, out: mpsc::UnboundedSender<NameEvent>) -> ProcessRef {
    rt.spawn(move |mut ctx: Ctx| async move {
        loop {
            if let Envelope::Info(m) = ctx.recv().await {
                if let Ok(e) = m.downcast::<NameEvent>() {
                    let _ = out.send(*e);
                }
            }
        }
    })
}

/// The next event from a watcher, or a failure after [`T`].
async fn next_event(rx: &mut mpsc::UnboundedReceiver<NameEvent>) -> NameEvent {
    tokio::time::timeout(T, rx.recv())
        .await
        .expect("no event in time")
        .expect("watcher gone")
}

fn event(kind: NameEventKind, monitor: MonitorRef, name: &Name) -> NameEvent {
    NameEvent {
        kind,
        monitor,
        name: name.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_carry_values_that_only_the_owner_sets() {
    let rt = Runtime::new();
    let g: Gproc<u32> = Gproc::new();
    let (a, b) = (idle(&rt), idle(&rt));
    let valued = Name::text("valued");
    let bare = Name::text("bare");
    g.reg_name_with_value(valued.clone(), &a, 7).unwrap();
    g.reg_name(bare.clone(), &a).unwrap();
    assert_eq!(g.lookup_value(&valued), Ok(Some(7)));
    assert_eq!(g.get_value(&valued, a.pid()), Ok(Some(7)));
    // Registered without a value: gproc's `undefined`.
    assert_eq!(g.lookup_value(&bare), Ok(None));
    assert_eq!(
        g.get_value(&valued, b.pid()),
        Err(NamingError::NotOwner { owner: a.pid() })
    );
    assert_eq!(
        g.set_value(&valued, b.pid(), 9),
        Err(NamingError::NotOwner { owner: a.pid() })
    );
    assert_eq!(g.lookup_value(&valued), Ok(Some(7)));
    g.set_value(&valued, a.pid(), 9).unwrap();
    assert_eq!(g.lookup_value(&valued), Ok(Some(9)));
    let missing = Name::text("missing");
    assert_eq!(g.lookup_value(&missing), Err(NamingError::NotRegistered));
    assert_eq!(
        g.set_value(&missing, a.pid(), 1),
        Err(NamingError::NotRegistered)
    );
    // A taken name keeps its value; the owner's exit takes both.
    assert_eq!(
        g.reg_name_with_value(valued.clone(), &b, 1),
        Err(NamingError::AlreadyRegistered(a.pid()))
    );
    assert_eq!(g.lookup_value(&valued), Ok(Some(9)));
    kill(&a).await;
    assert_eq!(g.lookup_value(&valued), Err(NamingError::NotRegistered));
    g.reg_name(valued.clone(), &b).unwrap();
    assert_eq!(g.lookup_value(&valued), Ok(None), "no value left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reg_or_locate_from_many_tasks_leaves_exactly_one_owner() {
    let rt = Runtime::new();
    for round in 0..20u64 {
        let g: Gproc<u64> = Gproc::new();
        let name = Name::tagged("singleton", round);
        let contenders: Vec<ProcessRef> = (0..16).map(|_| idle(&rt)).collect();
        let tasks: Vec<_> = contenders
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (g, name, p) = (g.clone(), name.clone(), p.clone());
                tokio::spawn(async move { g.reg_or_locate(name, &p, Some(i as u64)) })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            let (owner, value) = t.await.unwrap().unwrap();
            seen.push((owner.pid(), value));
        }
        let first = seen[0];
        assert!(seen.iter().all(|s| *s == first), "{seen:?}");
        let (owner, value) = first;
        let winner = value.unwrap() as usize;
        assert_eq!(contenders[winner].pid(), owner);
        assert_eq!(g.where_(&name).map(|p| p.pid()), Some(owner));
        let holders = contenders
            .iter()
            .filter(|p| g.keys_of(p.pid()).contains(&GprocKey::Name(name.clone())))
            .count();
        assert_eq!(holders, 1);
        for p in &contenders {
            kill(p).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reg_or_locate_of_a_dead_process_on_a_free_name_is_refused() {
    let rt = Runtime::new();
    let g: Gproc<u8> = Gproc::new();
    let p = idle(&rt);
    kill(&p).await;
    assert_eq!(
        g.reg_or_locate(Name::text("x"), &p, None)
            .map(|(p, _)| p.pid()),
        Err(NamingError::NoProc)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mreg_registers_all_or_none() {
    let rt = Runtime::new();
    let g: Gproc<u8> = Gproc::new();
    let (a, b) = (idle(&rt), idle(&rt));
    let names: Vec<Name> = (0..5).map(|i| Name::tagged("m", i)).collect();
    g.reg_name(names[3].clone(), &b).unwrap();
    let entries: Vec<(Name, Option<u8>)> = names.iter().map(|n| (n.clone(), Some(1))).collect();
    assert_eq!(
        g.mreg(entries.clone(), &a),
        Err(NamingError::AlreadyRegistered(b.pid()))
    );
    for (i, n) in names.iter().enumerate() {
        let expected = (i == 3).then(|| b.pid());
        assert_eq!(g.where_(n).map(|p| p.pid()), expected, "{n:?}");
    }
    assert!(g.keys_of(a.pid()).is_empty());
    // A name listed twice is refused, and nothing is taken.
    let twice = vec![(Name::text("t"), None), (Name::text("t"), None)];
    assert_eq!(
        g.mreg(twice, &a),
        Err(NamingError::AlreadyRegistered(a.pid()))
    );
    assert_eq!(g.where_(&Name::text("t")).map(|p| p.pid()), None);
    // Once free, all of them, with their values.
    kill(&b).await;
    g.mreg(entries, &a).unwrap();
    for n in &names {
        assert_eq!(g.where_(n).map(|p| p.pid()), Some(a.pid()));
        assert_eq!(g.lookup_value(n), Ok(Some(1)));
    }
    assert_eq!(g.keys_of(a.pid()).len(), 5);
    kill(&a).await;
    assert!(names.iter().all(|n| g.where_(n).is_none()));
    assert_eq!(g.tracked_processes(), 0);
    let dead = idle(&rt);
    kill(&dead).await;
    assert_eq!(
        g.mreg(vec![(Name::text("d"), None)], &dead),
        Err(NamingError::NoProc)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_mregs_over_overlapping_names_leave_each_all_or_nothing() {
    let rt = Runtime::new();
    for round in 0..30u64 {
        let g: Gproc<u8> = Gproc::new();
        // Each set shares names with its neighbours.
        let sets: Vec<Vec<Name>> = (0..6u64)
            .map(|i| {
                (0..4)
                    .map(|j| Name::tagged("r", round * 100 + i * 2 + j))
                    .collect()
            })
            .collect();
        let procs: Vec<ProcessRef> = (0..6).map(|_| idle(&rt)).collect();
        let tasks: Vec<_> = sets
            .iter()
            .zip(&procs)
            .map(|(set, p)| {
                let g = g.clone();
                let entries: Vec<(Name, Option<u8>)> =
                    set.iter().map(|n| (n.clone(), None)).collect();
                let p = p.clone();
                tokio::spawn(async move { g.mreg(entries, &p) })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        let mut won = 0;
        for ((result, set), p) in results.into_iter().zip(&sets).zip(&procs) {
            let held = set
                .iter()
                .filter(|n| g.where_(n).map(|h| h.pid()) == Some(p.pid()))
                .count();
            match result {
                Ok(()) => {
                    won += 1;
                    assert_eq!(held, set.len(), "all of a successful mreg");
                }
                Err(NamingError::AlreadyRegistered(_)) => {
                    assert_eq!(held, 0, "none of a failed one")
                }
                Err(e) => panic!("{e:?}"),
            }
            assert_eq!(g.keys_of(p.pid()).len(), held);
        }
        assert!(won >= 1);
        for p in &procs {
            kill(p).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_monitor_is_told_of_crash_and_re_registration() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = watcher(&rt, tx);
    let name = Name::text("followed");
    // Not registered yet: told at once, and it keeps following.
    let r = g.monitor(&name, &w, MonitorMode::Follow).unwrap();
    assert_eq!(
        next_event(&mut rx).await,
        event(NameEventKind::Unreg, r, &name)
    );
    let a = idle(&rt);
    g.reg_name(name.clone(), &a).unwrap();
    assert_eq!(
        next_event(&mut rx).await,
        event(NameEventKind::Registered, r, &name)
    );
    // The holder crashes: told.
    a.send("panic").unwrap();
    assert_eq!(
        next_event(&mut rx).await,
        event(NameEventKind::Unreg, r, &name)
    );
    let b = idle(&rt);
    g.reg_name(name.clone(), &b).unwrap();
    assert_eq!(
        next_event(&mut rx).await,
        event(NameEventKind::Registered, r, &name)
    );
    // Demonitored: nothing more.
    g.demonitor(&name, r).unwrap();
    assert_eq!(g.demonitor(&name, r), Err(NamingError::NotRegistered));
    assert_eq!(g.monitors(), 0);
    kill(&b).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(rx.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_info_monitor_ends_at_the_first_unregistration() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = watcher(&rt, tx);
    let name = Name::text("watched");
    let a = idle(&rt);
    g.reg_name(name.clone(), &a).unwrap();
    let r = g.monitor(&name, &w, MonitorMode::Info).unwrap();
    assert_eq!(g.monitors(), 1);
    kill(&a).await;
    assert_eq!(
        next_event(&mut rx).await,
        event(NameEventKind::Unreg, r, &name)
    );
    assert_eq!(g.monitors(), 0);
    g.reg_name(name.clone(), &idle(&rt)).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(rx.try_recv().is_err(), "an info monitor does not follow");
    // On a free name: the unreg notice at once, and no monitor left.
    let free = Name::text("free");
    let r = g.monitor(&free, &w, MonitorMode::Info).unwrap();
    assert_eq!(
        next_event(&mut rx).await,
        event(NameEventKind::Unreg, r, &free)
    );
    assert_eq!(g.monitors(), 0);
    let dead = idle(&rt);
    kill(&dead).await;
    assert_eq!(
        g.monitor(&name, &dead, MonitorMode::Follow),
        Err(NamingError::NoProc)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn give_away_moves_the_name_its_value_and_its_cleanup() {
    let rt = Runtime::new();
    let g: Gproc<u32> = Gproc::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = watcher(&rt, tx);
    let (a, b, c) = (idle(&rt), idle(&rt), idle(&rt));
    let name = Name::text("handed");
    g.reg_name_with_value(name.clone(), &a, 5).unwrap();
    let r = g.monitor(&name, &w, MonitorMode::Info).unwrap();
    // Only the holder may give it away.
    assert_eq!(
        g.give_away(&name, c.pid(), &b),
        Err(NamingError::NotOwner { owner: a.pid() })
    );
    g.give_away(&name, a.pid(), &b).unwrap();
    assert_eq!(
        next_event(&mut rx).await,
        event(NameEventKind::Migrated(b.pid()), r, &name)
    );
    assert_eq!(g.where_(&name).map(|p| p.pid()), Some(b.pid()));
    assert_eq!(g.get_value(&name, b.pid()), Ok(Some(5)));
    assert!(g.keys_of(a.pid()).is_empty());
    assert_eq!(g.keys_of(b.pid()), vec![GprocKey::Name(name.clone())]);
    // The old holder's exit leaves it alone; the new holder's exit takes it.
    kill(&a).await;
    assert_eq!(g.where_(&name).map(|p| p.pid()), Some(b.pid()));
    kill(&b).await;
    assert!(g.where_(&name).is_none());
    assert_eq!(
        next_event(&mut rx).await,
        event(NameEventKind::Unreg, r, &name)
    );
    assert_eq!(
        g.give_away(&name, b.pid(), &c),
        Err(NamingError::NotRegistered)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn give_away_to_a_dead_process_is_refused() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let (a, dead) = (idle(&rt), idle(&rt));
    kill(&dead).await;
    let name = Name::text("kept");
    g.reg_name(name.clone(), &a).unwrap();
    assert_eq!(g.give_away(&name, a.pid(), &dead), Err(NamingError::NoProc));
    assert_eq!(g.where_(&name).map(|p| p.pid()), Some(a.pid()));
    assert_eq!(g.keys_of(a.pid()), vec![GprocKey::Name(name.clone())]);
    // To itself: nothing changes.
    g.give_away(&name, a.pid(), &a).unwrap();
    assert_eq!(g.where_(&name).map(|p| p.pid()), Some(a.pid()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_counter_returns_the_old_value_and_restores_the_initial() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let (a, b, agg) = (idle(&rt), idle(&rt), idle(&rt));
    let key = Name::text("hits");
    g.reg_aggregated(key.clone(), &agg).unwrap();
    g.reg_counter(key.clone(), &a, 10).unwrap();
    g.reg_counter(key.clone(), &b, 1).unwrap();
    g.update_counter(&key, a.pid(), 5).unwrap();
    assert_eq!(g.aggregated_value(&key), Some(16));
    assert_eq!(g.reset_counter(&key, a.pid()), Ok(15));
    assert_eq!(g.counter_value(&key, a.pid()), Some(10));
    assert_eq!(g.aggregated_value(&key), Some(11));
    assert_eq!(
        g.reset_counter(&key, agg.pid()),
        Err(NamingError::NotRegistered)
    );
    assert_eq!(
        g.reset_counter(&Name::text("none"), a.pid()),
        Err(NamingError::NotRegistered)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_racing_updates_lose_none() {
    let rt = Runtime::new();
    let g: Gproc = Gproc::new();
    let (a, agg) = (idle(&rt), idle(&rt));
    let key = Name::text("racy");
    g.reg_aggregated(key.clone(), &agg).unwrap();
    g.reg_counter(key.clone(), &a, 0).unwrap();
    let updater = {
        let (g, key, pid) = (g.clone(), key.clone(), a.pid());
        tokio::spawn(async move {
            for _ in 0..20_000 {
                g.update_counter(&key, pid, 1).unwrap();
            }
        })
    };
    let mut taken = 0;
    while !updater.is_finished() {
        taken += g.reset_counter(&key, a.pid()).unwrap();
        tokio::task::yield_now().await;
    }
    updater.await.unwrap();
    taken += g.reset_counter(&key, a.pid()).unwrap();
    assert_eq!(taken, 20_000, "every update is counted once");
    assert_eq!(g.aggregated_value(&key), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_by_value_over_names_properties_and_counters() {
    let rt = Runtime::new();
    let g: Gproc<u32> = Gproc::new();
    let ps: Vec<ProcessRef> = (0..4).map(|_| idle(&rt)).collect();
    for (i, p) in ps.iter().enumerate() {
        let v = i as u32 * 10;
        g.reg_name_with_value(Name::tagged("svc", i as u64), p, v)
            .unwrap();
        g.reg_property(Name::text("load"), p, v).unwrap();
        g.reg_counter(Name::text("jobs"), p, i as i64).unwrap();
    }
    // A name without a value is never selected by value.
    g.reg_name(Name::tagged("svc", 9), &ps[0]).unwrap();
    let names = g.select_names_by_value(KeyPattern::Tagged("svc"), &|v| *v >= 20);
    assert_eq!(
        names
            .iter()
            .map(|(n, p, v)| (n.clone(), p.pid(), *v))
            .collect::<Vec<_>>(),
        vec![
            (Name::tagged("svc", 2), ps[2].pid(), 20),
            (Name::tagged("svc", 3), ps[3].pid(), 30)
        ]
    );
    let props = g.select_properties_by_value(KeyPattern::All, &|v| *v < 20);
    let mut got: Vec<Pid> = props.iter().map(|(_, p, _)| p.pid()).collect();
    got.sort_unstable();
    assert_eq!(got, pids(&ps[..2]));
    let counters = g.select_counters_by_value(KeyPattern::TextPrefix("jo"), &|v| v % 2 == 1);
    let mut got: Vec<Pid> = counters.iter().map(|(_, p, _)| p.pid()).collect();
    got.sort_unstable();
    assert_eq!(got, vec![ps[1].pid(), ps[3].pid()]);
    // The dead drop out.
    kill(&ps[3]).await;
    assert_eq!(g.select_names_by_value(KeyPattern::All, &|_| true).len(), 3);
}

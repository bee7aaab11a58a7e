//! `StaticNames` and `WorkerPool`: a fixed, declared set of names; the seed's
//! `:"db_worker_#{n}"` pool.

use std::collections::HashSet;
use std::time::Duration;

use naming_strategies::runtime::{
    ChildSpec, Ctx, ExitReason, GenServer, Intensity, Name, ProcessRef, Restart, Runtime,
    StartOpts, Strategy, Supervisor,
};
use naming_strategies::{via, Naming, NamingError, StaticNames, WorkerPool};

mod agent;
use agent::{agent, unregister_as};

const T: Duration = Duration::from_secs(2);

/// Answers `n` with `n + 1`.
struct Worker;

impl GenServer for Worker {
    type Call = u64;
    type Reply = u64;
    type Cast = ();

    async fn handle_call(&mut self, n: u64, _ctx: &mut Ctx) -> u64 {
        n + 1
    }
}

async fn worker(rt: &Runtime) -> ProcessRef {
    rt.start(Worker).await.unwrap().process().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_declared_names() {
    let rt = Runtime::new();
    let names = StaticNames::new([Name::text("db_worker"), Name::text("cache")]);
    assert_eq!(names.declared().len(), 2);
    let p = agent(&rt);
    let stranger = Name::text("session_1");
    assert_eq!(
        names.register(stranger.clone(), &p).await,
        Err(NamingError::Undeclared(stranger.clone()))
    );
    assert_eq!(
        unregister_as(&p, &names, &stranger).await,
        Err(NamingError::Undeclared(stranger.clone()))
    );
    assert_eq!(
        names.slot(&stranger),
        Err(NamingError::Undeclared(stranger.clone()))
    );
    assert!(names.whereis(&stranger).await.is_none());
    assert!(!names.is_declared(&stranger));
    assert!(!names.capabilities().dynamic_names);
    assert_eq!(p.held_names(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_reads_and_release_on_exit() {
    let rt = Runtime::new();
    let db = Name::text("db_worker");
    // Duplicates in the declaration are merged.
    let names = StaticNames::new([db.clone(), Name::text("cache"), db.clone()]);
    assert_eq!(names.declared().len(), 2);
    let slot = names.slot(&db).unwrap();
    assert!(names.whereis_slot(slot).is_none());

    let p = worker(&rt).await;
    names.register(db.clone(), &p).await.unwrap();
    assert_eq!(names.whereis_slot(slot).map(|w| w.pid()), Some(p.pid()));
    assert_eq!(names.lookup(&db).map(|w| w.pid()), Some(p.pid()));
    assert_eq!(names.count(), 1);
    let reply: u64 = names.call(&db, 1u64, T).await.unwrap();
    assert_eq!(reply, 2);

    let exited = p.exited();
    p.kill();
    exited.await;
    assert!(names.whereis_slot(slot).is_none());
    assert_eq!(names.count(), 0, "the slot was freed in the exit path");

    let q = agent(&rt);
    names.register(db.clone(), &q).await.unwrap();
    assert_eq!(names.whereis_slot(slot).map(|w| w.pid()), Some(q.pid()));
    unregister_as(&q, &names, &db).await.unwrap();
    assert_eq!(q.held_names(), 0);
    assert!(names.whereis_slot(slot).is_none());
}

#[test]
fn worker_pool_names_and_picks() {
    let pool = WorkerPool::db_workers(4);
    let expected: Vec<Name> = (1..=4)
        .map(|n| Name::text(&format!("db_worker_{n}")))
        .collect();
    assert_eq!(pool.names(), expected.as_slice());
    assert_eq!(pool.size(), 4);
    // Stable: the same key always picks the same worker; and every worker gets picked.
    let mut picked = HashSet::new();
    for key in 0..1_000u64 {
        let w = pool.pick_worker(&key);
        assert_eq!(w, pool.pick_worker(&key));
        assert!(pool.names().contains(&w));
        picked.insert(w);
    }
    assert_eq!(picked.len(), 4);
    assert_eq!(
        pool.pick_worker("some query").to_text().len(),
        "db_worker_1".len()
    );
    // A pool always has at least one worker.
    assert_eq!(WorkerPool::new("w", 0).names(), [Name::text("w_1")]);
}

/// The seed's pool: `db_worker_1..N` started under a supervisor with their static names,
/// queried through `pick_worker`, and found again after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervised_pool_routes_by_pick_worker() {
    let rt = Runtime::new();
    let pool = WorkerPool::db_workers(3);
    let names = StaticNames::new(pool.names().iter().cloned());
    let children = pool
        .names()
        .iter()
        .map(|name| {
            let names = names.clone();
            let name = name.clone();
            ChildSpec::new(
                name.to_text(),
                Restart::Permanent,
                move |rt: Runtime, mut opts: StartOpts| {
                    opts.register = Some(via(&names, name.clone()));
                    async move {
                        rt.start_opts(Worker, opts)
                            .await
                            .map(|s| s.process().clone())
                    }
                },
            )
        })
        .collect();
    let _sup = Supervisor::start(&rt, children, Strategy::OneForOne, Intensity::default())
        .await
        .unwrap();
    assert_eq!(names.count(), 3);
    for key in 0..30u64 {
        let reply: u64 = names.call(&pool.pick_worker(&key), key, T).await.unwrap();
        assert_eq!(reply, key + 1);
    }
    // Kill the worker for key 7; the restarted one takes the same static name.
    let name = pool.pick_worker(&7u64);
    let old = names.whereis(&name).await.unwrap();
    let exited = old.exited();
    old.kill();
    assert_eq!(exited.await, ExitReason::Killed);
    let deadline = std::time::Instant::now() + T;
    loop {
        if let Some(new) = names.whereis(&name).await {
            assert_ne!(new.pid(), old.pid());
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never re-registered");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let reply: u64 = names.call(&name, 7u64, T).await.unwrap();
    assert_eq!(reply, 8);
}

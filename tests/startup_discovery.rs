//! Startup discovery (the "no registry" strategy of the source notes on naming: processes
//! handed each other's pids at start): handed pids go stale after a restart; a `which_children`
//! scan finds the new incarnation; and what using a stale pid costs.

use std::time::{Duration, Instant};

use naming_strategies::runtime::{
    CallError, ChildSpec, Ctx, GenServer, Intensity, Name, ProcessRef, Restart, Runtime, Strategy,
    Supervisor, SupervisorError,
};
use naming_strategies::{Naming, NamingError, StartupDiscovery};

mod agent;
use agent::{agent, unregister_as};

const T: Duration = Duration::from_secs(2);

/// The seed's `db_worker`: answers a query `n` with `n + 1`.
struct DbWorker;

impl GenServer for DbWorker {
    type Call = u64;
    type Reply = u64;
    type Cast = ();

    async fn handle_call(&mut self, n: u64, _ctx: &mut Ctx) -> u64 {
        n + 1
    }
}

async fn db_supervisor(rt: &Runtime) -> Supervisor {
    let children = vec![
        ChildSpec::server("db_worker", Restart::Permanent, || DbWorker),
        ChildSpec::server("http_server", Restart::Permanent, || DbWorker),
    ];
    Supervisor::start(rt, children, Strategy::OneForOne, Intensity::default())
        .await
        .unwrap()
}

/// Kills `victim` and waits until `sup` runs a new `db_worker`; returns the new one.
async fn restart_db_worker(sup: &Supervisor, victim: &ProcessRef) -> ProcessRef {
    let exited = victim.exited();
    victim.kill();
    exited.await;
    let deadline = Instant::now() + T;
    loop {
        let children = sup.which_children().await.unwrap();
        let current = children
            .iter()
            .find(|c| c.id.as_deref() == Some("db_worker"))
            .and_then(|c| c.process.clone());
        if let Some(p) = current {
            if p.pid() != victim.pid() && p.is_alive() {
                return p;
            }
        }
        assert!(Instant::now() < deadline, "db_worker was not restarted");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handed_pid_goes_stale_after_restart() {
    let rt = Runtime::new();
    let sup = db_supervisor(&rt).await;
    let handed = StartupDiscovery::handed_from(&sup).await.unwrap();
    let db = Name::text("db_worker");
    let pid = handed.handed_ref(&db).expect("db_worker handed at start");
    let reply: u64 = handed.call(&db, 1u64, T).await.unwrap();
    assert_eq!(reply, 2);

    let new = restart_db_worker(&sup, &pid).await;
    assert_ne!(new.pid(), pid.pid());

    // The held ref is stale: every use answers NoProc, none succeeds silently.
    assert_eq!(pid.call::<u64, u64>(1, T).await, Err(CallError::NoProc));
    assert_eq!(pid.send(1u64), Err(CallError::NoProc));
    assert_eq!(pid.cast(()), Err(CallError::NoProc));
    // Through the Naming trait too: the name no longer resolves, and never will again.
    assert!(handed.whereis(&db).await.is_none());
    assert_eq!(
        handed.call::<u64, u64>(&db, 1, T).await,
        Err(CallError::NoProc)
    );
    assert_eq!(handed.handed_ref(&db).map(|p| p.pid()), Some(pid.pid()));
    // The sibling that was not restarted is still reachable.
    let other: u64 = handed
        .call(&Name::text("http_server"), 5u64, T)
        .await
        .unwrap();
    assert_eq!(other, 6);
    assert_eq!(handed.registered_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn which_children_scan_finds_the_new_pid() {
    let rt = Runtime::new();
    let sup = db_supervisor(&rt).await;
    let scanning = StartupDiscovery::scanning(sup.clone());
    let db = Name::text("db_worker");
    let first = scanning
        .whereis(&db)
        .await
        .expect("db_worker found by scan");

    let new = restart_db_worker(&sup, &first).await;
    let found = scanning.whereis(&db).await.expect("found after restart");
    assert_eq!(found.pid(), new.pid());
    let reply: u64 = scanning.call(&db, 41u64, T).await.unwrap();
    assert_eq!(reply, 42);
    assert_eq!(scanning.registered_count().await, 2);
    // Only children ids match; a name that is no child's id is not found.
    assert!(scanning.whereis(&Name::text("cache")).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_registration_and_typed_errors() {
    let rt = Runtime::new();
    let sup = db_supervisor(&rt).await;
    for naming in [
        StartupDiscovery::scanning(sup.clone()),
        StartupDiscovery::handed_from(&sup).await.unwrap(),
    ] {
        let p = rt.start(DbWorker).await.unwrap().process().clone();
        assert_eq!(
            naming.register(Name::text("db_worker"), &p).await,
            Err(NamingError::Unsupported("register"))
        );
        assert_eq!(
            unregister_as(&agent(&rt), &naming, &Name::text("db_worker")).await,
            Err(NamingError::Unsupported("unregister"))
        );
        let caps = naming.capabilities();
        assert!(!caps.register && !caps.dynamic_names);
    }
    // A scan through a supervisor that is gone is a typed error, and whereis is None.
    let scanning = StartupDiscovery::scanning(sup.clone());
    let exited = sup.process().exited();
    sup.process().kill();
    exited.await;
    assert_eq!(
        scanning.scan(&Name::text("db_worker")).await,
        Err(SupervisorError::Call(CallError::NoProc))
    );
    assert!(scanning.whereis(&Name::text("db_worker")).await.is_none());
}

/// What stale use costs: a client that only has the handed pid fails every call after the
/// restart (fast: a failed send, no timeout); a client that rescans on `NoProc` pays one
/// failed call and one `which_children` per restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_use_costs() {
    let rt = Runtime::new();
    let sup = db_supervisor(&rt).await;
    let db = Name::text("db_worker");
    let handed = StartupDiscovery::handed_from(&sup).await.unwrap();
    let scanning = StartupDiscovery::scanning(sup.clone());
    let mut cached = handed.handed_ref(&db).unwrap();
    let stale = cached.clone();
    restart_db_worker(&sup, &stale).await;

    // Handed only: all 1,000 calls fail, each at once.
    let calls = 1_000;
    let started = Instant::now();
    let mut no_proc = 0;
    for i in 0..calls {
        match stale.call::<u64, u64>(i, T).await {
            Err(CallError::NoProc) => no_proc += 1,
            other => panic!("a stale pid answered {other:?}"),
        }
    }
    let stale_total = started.elapsed();
    assert_eq!(no_proc, calls);
    assert!(
        stale_total < T,
        "stale calls must fail fast, not time out: {stale_total:?} for {calls}"
    );

    // Rescan on NoProc: one failure and one scan, then every call succeeds.
    let (mut failures, mut scans, mut ok) = (0, 0, 0);
    for i in 0..calls {
        match cached.call::<u64, u64>(i, T).await {
            Ok(reply) => {
                assert_eq!(reply, i + 1);
                ok += 1;
            }
            Err(CallError::NoProc) => {
                failures += 1;
                scans += 1;
                cached = scanning.scan(&db).await.unwrap().expect("restarted");
                let reply: u64 = cached.call(i, T).await.unwrap();
                assert_eq!(reply, i + 1);
                ok += 1;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((failures, scans, ok), (1, 1, calls));
    println!(
        "stale pid: {calls} calls, {no_proc} NoProc in {stale_total:?} \
         ({:?}/call); rescan-on-NoProc client: {failures} failure, {scans} scan",
        stale_total / calls as u32
    );
}

//! A client handed its server's pid at start (seed 003's startup discovery) goes stale when
//! the server is restarted.
//!
//! `{:ok, db} = DbWorker.start(...)` then `HttpServer.start(db, ...)`: the pid names one
//! incarnation. After the supervisor restarts the worker, every call through the old pid
//! answers `NoProc` (fast, never a silent success); only a new `which_children` scan finds
//! the new worker.
//!
//! Run: `cargo run --example stale_pid`

use std::time::{Duration, Instant};

use naming_strategies::runtime::{
    CallError, ChildSpec, Ctx, GenServer, Intensity, Name, Restart, Runtime, Strategy, Supervisor,
};
use naming_strategies::StartupDiscovery;

const T: Duration = Duration::from_secs(1);

/// The database worker: answers a query number with its double.
struct DbWorker;

impl GenServer for DbWorker {
    type Call = u64;
    type Reply = u64;
    type Cast = ();

    async fn handle_call(&mut self, n: u64, _ctx: &mut Ctx) -> u64 {
        n * 2
    }
}

#[tokio::main]
async fn main() {
    let rt = Runtime::new();
    let children = vec![ChildSpec::server("db_worker", Restart::Permanent, || {
        DbWorker
    })];
    let sup =
        match Supervisor::start(&rt, children, Strategy::OneForOne, Intensity::default()).await {
            Ok(sup) => sup,
            Err(e) => return println!("supervisor failed to start: {e}"),
        };
    let db = Name::text("db_worker");

    // At start: the client is handed the worker's pid, once.
    let handed = match StartupDiscovery::handed_from(&sup).await {
        Ok(h) => h,
        Err(e) => return println!("which_children failed: {e}"),
    };
    let Some(pid) = handed.handed_ref(&db) else {
        return println!("no db_worker running");
    };
    println!("client was handed db_worker {}", pid.pid());
    println!("query 21 -> {:?}", pid.call::<u64, u64>(21, T).await);

    // The worker crashes; its supervisor restarts it under a new pid.
    let exited = pid.exited();
    pid.kill();
    println!("db_worker {} exited: {}", pid.pid(), exited.await);
    let scanning = StartupDiscovery::scanning(sup.clone());
    let new = loop {
        match scanning.scan(&db).await {
            Ok(Some(p)) if p.pid() != pid.pid() => break p,
            Ok(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            Err(e) => return println!("which_children failed: {e}"),
        }
    };
    println!("supervisor restarted it as {}", new.pid());

    // The client still holds the old pid: every use fails, fast.
    let started = Instant::now();
    let mut no_proc = 0;
    for n in 0..1_000u64 {
        match pid.call::<u64, u64>(n, T).await {
            Err(CallError::NoProc) => no_proc += 1,
            other => println!("unexpected answer from a stale pid: {other:?}"),
        }
    }
    println!(
        "1000 queries through the stale pid: {no_proc} x NoProc in {:?}",
        started.elapsed()
    );

    // Only a fresh scan of the supervisor's children finds the new worker.
    match scanning.scan(&db).await {
        Ok(Some(p)) => println!(
            "which_children scan finds {}; query 21 -> {:?}",
            p.pid(),
            p.call::<u64, u64>(21, T).await
        ),
        Ok(None) => println!("db_worker is not running"),
        Err(e) => println!("which_children failed: {e}"),
    }
}

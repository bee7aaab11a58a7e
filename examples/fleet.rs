//! The fleet demo: routes calls to a fleet of named workers through the Registry
//! (seed 000's drills 1-3), crashes one, and shows its name re-registered after the restart.
//!
//! `cargo run --release --example fleet [USERS]` (default 10000).

use std::time::{Duration, Instant};

use naming_strategies::runtime::{
    ChildSpec, Ctx, DynamicSupervisor, DynamicSupervisorOpts, GenServer, Name, Restart, Runtime,
    StartOpts,
};
use naming_strategies::{via, Naming, Registry};

const TIMEOUT: Duration = Duration::from_secs(5);

/// A user worker: counts the pings it has answered.
struct UserWorker {
    pings: u64,
}

impl GenServer for UserWorker {
    type Call = ();
    type Reply = u64;
    type Cast = ();

    async fn handle_call(&mut self, _: (), _ctx: &mut Ctx) -> u64 {
        self.pings += 1;
        self.pings
    }
}

fn user_worker<N: Naming>(naming: &N, user_id: u64) -> ChildSpec {
    let naming = naming.clone();
    ChildSpec::new(
        "user_worker",
        Restart::Permanent,
        move |rt: Runtime, mut opts: StartOpts| {
            opts.register = Some(via(&naming, Name::Id(user_id)));
            async move {
                rt.start_opts(UserWorker { pings: 0 }, opts)
                    .await
                    .map(|s| s.process().clone())
            }
        },
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Run on a worker thread, as a client process would, not on the blocked main thread.
    tokio::spawn(fleet_demo()).await?
}

async fn fleet_demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let users: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let rt = Runtime::new();
    let registry = Registry::<naming_strategies::DashMapTable>::new(1);
    let fleet = DynamicSupervisor::start(&rt, DynamicSupervisorOpts::default()).await?;

    let t = Instant::now();
    for id in 0..users {
        fleet.start_child(user_worker(&registry, id)).await?;
    }
    println!(
        "started {users} workers under a DynamicSupervisor, named via Registry (unique keys, over dashmap) in {:?} ({:.0} ns each)",
        t.elapsed(),
        t.elapsed().as_nanos() as f64 / users as f64
    );

    let t = Instant::now();
    for id in 0..users {
        let _: u64 = registry.call(&Name::Id(id), (), TIMEOUT).await?;
    }
    println!(
        "routed {users} calls through names in {:?} ({:.0} ns per call)",
        t.elapsed(),
        t.elapsed().as_nanos() as f64 / users as f64
    );

    let name = Name::Id(users / 2);
    let victim = registry
        .whereis(&name)
        .await
        .ok_or("worker not registered")?;
    let t = Instant::now();
    let exited = victim.exited();
    victim.kill();
    let reason = exited.await;
    let mut polls = 0u64;
    let restarted = loop {
        match registry.whereis(&name).await {
            Some(p) if p.pid() != victim.pid() => break p,
            _ => {
                polls += 1;
                tokio::task::yield_now().await;
            }
        }
    };
    println!(
        "killed {} ({reason}); restarted as {} under the same name after {:?} ({polls} polls)",
        victim.pid(),
        restarted.pid(),
        t.elapsed()
    );
    let pings: u64 = registry.call(&name, (), TIMEOUT).await?;
    println!(
        "call through {name:?} after the restart answered {pings} (fresh state); {} names registered, {} children",
        registry.registered_count().await,
        fleet.count_children().await?.active
    );
    Ok(())
}

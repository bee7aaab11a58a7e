//! Seed 001's `Demo.run`: three cycles of three increments, killing the counter worker
//! between cycles and waiting for its restart; a backup keeps the count, so it prints 1..9.
//!
//! `cargo run --example dont_lose [heir|public|none]` (default `heir`, the keeper + heir
//! version; `public` is the supervisor-created table; `none` has no backup and prints
//! 1 2 3 1 2 3 1 2 3).

use std::time::Duration;

use naming_strategies::recovery::{Backup, CounterOpts, CounterService};
use naming_strategies::runtime::{ExitReason, Runtime};
use naming_strategies::{DashMapTable, Naming, Registry};

/// `Demo.cycle/1`.
async fn cycle<N: Naming>(service: &CounterService<N>, n: usize) -> Result<(), String> {
    for _ in 0..n {
        for _ in 0..3 {
            let value = service.increment().await.map_err(|e| e.to_string())?;
            println!("{value}");
        }
        if !kill_and_wait(service).await {
            return Err("error".into());
        }
    }
    Ok(())
}

/// `Demo.kill_and_wait/0`: monitor, kill, wait for `:killed`, then poll `whereis` 10 times,
/// 10 ms apart.
async fn kill_and_wait<N: Naming>(service: &CounterService<N>) -> bool {
    let Some(pid) = service.worker().await else {
        return false;
    };
    pid.kill();
    if pid.exited().await != ExitReason::Killed {
        return false;
    }
    for _ in 0..10 {
        match service.worker().await {
            Some(new) if new.pid() != pid.pid() => return true,
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    false
}

#[tokio::main]
async fn main() {
    let backup = match std::env::args().nth(1).as_deref() {
        None | Some("heir") => Backup::KeeperHeir,
        Some("public") => Backup::SupervisorTable,
        Some("none") => Backup::None,
        Some(other) => {
            eprintln!("unknown backup {other:?}: use heir, public or none");
            std::process::exit(2);
        }
    };
    let rt = Runtime::new();
    let registry: Registry<DashMapTable> = Registry::new(1);
    let service = match CounterService::start(&rt, &registry, backup, CounterOpts::default()).await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("start failed: {e}");
            std::process::exit(1);
        }
    };
    match cycle(&service, 3).await {
        Ok(()) => println!(":ok"),
        Err(e) => println!(":{e}"),
    }
    service.shutdown().await;
}

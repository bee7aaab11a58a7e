//! The recovery workload (keeping a worker's state across its crash, as in the source
//! notes' counter demo: a supervisor-created table, a keeper that is the table's heir, or
//! no backup): time from a kill to serving again per backup under criterion, then the
//! kill-cycle workload (lost updates, recovery times) written to
//! `results/recovery.csv`.
//!
//! `cargo bench --bench recovery` (full: 1e4 cycles per backup); `NAMING_BENCH_QUICK=1 cargo
//! bench --bench recovery` (1e2 cycles, short criterion runs). Under `cargo test --benches`
//! only the criterion smoke run happens and no CSV is written.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use naming_strategies::recovery::{Backup, CounterOpts, CounterService};
use naming_strategies::runtime::Runtime;
mod common;

use naming_strategies::{DashMapTable, Registry};

fn tokio_runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            std::process::exit(1);
        }
    }
}

/// One kill of the worker and the wait until a new one answers.
async fn kill_and_recover(service: &CounterService<Registry<DashMapTable>>) -> Duration {
    let start = Instant::now();
    if let Ok(old) = service.kill_worker().await {
        old.exited().await;
        let _ = service
            .await_serving(old.pid(), Duration::from_secs(5))
            .await;
    }
    start.elapsed()
}

fn restarts(c: &mut Criterion, tokio: &tokio::runtime::Runtime) {
    let mut group = c.benchmark_group("recovery/kill_to_serving");
    for (i, backup) in Backup::ALL.into_iter().enumerate() {
        let rt = Runtime::new();
        let registry: Registry<DashMapTable> = Registry::new(1);
        let opts = CounterOpts {
            id: i as u64,
            ..CounterOpts::default()
        };
        let Ok(service) = tokio.block_on(CounterService::start(&rt, &registry, backup, opts))
        else {
            eprintln!("{}: service did not start", backup.label());
            continue;
        };
        group.bench_function(BenchmarkId::from_parameter(backup.label()), |b| {
            b.iter_custom(|iters| {
                tokio.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += kill_and_recover(&service).await;
                    }
                    total
                })
            })
        });
        tokio.block_on(service.shutdown());
    }
    group.finish();
}

fn main() {
    common::bench_main("recovery", None, |c| restarts(c, &tokio_runtime()));
}

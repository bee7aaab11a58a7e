//! runtime_costs: the runtime's own costs beside their floors, in one target so that each
//! ratio comes from one run: a call to a held pid beside a bare tokio mpsc + oneshot round
//! trip; `whereis` through the dashmap `Registry` beside the same dashmap's get on `u64`
//! keys and on name keys; spawning a named worker and stopping it beside tokio spawn +
//! abort, inside a worker task and from outside the runtime. Then the data-driven
//! `runtime` workload (the same pairs, their batches taking turns, in a fresh process)
//! written to results/.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::BenchmarkId;
use dashmap::DashMap;
use naming_bench::contenders::FloorTable;
use naming_bench::workloads::common::{id_names, start_workers};
use naming_bench::workloads::runtime_costs::{
    bare_calls, bare_servers, held_calls, registry_lookups, spawn_named_stops, spawn_stops,
    table_gets, tokio_spawn_aborts, u64_gets, visiting_order, U64Map, DASHMAP_U64, MPSC_ONESHOT,
    PROCESS_RUNTIME, TOKIO_SPAWN_ABORT,
};
use naming_strategies::runtime::Runtime;
use naming_strategies::{DashMapTable, FastHasher, NameTable, Registry, SyncNaming};

const WORKERS: usize = 10_000;

/// Runs `fut` inside a worker task of `tokio` and returns its measured time.
fn in_task<F>(tokio: &tokio::runtime::Runtime, fut: F) -> std::time::Duration
where
    F: std::future::Future<Output = std::time::Duration> + Send + 'static,
{
    tokio.block_on(async move { tokio::spawn(fut).await.unwrap_or_default() })
}

fn main() {
    common::bench_main("runtime", Some("runtime_costs"), |c| {
        let mut group = c.benchmark_group("runtime_costs");
        let tokio = naming_bench::workloads::common::tokio_runtime(2);
        let rt = Runtime::new();
        let names = Arc::new(id_names(WORKERS));
        let workers = Arc::new(tokio.block_on(start_workers(&rt, WORKERS)));
        let registry: Registry<DashMapTable> = Registry::with_capacity(1, WORKERS);
        // The spawn cases churn names through a registry of their own holding the same
        // names, as the `runtime` workload does: churn leaves deleted markers in a table's
        // buckets, and `whereis` is compared with maps that have seen none.
        let spawn_registry: Registry<DashMapTable> = Registry::with_capacity(1, WORKERS);
        let by_u64: U64Map = DashMap::with_capacity_and_hasher(WORKERS, FastHasher::default());
        let keys: Vec<u64> = (0..WORKERS as u64).collect();
        let by_name = DashMapTable::with_capacity(WORKERS);
        for (i, (name, p)) in names.iter().zip(workers.iter()).enumerate() {
            let _ = registry.register_sync(name.clone(), p);
            let _ = spawn_registry.register_sync(name.clone(), p);
            by_u64.insert(i as u64, p.clone());
            let _ = by_name.insert_new(name.clone(), p.clone());
        }
        let servers = tokio.block_on(async { bare_servers(WORKERS) });
        // Both call loops visit their servers in the same shuffled order, as the workload's.
        let callees = Arc::new(visiting_order(&workers));
        let servers = Arc::new(visiting_order(&servers));

        // A call to a held pid beside the bare round trip, both inside a worker task.
        group.bench_function(BenchmarkId::new(MPSC_ONESHOT.label, "call"), |b| {
            b.iter_custom(|n| {
                let s = Arc::clone(&servers);
                in_task(&tokio, async move { bare_calls(&s, n).await })
            })
        });
        group.bench_function(BenchmarkId::new(PROCESS_RUNTIME.label, "call"), |b| {
            b.iter_custom(|n| {
                let w = Arc::clone(&callees);
                in_task(&tokio, async move { held_calls(&w, n).await })
            })
        });

        // whereis beside the same dashmap's get on u64 keys and on name keys.
        group.bench_function(BenchmarkId::new(DASHMAP_U64.label, "lookup"), |b| {
            b.iter_custom(|n| u64_gets(&by_u64, &keys, n))
        });
        group.bench_function(BenchmarkId::new(DashMapTable::FLOOR.label, "lookup"), |b| {
            b.iter_custom(|n| table_gets(&by_name, &names, n))
        });
        group.bench_function(BenchmarkId::new(PROCESS_RUNTIME.label, "lookup"), |b| {
            b.iter_custom(|n| registry_lookups(&registry, &names, n))
        });

        // Spawn named + stop beside tokio spawn + abort: inside a worker task, then from
        // this thread, outside the runtime (which mostly measures thread wake-ups).
        let base = AtomicU64::new(1 << 40);
        group.bench_function(
            BenchmarkId::new(TOKIO_SPAWN_ABORT.label, "spawn-in-task"),
            |b| b.iter_custom(|n| in_task(&tokio, tokio_spawn_aborts(n))),
        );
        group.bench_function(
            BenchmarkId::new(PROCESS_RUNTIME.label, "spawn-in-task"),
            |b| {
                b.iter_custom(|n| {
                    let (rt, reg) = (rt.clone(), spawn_registry.clone());
                    let first = base.fetch_add(n, Ordering::Relaxed);
                    in_task(&tokio, async move {
                        spawn_named_stops(&rt, &reg, first, n).await
                    })
                })
            },
        );
        // The same spawn + stop without a name: the runtime's own share.
        group.bench_function(
            BenchmarkId::new(PROCESS_RUNTIME.label, "spawn-unnamed-in-task"),
            |b| {
                b.iter_custom(|n| {
                    let rt = rt.clone();
                    in_task(&tokio, async move { spawn_stops(&rt, n).await })
                })
            },
        );
        group.bench_function(
            BenchmarkId::new(TOKIO_SPAWN_ABORT.label, "spawn-outside"),
            |b| b.iter_custom(|n| tokio.block_on(tokio_spawn_aborts(n))),
        );
        group.bench_function(
            BenchmarkId::new(PROCESS_RUNTIME.label, "spawn-outside"),
            |b| {
                b.iter_custom(|n| {
                    let first = base.fetch_add(n, Ordering::Relaxed);
                    tokio.block_on(spawn_named_stops(&rt, &spawn_registry, first, n))
                })
            },
        );
        group.finish();
        for w in workers.iter() {
            w.kill();
        }
    });
}

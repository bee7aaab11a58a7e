//! The reshard workload (how shard routers move and spread keys): lookup cost per router
//! under criterion, then the movement / balance / lookup / memory / build rows written to
//! `results/reshard.csv`.
//!
//! `cargo bench --bench reshard` (full: 1e6 keys); `NAMING_BENCH_QUICK=1 cargo bench --bench
//! reshard` (1e5 keys, short criterion runs). Under `cargo test --benches` only the
//! criterion smoke run happens and no CSV is written.

use criterion::{black_box, BenchmarkId, Criterion, Throughput};
mod common;

use naming_strategies::shard::{key_hash, Router, RouterSpec, ShardRouter};

const LOOKUP_SHARDS: [usize; 2] = [16, 256];

fn bench_router<R: ShardRouter>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    router: &R,
    hashes: &[u64],
) {
    group.bench_with_input(id, hashes, |b, hashes| {
        b.iter(|| {
            let mut acc = 0usize;
            for &h in hashes {
                acc = acc.wrapping_add(router.shard(black_box(h)));
            }
            acc
        })
    });
}

fn lookups(c: &mut Criterion) {
    let hashes: Vec<u64> = (0..4096u64).map(key_hash).collect();
    let mut group = c.benchmark_group("reshard/lookup");
    group.throughput(Throughput::Elements(hashes.len() as u64));
    for k in LOOKUP_SHARDS {
        for spec in RouterSpec::defaults() {
            let Ok(router) = spec.build(k) else {
                continue;
            };
            let id = BenchmarkId::new(spec.label(), k);
            match &router {
                Router::Modulo(r) => bench_router(&mut group, id, r, &hashes),
                Router::Rendezvous(r) => bench_router(&mut group, id, r, &hashes),
                Router::Ring(r) => bench_router(&mut group, id, r, &hashes),
                Router::Jump(r) => bench_router(&mut group, id, r, &hashes),
                Router::Maglev(r) => bench_router(&mut group, id, r, &hashes),
            }
        }
    }
    group.finish();
}

fn main() {
    common::bench_main("reshard", None, lookups);
}

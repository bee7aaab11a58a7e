//! scale: criterion's register + unregister pair and named start per backend, then the
//! scale workload (N names from T tasks, bytes per name, release) to results/.

mod common;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId};
use naming_bench::alloc::CountingAlloc;
use naming_bench::contenders::{self, Contender, Visitor};
use naming_bench::workloads::common::id_names;
use naming_bench::workloads::scale::register_unregister_pairs;
use naming_strategies::runtime::Runtime;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

struct Micro<'a, 'b> {
    group: &'a mut BenchmarkGroup<'b, WallTime>,
    tokio: tokio::runtime::Runtime,
}

impl Visitor for Micro<'_, '_> {
    fn visit<C: Contender>(&mut self, c: &C) {
        if !c.workloads().contains(&"scale") {
            return;
        }
        let rt = Runtime::new();
        let Ok(naming) = self.tokio.block_on(c.make(&rt, 64)) else {
            return;
        };
        let names = id_names(64);
        // One pair first: a backend that cannot do it is skipped, not measured.
        let first = register_unregister_pairs(&rt, naming.clone(), names.clone(), 1);
        if let Err(e) = self.tokio.block_on(first) {
            eprintln!("scale micro: {} skipped: {e}", c.label());
            return;
        }
        // Only the owner may unregister (with its own `Ctx`), so the pairs run inside one
        // process, which times them itself.
        self.group
            .bench_function(BenchmarkId::new(c.label(), "register+unregister"), |b| {
                b.to_async(&self.tokio).iter_custom(|iters| {
                    let pairs =
                        register_unregister_pairs(&rt, naming.clone(), names.clone(), iters);
                    async move { pairs.await.unwrap_or_default() }
                })
            });
    }
}

fn main() {
    common::bench_main("scale", Some("scale"), |c| {
        let mut group = c.benchmark_group("scale");
        let mut micro = Micro {
            group: &mut group,
            tokio: common::current_thread(),
        };
        contenders::for_each(&mut micro);
        group.finish();
    });
}

//! scale: criterion's register + unregister pair and named start per backend, then the
//! scale workload (N names from T tasks, bytes per name, release) to results/.

mod common;

use std::cell::Cell;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId};
use naming_bench::alloc::CountingAlloc;
use naming_bench::contenders::{self, Contender, Visitor};
use naming_bench::workloads::common::{id_names, start_workers};
use naming_strategies::runtime::Runtime;
use naming_strategies::Naming;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

struct Micro<'a, 'b> {
    group: &'a mut BenchmarkGroup<'b, WallTime>,
    tokio: tokio::runtime::Runtime,
}

impl Visitor for Micro<'_, '_> {
    fn visit<C: Contender>(&mut self, c: &C) {
        let rt = Runtime::new();
        let Ok(naming) = self.tokio.block_on(c.make(&rt, 64)) else {
            return;
        };
        let workers = self.tokio.block_on(start_workers(&rt, 1));
        let names = id_names(64);
        let w = &workers[0];
        if let Err(e) = self.tokio.block_on(naming.register(names[0].clone(), w)) {
            eprintln!("scale micro: {} skipped: {e}", c.label());
            return;
        }
        let _ = self.tokio.block_on(naming.unregister(&names[0], w.pid()));
        let i = Cell::new(0usize);
        self.group
            .bench_function(BenchmarkId::new(c.label(), "register+unregister"), |b| {
                b.to_async(&self.tokio).iter(|| {
                    let name = &names[i.get() % names.len()];
                    i.set(i.get() + 1);
                    let naming = &naming;
                    async move {
                        let r = naming.register(name.clone(), w).await;
                        let u = naming.unregister(name, w.pid()).await;
                        (r, u)
                    }
                })
            });
        w.kill();
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

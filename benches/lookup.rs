//! lookup: criterion's `whereis` per backend beside the raw `get` of its storage, then the
//! data-driven lookup workload (sizes, key distributions, clients) written to results/.

mod common;

use std::cell::Cell;
use std::sync::Arc;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId};
use naming_bench::alloc::CountingAlloc;
use naming_bench::contenders::{self, Contender, FloorTable, TableVisitor, Visitor};
use naming_bench::workloads::common::{id_names, start_workers};
use naming_strategies::runtime::Runtime;
use naming_strategies::Naming;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const NAMES: usize = 10_000;

struct Micro<'a, 'b> {
    group: &'a mut BenchmarkGroup<'b, WallTime>,
    tokio: tokio::runtime::Runtime,
}

impl Visitor for Micro<'_, '_> {
    fn visit<C: Contender>(&mut self, c: &C) {
        if !c.workloads().contains(&"lookup") {
            return;
        }
        let rt = Runtime::new();
        let Ok(naming) = self.tokio.block_on(c.make(&rt, NAMES)) else {
            return;
        };
        let names = Arc::new(id_names(NAMES));
        let workers = self.tokio.block_on(start_workers(&rt, NAMES));
        let naming = match self.tokio.block_on(C::adopt(naming, &names, &workers)) {
            Ok(n) => n,
            Err(reason) => {
                eprintln!("lookup micro: {} skipped: {reason}", c.label());
                return;
            }
        };
        let i = Cell::new(0usize);
        self.group
            .bench_function(BenchmarkId::new(c.label(), NAMES), |b| {
                b.to_async(&self.tokio).iter(|| {
                    let k = i.get().wrapping_mul(0x9E37_79B9) % NAMES;
                    i.set(i.get() + 1);
                    let (naming, names) = (&naming, &names);
                    async move { naming.whereis(&names[k]).await.is_some() }
                })
            });
        for w in &workers {
            w.kill();
        }
    }
}

impl TableVisitor for Micro<'_, '_> {
    fn visit<T: FloorTable>(&mut self) {
        let rt = Runtime::new();
        let names = id_names(NAMES);
        let workers = self.tokio.block_on(start_workers(&rt, NAMES));
        let table = T::with_capacity(NAMES);
        for (n, w) in names.iter().zip(&workers) {
            let _ = table.insert_new(n.clone(), w.clone());
        }
        let i = Cell::new(0usize);
        let label = T::FLOOR.label;
        self.group
            .bench_function(BenchmarkId::new(label, NAMES), |b| {
                b.to_async(&self.tokio).iter(|| {
                    let k = i.get().wrapping_mul(0x9E37_79B9) % NAMES;
                    i.set(i.get() + 1);
                    let (table, names) = (&table, &names);
                    async move { table.get(&names[k]).is_some() }
                })
            });
        for w in &workers {
            w.kill();
        }
    }
}

fn main() {
    common::bench_main("lookup", Some("lookup"), |c| {
        let mut group = c.benchmark_group("lookup");
        let mut micro = Micro {
            group: &mut group,
            tokio: common::current_thread(),
        };
        contenders::for_each(&mut micro);
        contenders::for_each_table(&mut micro);
        group.finish();
    });
}

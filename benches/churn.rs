//! churn: criterion's kill -> name released per backend, then the churn workload (calls
//! while workers are killed and restarted at several rates) to results/.

mod common;

use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId};
use naming_bench::alloc::CountingAlloc;
use naming_bench::contenders::{self, Contender, Visitor};
use naming_bench::workloads::common::Worker;
use naming_strategies::runtime::{Name, Runtime, StartOpts};
use naming_strategies::{via, Naming};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

struct Micro<'a, 'b> {
    group: &'a mut BenchmarkGroup<'b, WallTime>,
    tokio: tokio::runtime::Runtime,
}

impl Visitor for Micro<'_, '_> {
    fn visit<C: Contender>(&mut self, c: &C) {
        if !c.workloads().contains(&"churn") {
            return;
        }
        let rt = Runtime::new();
        let Ok(naming) = self.tokio.block_on(c.make(&rt, 1)) else {
            return;
        };
        let name = Name::Id(0);
        let probe = self.tokio.block_on(rt.start_opts(
            Worker::plain(),
            StartOpts {
                register: Some(via(&naming, name.clone())),
                ..StartOpts::default()
            },
        ));
        match probe {
            Ok(p) => {
                let e = p.process().exited();
                p.process().kill();
                self.tokio.block_on(e);
            }
            Err(e) => {
                eprintln!("churn micro: {} skipped: {e}", c.label());
                return;
            }
        }
        // Time from `kill` until the name no longer resolves to the killed process.
        self.group
            .bench_function(BenchmarkId::new(c.label(), "kill-to-released"), |b| {
                b.to_async(&self.tokio).iter_custom(|iters| {
                    let (naming, rt, name) = (naming.clone(), rt.clone(), name.clone());
                    async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let opts = StartOpts {
                                register: Some(via(&naming, name.clone())),
                                ..StartOpts::default()
                            };
                            let Ok(w) = rt.start_opts(Worker::plain(), opts).await else {
                                continue;
                            };
                            let old = w.pid();
                            let start = Instant::now();
                            w.process().kill();
                            while naming.whereis(&name).await.is_some_and(|p| p.pid() == old) {
                                tokio::task::yield_now().await;
                            }
                            total += start.elapsed();
                            // The next start needs the name free in every backend.
                            while naming.whereis(&name).await.is_some() {
                                tokio::task::yield_now().await;
                            }
                        }
                        total
                    }
                })
            });
    }
}

fn main() {
    common::bench_main("churn", Some("churn"), |c| {
        let mut group = c.benchmark_group("churn");
        let mut micro = Micro {
            group: &mut group,
            tokio: common::current_thread(),
        };
        contenders::for_each(&mut micro);
        group.finish();
    });
}

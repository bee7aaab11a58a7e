//! soak: criterion's session replacement (end one session, start another under a fresh id)
//! per backend whose memory is bounded, then the soak workload with its per-phase
//! invariants and memory to results/ (where interned atoms show their leak).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId};
use naming_bench::alloc::CountingAlloc;
use naming_bench::contenders::{self, Contender, Visitor};
use naming_bench::workloads::common::Worker;
use naming_strategies::runtime::{Name, Runtime, StartOpts};
use naming_strategies::{via, Capability, Naming};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

struct Micro<'a, 'b> {
    group: &'a mut BenchmarkGroup<'b, WallTime>,
    tokio: tokio::runtime::Runtime,
}

impl Visitor for Micro<'_, '_> {
    fn visit<C: Contender>(&mut self, c: &C) {
        if !c.workloads().contains(&"soak") {
            return;
        }
        let rt = Runtime::new();
        let Ok(naming) = self.tokio.block_on(c.make(&rt, 1)) else {
            return;
        };
        if !naming.capabilities().has(Capability::BoundedMemory) {
            eprintln!("soak micro: {} skipped: every fresh name is kept forever (the soak workload plots it)", c.label());
            return;
        }
        if !naming.capabilities().has(Capability::Register) {
            eprintln!("soak micro: {} skipped: no registration", c.label());
            return;
        }
        let next = AtomicU64::new(0);
        // End a session and start the next under a fresh id (the call waits for the exit).
        self.group
            .bench_function(BenchmarkId::new(c.label(), "replace-session"), |b| {
                b.to_async(&self.tokio).iter(|| {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    let (naming, rt) = (&naming, &rt);
                    async move {
                        let opts = StartOpts {
                            register: Some(via(naming, Name::tagged("session", id))),
                            ..StartOpts::default()
                        };
                        if let Ok(s) = rt.start_opts(Worker::plain(), opts).await {
                            let e = s.process().exited();
                            s.process().kill();
                            e.await;
                        }
                    }
                })
            });
    }
}

fn main() {
    common::bench_main("soak", Some("soak"), |c| {
        let mut group = c.benchmark_group("soak");
        let mut micro = Micro {
            group: &mut group,
            tokio: common::current_thread(),
        };
        contenders::for_each(&mut micro);
        group.finish();
    });
}

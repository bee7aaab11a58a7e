//! routing: criterion's call through a name per backend beside a call to a held pid and a
//! bare tokio mpsc + oneshot, then the routing workload (closed and open loop) to results/.

mod common;

use std::cell::Cell;
use std::sync::Arc;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId};
use naming_bench::alloc::CountingAlloc;
use naming_bench::contenders::{self, Contender, Visitor};
use naming_bench::workloads::common::{id_names, start_workers, CALL_TIMEOUT};
use naming_bench::workloads::routing::{DIRECT_CALL, TOKIO_MPSC_ONESHOT};
use naming_strategies::runtime::Runtime;
use naming_strategies::Naming;
use tokio::sync::{mpsc, oneshot};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const WORKERS: usize = 1_000;

struct Micro<'a, 'b> {
    group: &'a mut BenchmarkGroup<'b, WallTime>,
    tokio: tokio::runtime::Runtime,
}

fn next_key(i: &Cell<usize>) -> usize {
    let k = i.get().wrapping_mul(0x9E37_79B9) % WORKERS;
    i.set(i.get() + 1);
    k
}

impl Visitor for Micro<'_, '_> {
    fn visit<C: Contender>(&mut self, c: &C) {
        if !c.workloads().contains(&"routing") {
            return;
        }
        let rt = Runtime::new();
        let Ok(naming) = self.tokio.block_on(c.make(&rt, WORKERS)) else {
            return;
        };
        let names = Arc::new(id_names(WORKERS));
        let workers = self.tokio.block_on(start_workers(&rt, WORKERS));
        let naming = match self.tokio.block_on(C::adopt(naming, &names, &workers)) {
            Ok(n) => n,
            Err(reason) => {
                eprintln!("routing micro: {} skipped: {reason}", c.label());
                return;
            }
        };
        let i = Cell::new(0usize);
        self.group
            .bench_function(BenchmarkId::new(c.label(), WORKERS), |b| {
                b.to_async(&self.tokio).iter(|| {
                    let k = next_key(&i);
                    let (naming, names) = (&naming, &names);
                    async move { naming.call::<u64, u64>(&names[k], 1, CALL_TIMEOUT).await }
                })
            });
        for w in &workers {
            w.kill();
        }
    }
}

type RawRequest = (u64, oneshot::Sender<u64>);

fn main() {
    common::bench_main("routing", Some("routing"), |c| {
        let mut group = c.benchmark_group("routing");
        let tokio = common::current_thread();
        // Floors first: a call to a pid already held, and a bare mpsc send + oneshot reply.
        let rt = Runtime::new();
        let workers = tokio.block_on(start_workers(&rt, WORKERS));
        let i = Cell::new(0usize);
        group.bench_function(BenchmarkId::new(DIRECT_CALL.label, WORKERS), |b| {
            b.to_async(&tokio).iter(|| {
                let k = next_key(&i);
                let w = &workers[k];
                async move { w.call::<u64, u64>(1, CALL_TIMEOUT).await }
            })
        });
        let senders: Vec<mpsc::UnboundedSender<RawRequest>> = tokio.block_on(async {
            (0..WORKERS)
                .map(|_| {
                    let (tx, mut rx) = mpsc::unbounded_channel::<RawRequest>();
                    tokio::spawn(async move {
                        while let Some((n, reply)) = rx.recv().await {
                            let _ = reply.send(n + 1);
                        }
                    });
                    tx
                })
                .collect()
        });
        group.bench_function(BenchmarkId::new(TOKIO_MPSC_ONESHOT.label, WORKERS), |b| {
            b.to_async(&tokio).iter(|| {
                let k = next_key(&i);
                let (tx, rx) = oneshot::channel();
                let _ = senders[k].send((1, tx));
                rx
            })
        });
        let mut micro = Micro {
            group: &mut group,
            tokio,
        };
        contenders::for_each(&mut micro);
        group.finish();
        for w in &workers {
            w.kill();
        }
    });
}

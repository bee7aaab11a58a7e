//! fanout: criterion's dispatch to 100 group members per backend that has groups, then the
//! fan-out workload (1 .. 10,000 members) to results/.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId};
use naming_bench::alloc::CountingAlloc;
use naming_bench::contenders::{self, Contender, Visitor};
use naming_strategies::runtime::{Ctx, Envelope, Name, Runtime};
use naming_strategies::{Capability, Naming};
use tokio::sync::Notify;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const MEMBERS: usize = 100;

#[derive(Clone)]
struct Ping;

struct Micro<'a, 'b> {
    group: &'a mut BenchmarkGroup<'b, WallTime>,
    tokio: tokio::runtime::Runtime,
}

impl Visitor for Micro<'_, '_> {
    fn visit<C: Contender>(&mut self, c: &C) {
        if !c.workloads().contains(&"fanout") {
            return;
        }
        let rt = Runtime::new();
        let Ok(naming) = self.tokio.block_on(c.make(&rt, MEMBERS)) else {
            return;
        };
        if !naming.capabilities().has(Capability::DuplicateKeys) {
            eprintln!(
                "fanout micro: {} skipped: no duplicate keys or properties",
                c.label()
            );
            return;
        }
        let remaining = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(Notify::new());
        let group = Name::tagged("group", 1);
        let members: Vec<_> = self.tokio.block_on(async {
            let mut members = Vec::new();
            for _ in 0..MEMBERS {
                let (remaining, done) = (remaining.clone(), done.clone());
                let m = rt.spawn(move |mut ctx: Ctx| async move {
                    loop {
                        if let Envelope::Info(m) = ctx.recv().await {
                            if m.is::<Ping>() && remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                                done.notify_one();
                            }
                        }
                    }
                });
                let _ = naming.join(group.clone(), &m).await;
                members.push(m);
            }
            members
        });
        self.group
            .bench_function(BenchmarkId::new(c.label(), MEMBERS), |b| {
                b.to_async(&self.tokio).iter(|| {
                    let (naming, group, remaining, done) = (&naming, &group, &remaining, &done);
                    async move {
                        remaining.store(MEMBERS, Ordering::Release);
                        let _ = naming.dispatch(group, Ping).await;
                        done.notified().await;
                    }
                })
            });
        for m in &members {
            m.kill();
        }
    }
}

fn main() {
    common::bench_main("fanout", Some("fanout"), |c| {
        let mut group = c.benchmark_group("fanout");
        let mut micro = Micro {
            group: &mut group,
            tokio: common::current_thread(),
        };
        contenders::for_each(&mut micro);
        group.finish();
    });
}

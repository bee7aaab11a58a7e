//! A call to a held pid beside a bare tokio mpsc send + oneshot reply, in one process, for
//! profiling the runtime's call path (the `runtime` workload measures the same pair).
//!
//! `--workers` servers of each kind are started; then batches of `--batch` round trips
//! alternate, the bare one and then the runtime's call (each cycling over its servers),
//! each batch inside a task, and the ratio is taken per pair of batches.
//!
//! ```text
//! cargo run --release -p naming-strategies --example call_profile -- \
//!     [call|bare] [--current-thread] [--threads T] [--seconds S] [--batch N] [--workers W]
//!     [--touch] [--churn] [--sequential]
//! ```
//!
//! `bare` puts the floor on both sides (the harness's own noise). `--touch` clones and drops
//! every server's handle from the main thread after each pair, as lookups through a registry
//! would, for 60 ms; `--churn` spawns and stops processes for 60 ms after each pair.
//!
//! Both sides visit their servers in one shuffled order, as the workload's do;
//! `--sequential` visits them in the order they were started instead, a fixed stride
//! through memory that lets the hardware prefetcher hide some of either side's misses.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_strategies::runtime::{Ctx, GenServer, ProcessRef, Runtime};
use tokio::sync::{mpsc, oneshot};

mod pairs;
use pairs::{number, options_or_exit, tokio_or_exit, Pairs};

/// A server answering `n` with `n + 1`.
struct Echo;

impl GenServer for Echo {
    type Call = u64;
    type Reply = u64;
    type Cast = ();

    async fn handle_call(&mut self, n: u64, _ctx: &mut Ctx) -> u64 {
        n.wrapping_add(1)
    }
}

type BareRequest = (u64, oneshot::Sender<u64>);

struct Options {
    call: bool,
    current_thread: bool,
    threads: usize,
    seconds: f64,
    batch: u64,
    workers: usize,
    touch: bool,
    churn: bool,
    sequential: bool,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        call: true,
        current_thread: false,
        threads: 2,
        seconds: 5.0,
        batch: 2_000,
        workers: 10_000,
        touch: false,
        churn: false,
        sequential: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "call" => o.call = true,
            "bare" => o.call = false,
            "--current-thread" => o.current_thread = true,
            "--touch" => o.touch = true,
            "--churn" => o.churn = true,
            "--sequential" => o.sequential = true,
            "--threads" => o.threads = number(&value("--threads")?)?,
            "--seconds" => o.seconds = number(&value("--seconds")?)?,
            "--batch" => o.batch = number(&value("--batch")?)?,
            "--workers" => o.workers = number(&value("--workers")?)?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.batch == 0 || o.workers == 0 || o.threads == 0 || o.seconds.is_nan() || o.seconds <= 0.0 {
        return Err("--batch, --workers, --threads and --seconds must be positive".into());
    }
    Ok(o)
}

async fn bare_batch(servers: &[mpsc::UnboundedSender<BareRequest>], n: u64) -> Duration {
    let t = Instant::now();
    for i in 0..n as usize {
        let (tx, rx) = oneshot::channel();
        let _ = servers[i % servers.len()].send((i as u64, tx));
        black_box(rx.await.ok());
    }
    t.elapsed()
}

async fn call_batch(workers: &[ProcessRef], n: u64) -> Duration {
    let t = Instant::now();
    for i in 0..n as usize {
        let r = workers[i % workers.len()]
            .call::<u64, u64>(i as u64, Duration::from_secs(5))
            .await;
        black_box(r.ok());
    }
    t.elapsed()
}

/// `0..n` in a fixed shuffled order (Fisher-Yates over SplitMix64).
fn shuffled_indices(n: usize) -> Vec<usize> {
    let mut state = 0x5EED_CA11u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = ((next() as u128 * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    order
}

fn main() {
    let o = options_or_exit("call_profile", parse());
    let tokio = tokio_or_exit("call_profile", o.current_thread, o.threads);
    let rt = Runtime::new();
    let (workers, servers) = tokio.block_on(async {
        let mut workers = Vec::with_capacity(o.workers);
        for _ in 0..o.workers {
            match rt.start(Echo).await {
                Ok(s) => workers.push(s.process().clone()),
                Err(e) => {
                    eprintln!("call_profile: starting a server: {e:?}");
                    std::process::exit(1);
                }
            }
        }
        let servers: Vec<_> = (0..o.workers)
            .map(|_| {
                let (tx, mut rx) = mpsc::unbounded_channel::<BareRequest>();
                tokio::spawn(async move {
                    while let Some((n, reply)) = rx.recv().await {
                        let _ = reply.send(n + 1);
                    }
                });
                tx
            })
            .collect();
        (workers, servers)
    });
    let (workers, servers) = if o.sequential {
        (workers, servers)
    } else {
        let order = shuffled_indices(o.workers);
        (
            order.iter().map(|&i| workers[i].clone()).collect(),
            order.iter().map(|&i| servers[i].clone()).collect(),
        )
    };
    let (workers, servers) = (Arc::new(workers), Arc::new(servers));
    let started = Instant::now();
    let mut pairs = Pairs::default();
    while started.elapsed().as_secs_f64() < o.seconds {
        let (floor, measured) = {
            let (w, s, call, n) = (workers.clone(), servers.clone(), o.call, o.batch);
            let pair = tokio.block_on(async move {
                tokio::spawn(async move {
                    let floor = bare_batch(&s, n).await;
                    let measured = if call {
                        call_batch(&w, n).await
                    } else {
                        bare_batch(&s, n).await
                    };
                    (floor, measured)
                })
                .await
            });
            let Ok((floor, measured)) = pair else {
                eprintln!("call_profile: a batch panicked");
                std::process::exit(1);
            };
            let per_op = |d: Duration| d / o.batch as u32;
            (per_op(floor), per_op(measured))
        };
        if o.touch {
            // As a registry's lookups would between rounds: count references to the
            // servers from this thread, and drop them, for 60 ms.
            let t = Instant::now();
            let mut i = 0;
            while t.elapsed() < Duration::from_millis(60) {
                for _ in 0..1000 {
                    black_box(workers[i % workers.len()].clone());
                    i += 1;
                }
            }
        }
        if o.churn {
            // As the workload's spawn phases would: spawn and stop processes for 60 ms.
            let rt = rt.clone();
            tokio
                .block_on(async move {
                    tokio::spawn(async move {
                        let t = Instant::now();
                        while t.elapsed() < Duration::from_millis(60) {
                            for _ in 0..100 {
                                let p = rt.spawn(|mut ctx: Ctx| async move {
                                    ctx.recv().await;
                                    naming_strategies::runtime::ExitReason::Normal
                                });
                                p.kill();
                                p.into_exited().await;
                            }
                        }
                    })
                    .await
                })
                .ok();
        }
        let ns = |d: Duration| d.as_nanos() as f64;
        pairs.push(ns(floor), ns(measured));
    }
    pairs.print();
}

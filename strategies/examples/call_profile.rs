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
//! ```
//!
//! `bare` puts the floor on both sides (the harness's own noise).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_strategies::runtime::{Ctx, GenServer, ProcessRef, Runtime};
use tokio::sync::{mpsc, oneshot};

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
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        call: true,
        current_thread: false,
        threads: 2,
        seconds: 5.0,
        batch: 2_000,
        workers: 10_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "call" => o.call = true,
            "bare" => o.call = false,
            "--current-thread" => o.current_thread = true,
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

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("not a number: {text:?}"))
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

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("call_profile: {e}");
            std::process::exit(2);
        }
    };
    let built = if o.current_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(o.threads)
            .enable_all()
            .build()
    };
    let tokio = match built {
        Ok(t) => t,
        Err(e) => {
            eprintln!("call_profile: starting tokio: {e}");
            std::process::exit(1);
        }
    };
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
    let (workers, servers) = (Arc::new(workers), Arc::new(servers));
    let started = Instant::now();
    let (mut floors, mut ours, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    while started.elapsed().as_secs_f64() < o.seconds {
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
        let per_op = |d: Duration| d.as_nanos() as f64 / o.batch as f64;
        floors.push(per_op(floor));
        ours.push(per_op(measured));
        ratios.push(per_op(measured) / per_op(floor));
    }
    for v in [&mut floors, &mut ours, &mut ratios] {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    let at = |v: &[f64], q: usize| v.get(v.len() * q / 4).copied().unwrap_or(f64::NAN);
    println!(
        "floor {:.0} ns, measured {:.0} ns, ratio median {:.2} (quartiles {:.2}..{:.2}), {} pairs",
        at(&floors, 2),
        at(&ours, 2),
        at(&ratios, 2),
        at(&ratios, 1),
        at(&ratios, 3),
        ratios.len()
    );
}

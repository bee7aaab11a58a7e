//! Spawn named + stop beside tokio spawn + abort, in one process, for profiling the
//! runtime's spawn and exit paths (the `runtime` workload measures the same pair).
//!
//! A registry and the process table are first filled with `--prefill` named workers; then
//! batches of `--batch` iterations alternate, tokio spawn + abort (awaited) and then the
//! runtime's own (spawn, register under a fresh id, kill, await `exited()`), each batch
//! inside a task, and the ratio is taken per pair of batches.
//!
//! ```text
//! cargo run --release -p naming-strategies --example spawn_stop_profile -- \
//!     [named|unnamed|tokio] [--current-thread] [--seconds S] [--rounds R] [--batch N] [--prefill P]
//! ```
//!
//! `--current-thread` runs on a current-thread runtime, where no thread wake-ups blur the
//! time; `--rounds` fixes the number of batch pairs (for instruction counts under
//! `valgrind --tool=cachegrind`, take the difference between two round counts).

use std::time::{Duration, Instant};

use naming_strategies::runtime::{Ctx, ExitReason, Name, Runtime};
use naming_strategies::{DashMapTable, Registry, SyncNaming};

mod pairs;
use pairs::{number, options_or_exit, tokio_or_exit, Pairs};

/// What the measured side of each pair does.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Spawn, register under a fresh id, kill, await `exited()`.
    Named,
    /// The same without the name.
    Unnamed,
    /// tokio spawn + abort again (both sides the floor: the harness's own noise).
    Tokio,
}

struct Options {
    mode: Mode,
    current_thread: bool,
    seconds: f64,
    rounds: Option<usize>,
    batch: u64,
    prefill: u64,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        mode: Mode::Named,
        current_thread: false,
        seconds: 5.0,
        rounds: None,
        batch: 2_000,
        prefill: 10_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "named" => o.mode = Mode::Named,
            "unnamed" => o.mode = Mode::Unnamed,
            "tokio" => o.mode = Mode::Tokio,
            "--current-thread" => o.current_thread = true,
            "--seconds" => o.seconds = number(&value("--seconds")?)?,
            "--rounds" => o.rounds = Some(number(&value("--rounds")?)?),
            "--batch" => o.batch = number(&value("--batch")?)?,
            "--prefill" => o.prefill = number(&value("--prefill")?)?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.batch == 0 || o.seconds.is_nan() || o.seconds <= 0.0 {
        return Err("--batch and --seconds must be positive".into());
    }
    Ok(o)
}

async fn idle(mut ctx: Ctx) -> ExitReason {
    ctx.recv().await;
    ExitReason::Normal
}

/// One batch of `n` iterations of `mode` (the floor for `Mode::Tokio`), its elapsed time.
async fn batch(
    mode: Mode,
    rt: &Runtime,
    reg: &Registry<DashMapTable>,
    base: u64,
    n: u64,
) -> Duration {
    let t = Instant::now();
    for i in 0..n {
        if mode == Mode::Tokio {
            let task = tokio::spawn(std::future::pending::<()>());
            task.abort();
            let _ = task.await;
        } else {
            let p = rt.spawn(idle);
            if mode == Mode::Named {
                let _ = reg.register_sync(Name::Id(base + i), &p);
            }
            p.kill();
            p.into_exited().await;
        }
    }
    t.elapsed()
}

fn main() {
    let o = options_or_exit("spawn_stop_profile", parse());
    let tokio = tokio_or_exit("spawn_stop_profile", o.current_thread, 2);
    let rt = Runtime::new();
    let reg: Registry<DashMapTable> = Registry::with_capacity(1, o.prefill as usize);
    let _workers: Vec<_> = tokio.block_on(async {
        (0..o.prefill)
            .map(|i| {
                let p = rt.spawn(idle);
                let _ = reg.register_sync(Name::Id((1 << 50) | i), &p);
                p
            })
            .collect()
    });
    let started = Instant::now();
    let mut pairs = Pairs::default();
    let mut base = 0u64;
    while o
        .rounds
        .map_or(started.elapsed().as_secs_f64() < o.seconds, |r| {
            pairs.len() < r
        })
    {
        let (rt, reg, mode, n) = (rt.clone(), reg.clone(), o.mode, o.batch);
        let pair = tokio.block_on(async move {
            tokio::spawn(async move {
                let floor = batch(Mode::Tokio, &rt, &reg, base, n).await;
                let measured = batch(mode, &rt, &reg, base, n).await;
                (floor, measured)
            })
            .await
        });
        let Ok((floor, measured)) = pair else {
            eprintln!("spawn_stop_profile: a batch panicked");
            std::process::exit(1);
        };
        base += o.batch;
        let per_op = |d: Duration| d.as_nanos() as f64 / o.batch as f64;
        pairs.push(per_op(floor), per_op(measured));
    }
    pairs.print();
}

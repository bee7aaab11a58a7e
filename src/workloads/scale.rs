//! scale: register N names serially and from T tasks; bytes per name; time to release them
//! all; named starts as fast as possible (the shape of Elixir's own Registry benchmark).

use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_schema::{
    Better, Chart, Column, Extreme, Judge, Line, Metric, Params, Row, Situation, Subject, Sweep,
    Unit, Workload,
};
use naming_strategies::runtime::{Ctx, ExitReason, Name, ProcessRef, Runtime, StartOpts};
use naming_strategies::{via, Naming};

use super::common::{
    self, gauge_rows, id_names, kill_all, make_or_skip, median_of_rounds, register_all, run_on,
    start_workers, tokio_runtime, wait_until, Worker,
};
use super::Progress;
use crate::alloc::{counted_bytes, flush_deferred_frees, Counting};
use crate::contenders::Contender;

/// Time per registration while registering N names (from `tasks` tasks).
pub const REGISTER_NS: Metric =
    Metric::new("register_ns", "registration time", Unit::Ns, Better::Lower);
/// Heap bytes per registered name (counting allocator, the backend's own reservation
/// included), measured in its own untimed pass: serial registration (`tasks` = 1) on a
/// fresh backend, counted from after the deferred frees of the set-up have landed. A
/// negative figure is a measurement error and written as a skip row, never as a value.
pub const BYTES_PER_NAME: Metric = Metric::new(
    "bytes_per_name",
    "heap bytes per name",
    Unit::Bytes,
    Better::Lower,
);
/// Time from every holder being killed until the backend holds no names.
pub const RELEASE_ALL_NS: Metric = Metric::new(
    "release_all_ns",
    "time to release every name",
    Unit::Ns,
    Better::Lower,
);
/// Names still held 30 s after every holder exited (written only when some are).
pub const NAMES_LEFT_AFTER_RELEASE: Metric = Metric::must_be_zero(
    "names_left_after_release",
    "names left after every holder exited",
);
/// Time per named start (spawn + register + init).
pub const START_NAMED_NS: Metric = Metric::new(
    "start_named_ns",
    "named start time",
    Unit::Ns,
    Better::Lower,
);
/// Time per register + unregister pair on one held process (a short-lived session).
pub const REGISTER_UNREGISTER_NS: Metric = Metric::new(
    "register_unregister_ns",
    "register + unregister time",
    Unit::Ns,
    Better::Lower,
);

/// The scale workload: registering many names, their memory, releasing them all, named
/// starts, and the cost of a register + unregister pair.
pub const SCALE: Workload = Workload {
    metrics: &[
        &REGISTER_NS,
        &BYTES_PER_NAME,
        &RELEASE_ALL_NS,
        &NAMES_LEFT_AFTER_RELEASE,
        &START_NAMED_NS,
        &REGISTER_UNREGISTER_NS,
        &common::ATOM_COUNT,
        &common::ATOM_BYTES,
        &common::STALE_LOOKUPS,
        &common::TRACKED_PROCESSES,
        &common::AWAITING,
    ],
    charts: &[
        Chart::Sweep(Sweep {
            caption: "Heap bytes per registered name (counting allocator, on only for this untimed pass; serial registration), against the number of names.",
            x_desc: "registered names N (count)",
            y_desc: "heap bytes per name (bytes)",
            split_by: &["tasks"],
            ..Sweep::new(
                "scale-bytes",
                "Memory per registered name",
                "names",
                &[Line::solid(&BYTES_PER_NAME)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Time per registration in nanoseconds, against the number of names.",
            x_desc: "registered names N (count)",
            y_desc: "time per registration (ns)",
            split_by: &["tasks"],
            ..Sweep::new(
                "scale-register",
                "Registration time vs names",
                "names",
                &[Line::solid(&REGISTER_NS)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Time to register and then unregister one name (a short-lived session), in nanoseconds, averaged over that many pairs in a row.",
            x_desc: "register + unregister pairs in a row (count)",
            y_desc: "time per register+unregister (ns)",
            ..Sweep::new(
                "scale-register-unregister",
                "Register + unregister (a short-lived session)",
                "pairs",
                &[Line::solid(&REGISTER_UNREGISTER_NS)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Time for every holder to exit and its name to be released, in nanoseconds.",
            x_desc: "registered names N (count)",
            y_desc: "time to release all names (ns)",
            split_by: &["tasks"],
            ..Sweep::new(
                "scale-release-all",
                "Releasing every name",
                "names",
                &[Line::solid(&RELEASE_ALL_NS)],
            )
        }),
    ],
    columns: &[
        Column::new(&BYTES_PER_NAME, "memory per name"),
        Column::new(&REGISTER_NS, "register"),
        Column::new(&REGISTER_UNREGISTER_NS, "register+unregister"),
    ],
    judges: &[
        Judge {
            situation: Situation::ManySessions,
            rank: 0,
            metric: &REGISTER_UNREGISTER_NS,
            at: ("pairs", Extreme::Max),
            prefer: &[],
            tiebreak: None,
        },
        Judge {
            situation: Situation::ManySessions,
            rank: 1,
            metric: &REGISTER_NS,
            at: ("names", Extreme::Max),
            prefer: &[],
            tiebreak: None,
        },
        Judge {
            situation: Situation::VeryManyNames,
            rank: 0,
            metric: &BYTES_PER_NAME,
            at: ("names", Extreme::Max),
            prefer: &[],
            tiebreak: Some(&REGISTER_NS),
        },
    ],
    ..Workload::new(
        "scale",
        "Scale",
        "N names registered serially and from several tasks (timed with the counting allocator off), and in a separate untimed pass the heap bytes they take; every holder killed and the time until the backend holds none; N named starts as fast as possible (the shape of Elixir's own Registry benchmark); and register + unregister pairs on one held process. The timed phases run several rounds (5 in quick mode, 3 in full up to 100,000 names, 1 beyond), each on fresh workers and a fresh backend, and the median round is the figure.",
        Subject::NamingBackends,
    )
};

/// What the scale workload measures.
#[derive(Clone, Debug)]
pub struct ScaleSpec {
    /// Numbers of names.
    pub sizes: Vec<usize>,
    /// Numbers of registering tasks.
    pub tasks: Vec<usize>,
    /// Named starts are measured up to this many names.
    pub max_named_starts: usize,
    /// Registration from more than one task is measured up to this many names (the
    /// largest sizes run serially only, to keep the full run within its time budget).
    pub max_concurrent_size: usize,
    /// Register + unregister pairs for the pair cost.
    pub pairs: usize,
    /// In-process rounds of each timed (size, tasks) point up to `max_concurrent_size`
    /// names (one round past it); the median is the figure ([`median_of_rounds`]).
    pub rounds: usize,
}

impl ScaleSpec {
    /// The full run.
    pub fn full(tasks: Vec<usize>) -> Self {
        ScaleSpec {
            sizes: vec![1_000, 10_000, 100_000, 1_000_000],
            tasks,
            max_named_starts: 100_000,
            max_concurrent_size: 100_000,
            pairs: 200_000,
            rounds: 3,
        }
    }

    /// The quick run.
    pub fn quick(tasks: Vec<usize>) -> Self {
        ScaleSpec {
            sizes: vec![100, 1_000, 10_000],
            tasks,
            max_named_starts: 10_000,
            max_concurrent_size: 10_000,
            pairs: 50_000,
            rounds: 5,
        }
    }

    /// A tiny run for tests.
    pub fn tiny() -> Self {
        ScaleSpec {
            sizes: vec![64],
            tasks: vec![1, 2],
            max_named_starts: 64,
            max_concurrent_size: 64,
            pairs: 64,
            rounds: 1,
        }
    }
}

/// Runs the scale workload for one contender.
pub fn scale<C: Contender>(contender: &C, spec: &ScaleSpec, progress: &dyn Progress) -> Vec<Row> {
    let label = contender.label();
    let mut rows = Vec::new();
    let threads = spec.tasks.iter().copied().max().unwrap_or(1);
    for &size in &spec.sizes {
        progress.step(&format!("scale {label} names={size} memory"));
        rows.extend(bytes_per_name(contender, size));
        for &tasks in &spec.tasks {
            if tasks > 1 && size > spec.max_concurrent_size {
                continue;
            }
            progress.step(&format!("scale {label} names={size} tasks={tasks}"));
            let p = Params::new().with("names", size).with("tasks", tasks);
            let named_starts = size <= spec.max_named_starts;
            // Past the concurrent sizes a round takes seconds and its timing is no one-shot:
            // one round there keeps the full run within its budget.
            let rounds = if size <= spec.max_concurrent_size {
                spec.rounds.max(1)
            } else {
                1
            };
            let rounds = (0..rounds)
                .map(|_| scale_round(contender, size, tasks, threads, named_starts, &p))
                .collect();
            rows.extend(median_of_rounds(rounds));
        }
    }
    // The cost of one register + unregister pair, on a held process.
    progress.step(&format!("scale {label} register+unregister"));
    let rt_tokio = tokio_runtime(1);
    let rt = Runtime::new();
    let p = Params::new().with("pairs", spec.pairs);
    match make_or_skip(&SCALE, contender, &rt_tokio, &rt, 64, &p) {
        Err(skip) => rows.push(*skip),
        Ok(naming) => {
            let pairs = spec.pairs;
            rows.push(run_on(&rt_tokio, async move {
                match register_unregister_pairs(&rt, naming, id_names(64), pairs as u64).await {
                    Ok(elapsed) => {
                        let ns = elapsed.as_nanos() as f64 / pairs as f64;
                        SCALE.row(label, &p, &REGISTER_UNREGISTER_NS, ns)
                    }
                    Err(why) => SCALE.skip(label, &p, &why),
                }
            }));
        }
    }
    rows
}

/// One round at `size` names from `tasks` tasks: fresh workers, a fresh backend, then
/// [`register_and_release`]; a skip row if the backend cannot be made.
fn scale_round<C: Contender>(
    contender: &C,
    size: usize,
    tasks: usize,
    threads: usize,
    named_starts: bool,
    p: &Params,
) -> Vec<Row> {
    let label = contender.label();
    let rt_tokio = tokio_runtime(threads);
    let rt = Runtime::new();
    let workers = Arc::new(run_on(&rt_tokio, {
        let rt = rt.clone();
        async move { start_workers(&rt, size).await }
    }));
    let naming = match make_or_skip(&SCALE, contender, &rt_tokio, &rt, size, p) {
        Ok(n) => n,
        Err(skip) => {
            run_on(&rt_tokio, async move { kill_all(&workers).await });
            return vec![*skip];
        }
    };
    let p = p.clone();
    run_on(&rt_tokio, async move {
        register_and_release(label, &p, naming, rt, workers, tasks, named_starts).await
    })
}

/// Times `pairs` register + unregister pairs, cycling through `names`, done by one process
/// on itself (only the owner may unregister, with its own `Ctx`), and returns the time they
/// took; the first error, as text, if one failed. The process exits when done.
pub async fn register_unregister_pairs<N: Naming>(
    rt: &Runtime,
    naming: N,
    names: Vec<Name>,
    pairs: u64,
) -> Result<Duration, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let worker = rt.spawn(move |ctx: Ctx| async move {
        let me = ctx.me().clone();
        let start = Instant::now();
        let mut outcome = Ok(());
        for i in 0..pairs {
            let name = &names[i as usize % names.len()];
            if let Err(e) = naming.register(name.clone(), &me).await {
                outcome = Err(format!("register: {e}"));
                break;
            }
            if let Err(e) = naming.unregister(name, &ctx).await {
                outcome = Err(format!("unregister: {e}"));
                break;
            }
        }
        let _ = tx.send(outcome.map(|()| start.elapsed()));
        ExitReason::Normal
    });
    let result = rx.await;
    worker.exited().await;
    result.unwrap_or_else(|_| Err("the registering process died".to_string()))
}

/// Bytes per name at `size` names, in its own untimed pass (params `names`, `tasks` = 1):
/// workers first, then the deferred frees of the set-up flushed, then counting on and the
/// baseline read, then the backend made (so the memory it sets aside for `size` names
/// counts) and every name registered serially, then the deferred frees flushed again and
/// the second reading. Nothing is timed while counting is on. No row without the counting
/// allocator; a skip row if the figure comes out negative.
fn bytes_per_name<C: Contender>(contender: &C, size: usize) -> Vec<Row> {
    let label = contender.label();
    let p = Params::new().with("names", size).with("tasks", 1);
    if counted_bytes().is_none() {
        return Vec::new();
    }
    let rt_tokio = tokio_runtime(1);
    let rt = Runtime::new();
    let workers = run_on(&rt_tokio, {
        let rt = rt.clone();
        async move { start_workers(&rt, size).await }
    });
    let names = id_names(size);
    run_on(&rt_tokio, flush_deferred_frees());
    let counting = Counting::start();
    let before = counted_bytes();
    let naming = match make_or_skip(&SCALE, contender, &rt_tokio, &rt, size, &p) {
        Ok(n) => n,
        Err(skip) => {
            drop(counting);
            run_on(&rt_tokio, async move { kill_all(&workers).await });
            return vec![*skip];
        }
    };
    let (registered, after, workers, naming) = run_on(&rt_tokio, async move {
        let registered = register_all(&naming, &names, &workers).await;
        flush_deferred_frees().await;
        (registered, counted_bytes(), workers, naming)
    });
    drop(counting);
    run_on(&rt_tokio, async move {
        kill_all(&workers).await;
        drop(naming);
    });
    let skip_p = p.clone().with("phase", "bytes_per_name");
    if let Err(reason) = registered {
        return vec![SCALE.skip(label, &skip_p, &reason)];
    }
    let (Some(before), Some(after)) = (before, after) else {
        return Vec::new();
    };
    let per_name = (after - before) as f64 / size as f64;
    if per_name < 0.0 {
        return vec![SCALE.skip(
            label,
            &skip_p,
            &format!("measurement error: negative bytes per name ({per_name:.1})"),
        )];
    }
    vec![SCALE.row(label, &p, &BYTES_PER_NAME, per_name)]
}

#[allow(clippy::too_many_arguments)]
async fn register_and_release<N: Naming>(
    label: &str,
    p: &Params,
    naming: N,
    rt: Runtime,
    workers: Arc<Vec<ProcessRef>>,
    tasks: usize,
    named_starts: bool,
) -> Vec<Row> {
    let size = workers.len();
    let row = |metric: &Metric, value: f64| SCALE.row(label, p, metric, value);
    let names = Arc::new(id_names(size));
    let start = Instant::now();
    let chunk = size.div_ceil(tasks);
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (naming, names, workers) = (naming.clone(), names.clone(), workers.clone());
            tokio::spawn(async move {
                for i in (t * chunk)..((t + 1) * chunk).min(names.len()) {
                    if let Err(e) = naming.register(names[i].clone(), &workers[i]).await {
                        return Err(format!("register: {e}"));
                    }
                }
                Ok(())
            })
        })
        .collect();
    let mut failure = None;
    for h in handles {
        match h.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(e.to_string()),
        }
    }
    let register_ns = start.elapsed().as_nanos() as f64 / size as f64;
    if let Some(reason) = failure {
        kill_all(&workers).await;
        return vec![SCALE.skip(label, p, &reason)];
    }
    let mut rows = vec![row(&REGISTER_NS, register_ns)];
    rows.extend(gauge_rows(&SCALE, label, p, naming.gauges()));
    // Release: every owner exits; time until the backend holds no names.
    let start = Instant::now();
    kill_all(&workers).await;
    let released = wait_until(Duration::from_secs(30), || {
        let naming = naming.clone();
        async move { naming.registered_count().await == 0 }
    })
    .await;
    if released {
        rows.push(row(&RELEASE_ALL_NS, start.elapsed().as_nanos() as f64));
    } else {
        rows.push(row(
            &NAMES_LEFT_AFTER_RELEASE,
            naming.registered_count().await as f64,
        ));
    }
    // Named starts: spawn + register + init, as fast as possible from `tasks` tasks.
    if named_starts {
        let start = Instant::now();
        let chunk = size.div_ceil(tasks);
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let (naming, rt) = (naming.clone(), rt.clone());
                tokio::spawn(async move {
                    let mut started = Vec::new();
                    for i in (t * chunk)..((t + 1) * chunk).min(size) {
                        let opts = StartOpts {
                            register: Some(via(&naming, Name::tagged("scale", i as u64))),
                            ..StartOpts::default()
                        };
                        match rt.start_opts(Worker::plain(), opts).await {
                            Ok(s) => started.push(s.process().clone()),
                            Err(e) => return (started, Some(e.to_string())),
                        }
                    }
                    (started, None)
                })
            })
            .collect();
        let mut all = Vec::new();
        let mut failure = None;
        for h in handles {
            if let Ok((started, err)) = h.await {
                all.extend(started);
                failure = failure.or(err);
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / size as f64;
        match failure {
            None => rows.push(row(&START_NAMED_NS, ns)),
            Some(reason) => {
                rows.push(SCALE.skip(label, &p.clone().with("phase", "start_named"), &reason))
            }
        }
        kill_all(&all).await;
    }
    rows
}

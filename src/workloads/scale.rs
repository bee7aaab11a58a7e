//! scale: register N names serially and from T tasks; bytes per name; time to release them
//! all; named starts as fast as possible (the shape of Elixir's own Registry benchmark).

use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_strategies::runtime::{Name, ProcessRef, Runtime, StartOpts};
use naming_strategies::{via, Naming};

use super::common::{
    id_names, kill_all, params, run_on, start_workers, tokio_runtime, wait_until, Worker,
};
use super::Progress;
use crate::alloc::live_bytes;
use crate::contenders::Contender;
use crate::results::Row;

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
        }
    }

    /// The quick run.
    pub fn quick(tasks: Vec<usize>) -> Self {
        ScaleSpec {
            sizes: vec![1_000, 10_000],
            tasks,
            max_named_starts: 10_000,
            max_concurrent_size: 10_000,
            pairs: 50_000,
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
        }
    }
}

/// Runs the scale workload for one contender.
pub fn scale<C: Contender>(contender: &C, spec: &ScaleSpec, progress: &dyn Progress) -> Vec<Row> {
    let label = contender.label();
    let mut rows = Vec::new();
    let threads = spec.tasks.iter().copied().max().unwrap_or(1);
    for &size in &spec.sizes {
        for &tasks in &spec.tasks {
            if tasks > 1 && size > spec.max_concurrent_size {
                continue;
            }
            progress.step(&format!("scale {label} names={size} tasks={tasks}"));
            let p = params(&[("names", size.to_string()), ("tasks", tasks.to_string())]);
            let rt_tokio = tokio_runtime(threads);
            let rt = Runtime::new();
            // Workers first; then the memory baseline; then the backend, so that the
            // memory it sets aside for `size` names counts towards its bytes per name.
            let workers = Arc::new(run_on(&rt_tokio, {
                let rt = rt.clone();
                async move { start_workers(&rt, size).await }
            }));
            let bytes0 = run_on(&rt_tokio, async {
                // Let frees still in flight from the set-up land before the baseline is read.
                tokio::time::sleep(Duration::from_millis(20)).await;
                live_bytes()
            });
            let naming = match rt_tokio.block_on(contender.make(&rt, size)) {
                Ok(n) => n,
                Err(reason) => {
                    rows.push(Row::skipped(label, "scale", &p, &reason));
                    run_on(&rt_tokio, async move { kill_all(&workers).await });
                    continue;
                }
            };
            let named_starts = size <= spec.max_named_starts;
            rows.extend(run_on(&rt_tokio, async move {
                register_and_release(label, &p, naming, rt, workers, bytes0, tasks, named_starts)
                    .await
            }));
        }
    }
    // The cost of one register + unregister pair, on a held process.
    progress.step(&format!("scale {label} register+unregister"));
    let rt_tokio = tokio_runtime(1);
    let rt = Runtime::new();
    let p = params(&[("pairs", spec.pairs.to_string())]);
    match rt_tokio.block_on(contender.make(&rt, 64)) {
        Err(reason) => rows.push(Row::skipped(label, "scale", &p, &reason)),
        Ok(naming) => {
            let pairs = spec.pairs;
            rows.push(run_on(&rt_tokio, async move {
                let workers = start_workers(&rt, 1).await;
                let names = id_names(64);
                let start = Instant::now();
                for i in 0..pairs {
                    let name = &names[i % names.len()];
                    if let Err(e) = naming.register(name.clone(), &workers[0]).await {
                        return Row::skipped(label, "scale", &p, &format!("register: {e}"));
                    }
                    if let Err(e) = naming.unregister(name, workers[0].pid()).await {
                        return Row::skipped(label, "scale", &p, &format!("unregister: {e}"));
                    }
                }
                let ns = start.elapsed().as_nanos() as f64 / pairs as f64;
                kill_all(&workers).await;
                Row::new(label, "scale", &p, "register_unregister_ns", ns, "ns")
            }));
        }
    }
    rows
}

#[allow(clippy::too_many_arguments)]
async fn register_and_release<N: Naming>(
    label: &str,
    p: &str,
    naming: N,
    rt: Runtime,
    workers: Arc<Vec<ProcessRef>>,
    bytes0: Option<usize>,
    tasks: usize,
    named_starts: bool,
) -> Vec<Row> {
    let size = workers.len();
    let row =
        |metric: &str, value: f64, unit: &str| Row::new(label, "scale", p, metric, value, unit);
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
    let bytes1 = live_bytes();
    if let Some(reason) = failure {
        kill_all(&workers).await;
        return vec![Row::skipped(label, "scale", p, &reason)];
    }
    let mut rows = vec![row("register_ns", register_ns, "ns")];
    if let (Some(b0), Some(b1)) = (bytes0, bytes1) {
        rows.push(row(
            "bytes_per_name",
            (b1 as f64 - b0 as f64) / size as f64,
            "bytes",
        ));
    }
    let gauges = naming.gauges();
    for (g, v) in gauges {
        rows.push(row(g, v, "count"));
    }
    // Release: every owner exits; time until the backend holds no names.
    let start = Instant::now();
    kill_all(&workers).await;
    let released = wait_until(Duration::from_secs(30), || {
        let naming = naming.clone();
        async move { naming.registered_count().await == 0 }
    })
    .await;
    if released {
        rows.push(row(
            "release_all_ns",
            start.elapsed().as_nanos() as f64,
            "ns",
        ));
    } else {
        rows.push(row(
            "names_left_after_release",
            naming.registered_count().await as f64,
            "names",
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
                            register: Some(via(&naming, Name::Tagged("scale", i as u64))),
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
            None => rows.push(row("start_named_ns", ns, "ns")),
            Some(reason) => rows.push(Row::skipped(
                label,
                "scale",
                &format!("{p};phase=start_named"),
                &reason,
            )),
        }
        kill_all(&all).await;
    }
    rows
}

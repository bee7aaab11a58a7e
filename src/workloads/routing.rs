//! routing: resolve a name and call the worker (`GenServer.call(via(id), ...)`), closed loop
//! and open loop, against a call to a pid already held and a bare tokio mpsc + oneshot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_strategies::runtime::{CallError, Name, ProcessRef, Runtime};
use naming_strategies::Naming;
use tokio::sync::{mpsc, oneshot, Barrier};

use super::common::{
    histogram, id_names, kill_all, params, run_on, start_workers, tokio_runtime, SplitMix64,
    CALL_TIMEOUT,
};
use super::Progress;
use crate::contenders::Contender;
use crate::results::Row;

/// How requests are issued.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Load {
    /// Each client sends its next request when the last one is answered.
    Closed,
    /// Requests are due at a fixed total rate (per second); latency counts from when each
    /// was due, so a slow reply delays the measurement of those behind it (no coordinated
    /// omission).
    Open(f64),
}

/// What the routing workload measures.
#[derive(Clone, Debug)]
pub struct RoutingSpec {
    /// Named workers.
    pub workers: usize,
    /// Numbers of concurrent clients.
    pub clients: Vec<usize>,
    /// Closed-loop calls per client.
    pub calls_per_client: usize,
    /// Open-loop rates (calls per second, all clients together) and how long each runs.
    pub open_rates: Vec<f64>,
    /// Duration of each open-loop run.
    pub open_duration: Duration,
}

impl RoutingSpec {
    /// The full run.
    pub fn full(clients: Vec<usize>) -> Self {
        RoutingSpec {
            workers: 10_000,
            clients,
            calls_per_client: 200_000,
            open_rates: vec![50_000.0, 200_000.0],
            open_duration: Duration::from_millis(1500),
        }
    }

    /// The quick run.
    pub fn quick(clients: Vec<usize>) -> Self {
        RoutingSpec {
            workers: 1_000,
            clients,
            calls_per_client: 50_000,
            open_rates: vec![50_000.0],
            open_duration: Duration::from_millis(700),
        }
    }

    /// A tiny run for tests.
    pub fn tiny() -> Self {
        RoutingSpec {
            workers: 20,
            clients: vec![2],
            calls_per_client: 500,
            open_rates: vec![5_000.0],
            open_duration: Duration::from_millis(100),
        }
    }
}

/// Something a client calls by key.
pub(crate) trait CallTarget: Clone + Send + Sync + 'static {
    fn call(
        &self,
        key: usize,
        n: u64,
    ) -> impl std::future::Future<Output = Result<u64, CallError>> + Send;
}

#[derive(Clone)]
struct ViaName<N> {
    naming: N,
    names: Arc<Vec<Name>>,
}

impl<N: Naming> CallTarget for ViaName<N> {
    async fn call(&self, key: usize, n: u64) -> Result<u64, CallError> {
        self.naming.call(&self.names[key], n, CALL_TIMEOUT).await
    }
}

#[derive(Clone)]
struct HeldPid(Arc<Vec<ProcessRef>>);

impl CallTarget for HeldPid {
    async fn call(&self, key: usize, n: u64) -> Result<u64, CallError> {
        self.0[key].call(n, CALL_TIMEOUT).await
    }
}

type RawRequest = (u64, oneshot::Sender<u64>);

#[derive(Clone)]
struct RawTokio(Arc<Vec<mpsc::UnboundedSender<RawRequest>>>);

impl RawTokio {
    fn start(n: usize) -> Self {
        let senders = (0..n)
            .map(|_| {
                let (tx, mut rx) = mpsc::unbounded_channel::<RawRequest>();
                tokio::spawn(async move {
                    while let Some((n, reply)) = rx.recv().await {
                        let _ = reply.send(n.wrapping_add(1));
                    }
                });
                tx
            })
            .collect();
        RawTokio(Arc::new(senders))
    }
}

impl CallTarget for RawTokio {
    async fn call(&self, key: usize, n: u64) -> Result<u64, CallError> {
        let (tx, rx) = oneshot::channel();
        self.0[key].send((n, tx)).map_err(|_| CallError::NoProc)?;
        rx.await.map_err(|_| CallError::NoProc)
    }
}

/// Runs one measurement and returns its rows.
async fn measure<T: CallTarget>(
    label: &str,
    target: &T,
    workers: usize,
    clients: usize,
    calls: usize,
    load: Load,
    duration: Duration,
) -> Vec<Row> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let per_client_calls = match load {
        Load::Closed => calls,
        Load::Open(rate) => ((rate * duration.as_secs_f64()) / clients as f64).max(1.0) as usize,
    };
    let period = match load {
        Load::Closed => Duration::ZERO,
        Load::Open(rate) => Duration::from_secs_f64(clients as f64 / rate),
    };
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (target, barrier) = (target.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut rng = SplitMix64::new(0xBEEF + c as u64);
                let mut hist = histogram();
                let mut errors = 0u64;
                barrier.wait().await;
                let start = Instant::now();
                for i in 0..per_client_calls {
                    let due = match load {
                        Load::Closed => Instant::now(),
                        Load::Open(_) => {
                            // Stagger clients within one period.
                            let due =
                                start + period * i as u32 + period * c as u32 / clients as u32;
                            if due > Instant::now() {
                                tokio::time::sleep_until(due.into()).await;
                            }
                            due
                        }
                    };
                    match target.call(rng.below(workers), i as u64).await {
                        Ok(r) if r == (i as u64).wrapping_add(1) => {}
                        _ => errors += 1,
                    }
                    let _ = hist.record(due.elapsed().as_nanos().max(1) as u64);
                }
                (hist, errors, start, Instant::now())
            })
        })
        .collect();
    barrier.wait().await;
    let mut hist = histogram();
    let mut errors = 0;
    // From the first client's start to the last client's end, as the clients saw them.
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for t in tasks {
        match t.await {
            Ok((h, e, s, end)) => {
                let _ = hist.add(&h);
                errors += e;
                first = Some(first.map_or(s, |f| f.min(s)));
                last = Some(last.map_or(end, |l| l.max(end)));
            }
            Err(_) => errors += per_client_calls as u64,
        }
    }
    let secs = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64().max(1e-9),
        _ => f64::NAN,
    };
    let mut pairs = vec![
        ("workers", workers.to_string()),
        ("clients", clients.to_string()),
    ];
    match load {
        Load::Closed => pairs.push(("mode", "closed".into())),
        Load::Open(rate) => {
            pairs.push(("mode", "open".into()));
            pairs.push(("rate", format!("{rate}")));
        }
    }
    let p = params(&pairs);
    let total = (per_client_calls * clients) as f64;
    let mut rows = vec![
        Row::new(label, "routing", &p, "ops_per_sec", total / secs, "ops/s"),
        Row::new(
            label,
            "routing",
            &p,
            "p50_ns",
            hist.value_at_quantile(0.5) as f64,
            "ns",
        ),
        Row::new(
            label,
            "routing",
            &p,
            "p99_ns",
            hist.value_at_quantile(0.99) as f64,
            "ns",
        ),
        Row::new(
            label,
            "routing",
            &p,
            "p999_ns",
            hist.value_at_quantile(0.999) as f64,
            "ns",
        ),
        Row::new(label, "routing", &p, "max_ns", hist.max() as f64, "ns"),
        Row::new(label, "routing", &p, "errors", errors as f64, "calls"),
    ];
    if let Load::Open(rate) = load {
        rows.push(Row::new(
            label,
            "routing",
            &p,
            "achieved_rate",
            total / secs,
            "ops/s",
        ));
        let _ = rate;
    }
    rows
}

async fn measure_all<T: CallTarget>(label: &str, target: T, spec: &RoutingSpec) -> Vec<Row> {
    let mut rows = Vec::new();
    for &clients in &spec.clients {
        // Warm-up, then the closed loop.
        let _ = measure(
            label,
            &target,
            spec.workers,
            clients,
            spec.calls_per_client / 10,
            Load::Closed,
            Duration::ZERO,
        )
        .await;
        rows.extend(
            measure(
                label,
                &target,
                spec.workers,
                clients,
                spec.calls_per_client,
                Load::Closed,
                Duration::ZERO,
            )
            .await,
        );
    }
    let clients = spec.clients.iter().copied().max().unwrap_or(1);
    for &rate in &spec.open_rates {
        rows.extend(
            measure(
                label,
                &target,
                spec.workers,
                clients,
                0,
                Load::Open(rate),
                spec.open_duration,
            )
            .await,
        );
    }
    rows
}

/// Calls workers through their names.
pub fn routing<C: Contender>(
    contender: &C,
    spec: &RoutingSpec,
    progress: &dyn Progress,
) -> Vec<Row> {
    let label = contender.label();
    progress.step(&format!("routing {label}"));
    let threads = spec.clients.iter().copied().max().unwrap_or(1);
    let rt_tokio = tokio_runtime(threads);
    let rt = Runtime::new();
    let naming = match rt_tokio.block_on(contender.make(&rt, spec.workers)) {
        Ok(n) => n,
        Err(reason) => {
            return vec![Row::skipped(
                label,
                "routing",
                &params(&[("workers", spec.workers.to_string())]),
                &reason,
            )]
        }
    };
    let spec = spec.clone();
    run_on(&rt_tokio, async move {
        let workers = start_workers(&rt, spec.workers).await;
        let names = Arc::new(id_names(spec.workers));
        let naming = match C::adopt(naming, &names, &workers).await {
            Ok(n) => n,
            Err(reason) => {
                kill_all(&workers).await;
                return vec![Row::skipped(
                    label,
                    "routing",
                    &params(&[("workers", spec.workers.to_string())]),
                    &reason,
                )];
            }
        };
        let rows = measure_all(label, ViaName { naming, names }, &spec).await;
        kill_all(&workers).await;
        rows
    })
}

/// The floors: a call to a held pid, and a bare tokio mpsc send + oneshot reply.
pub fn routing_floors(spec: &RoutingSpec, progress: &dyn Progress) -> Vec<Row> {
    progress.step("routing floors");
    let threads = spec.clients.iter().copied().max().unwrap_or(1);
    let rt_tokio = tokio_runtime(threads);
    let spec = spec.clone();
    run_on(&rt_tokio, async move {
        let rt = Runtime::new();
        let workers = start_workers(&rt, spec.workers).await;
        let mut rows = measure_all(
            "floor-direct-call",
            HeldPid(Arc::new(workers.clone())),
            &spec,
        )
        .await;
        rows.extend(
            measure_all(
                "floor-tokio-mpsc-oneshot",
                RawTokio::start(spec.workers),
                &spec,
            )
            .await,
        );
        kill_all(&workers).await;
        rows
    })
}

//! The per-backend workloads, written once over [`ActorSystem`], for in-process actor
//! frameworks: the same parameters ([`Specs`]), the same workload declarations, metrics and
//! parameter keys as the suite's backends, so their rows draw beside them. Lookup and
//! routing reuse the suite's own measuring code (its OS-thread clients, barrier, overlap
//! check and histograms); scale, churn and fan-out follow their workloads' definitions with
//! the framework's own operations. What a framework cannot do, or what is not measured for
//! it, is a `skipped` row that says so.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_schema::{Params, Row, Workload};
use naming_strategies::runtime::{instant_after, CallError, Name};

use super::actor_system::{released, ActorSystem, ForeignError, Receipt};
use crate::alloc::{counted_bytes, flush_deferred_frees, Counting};
use crate::workloads::churn::{self, ChurnSpec, CHURN};
use crate::workloads::common::{
    heap_row, id_names, median_of_rounds, run_on, spread, tokio_runtime, wait_until, SplitMix64,
    CALL_TIMEOUT,
};
use crate::workloads::fanout::{self, FanOutSpec, FANOUT};
use crate::workloads::lookup::{self, LookupSpec, LOOKUP};
use crate::workloads::routing::{self, RoutingSpec, ROUTING};
use crate::workloads::scale::{self, ScaleSpec, SCALE};
use crate::workloads::{Progress, Specs};

/// Runs `workload` for `system` at `specs`; an unknown workload is one skip row.
pub fn run<S: ActorSystem>(
    system: S,
    workload: &str,
    specs: &Specs,
    progress: &dyn Progress,
) -> Vec<Row> {
    let system = Arc::new(system);
    match workload {
        "lookup" => lookup(system, &specs.lookup, progress),
        "routing" => routing(system, &specs.routing, progress),
        "churn" => churn(system, &specs.churn, progress),
        "scale" => scale(system, &specs.scale, progress),
        "fanout" => fanout(system, &specs.fanout, progress),
        "soak" => super::soak::soak(system, prefix(), &specs.soak, progress),
        other => {
            let w = Workload::new(
                "unknown",
                "unknown",
                "",
                naming_schema::Subject::NamingBackends,
            );
            vec![w.skip(
                system.label(),
                &Params::new(),
                &format!("{other}: not a per-backend workload"),
            )]
        }
    }
}

/// A fresh prefix for the names of one measurement: the frameworks' registries are global
/// to the process, so names of an earlier measurement still being released never collide.
fn prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("nb{}-", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `n` names under one fresh prefix, and the prefix.
fn names(n: usize) -> (String, Arc<Vec<String>>) {
    let p = prefix();
    let names = (0..n).map(|i| format!("{p}{i}")).collect();
    (p, Arc::new(names))
}

/// Starts a worker under each name, in order; the first error, as text.
async fn start_all<S: ActorSystem>(system: &S, names: &[String]) -> Result<Vec<S::Handle>, String> {
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        match system.start_named(n).await {
            Ok(h) => out.push(h),
            Err(e) => {
                stop_all(system, &out).await;
                return Err(format!("cannot start named workers: {e}"));
            }
        }
    }
    Ok(out)
}

/// Kills every actor and waits until each has exited.
async fn stop_all<S: ActorSystem>(system: &S, actors: &[S::Handle]) {
    for a in actors {
        system.kill(a);
    }
    for a in actors {
        system.exited(a).await;
    }
}

// ---------------------------------------------------------------------------------------
// lookup

/// A framework's lookup by name, for the suite's lookup clients.
struct FrameworkLookup<S> {
    system: Arc<S>,
    names: Arc<Vec<String>>,
}

impl<S> Clone for FrameworkLookup<S> {
    fn clone(&self) -> Self {
        FrameworkLookup {
            system: self.system.clone(),
            names: self.names.clone(),
        }
    }
}

impl<S: ActorSystem> lookup::Lookup for FrameworkLookup<S> {
    async fn find(&self, name: &Name) -> bool {
        // The suite's key sequence names workers by index; the framework's own name for
        // index `i` is built once, before the measurement.
        match name {
            Name::Id(i) => self
                .names
                .get(*i as usize)
                .is_some_and(|n| self.system.whereis(n).is_some()),
            _ => false,
        }
    }
}

/// The lookup workload: `size` named workers, then the suite's lookup clients (OS threads
/// released together, one shared deadline, overlap check, round-robin repeats). There is no
/// floor: the framework's registry map is its own and cannot be read raw beside it.
fn lookup<S: ActorSystem>(system: Arc<S>, spec: &LookupSpec, progress: &dyn Progress) -> Vec<Row> {
    let label = system.label();
    let threads = spec.clients.iter().copied().max().unwrap_or(1);
    let mut rows = Vec::new();
    for &size in &spec.sizes {
        progress.step(&format!("lookup {label} names={size}"));
        let p = Params::new().with("names", size);
        let rt = tokio_runtime(threads);
        let (_, fnames) = names(size);
        let started = {
            let (system, fnames) = (system.clone(), fnames.clone());
            run_on(&rt, async move { start_all(&*system, &fnames).await })
        };
        let actors = match started {
            Ok(a) => a,
            Err(reason) => {
                rows.push(LOOKUP.skip(label, &p, &reason));
                continue;
            }
        };
        let target = FrameworkLookup {
            system: system.clone(),
            names: fnames,
        };
        rows.extend(lookup::measure_all(
            label,
            &target,
            None::<(&'static str, &FrameworkLookup<S>)>,
            &id_names(size),
            size,
            spec,
        ));
        rows.push(LOOKUP.skip(
            label,
            &p.clone().with("floor", "none"),
            &format!(
                "{} and {} not measured: the framework's registry map is internal, so there is no raw get of it to measure beside its lookup",
                lookup::COST_VS_FLOOR.name,
                lookup::OPS_VS_FLOOR.name
            ),
        ));
        let system = system.clone();
        run_on(&rt, async move { stop_all(&*system, &actors).await });
    }
    rows
}

// ---------------------------------------------------------------------------------------
// routing

/// A call through a framework name: look the name up, then call the actor.
struct FrameworkCall<S> {
    system: Arc<S>,
    names: Arc<Vec<String>>,
}

impl<S> Clone for FrameworkCall<S> {
    fn clone(&self) -> Self {
        FrameworkCall {
            system: self.system.clone(),
            names: self.names.clone(),
        }
    }
}

impl<S: ActorSystem> routing::CallTarget for FrameworkCall<S> {
    async fn call(&self, key: usize, n: u64) -> Result<u64, CallError> {
        let name = self.names.get(key).ok_or(CallError::NoProc)?;
        let actor = self.system.whereis(name).ok_or(CallError::NoProc)?;
        self.system
            .call(&actor, n, CALL_TIMEOUT)
            .await
            .map_err(|e| match e {
                ForeignError::Timeout => CallError::Timeout,
                ForeignError::NoProc => CallError::NoProc,
                _ => CallError::BadRequest,
            })
    }
}

/// The routing workload: calls to named workers through the name, closed loop at every
/// client count, then open loop, with the suite's own clients, pacer and histograms.
fn routing<S: ActorSystem>(
    system: Arc<S>,
    spec: &RoutingSpec,
    progress: &dyn Progress,
) -> Vec<Row> {
    let label = system.label();
    progress.step(&format!("routing {label}"));
    let threads = spec.clients.iter().copied().max().unwrap_or(1);
    let rt = tokio_runtime(threads);
    let spec = spec.clone();
    run_on(&rt, async move {
        let p = Params::new().with("workers", spec.workers);
        let (_, fnames) = names(spec.workers);
        let actors = match start_all(&*system, &fnames).await {
            Ok(a) => a,
            Err(reason) => return vec![ROUTING.skip(label, &p, &reason)],
        };
        let target = FrameworkCall {
            system: system.clone(),
            names: fnames,
        };
        let rows = routing::measure_all(label, target, &spec).await;
        stop_all(&*system, &actors).await;
        rows
    })
}

// ---------------------------------------------------------------------------------------
// scale

/// The scale workload: at each size and task count, registering names (where the framework
/// can name a running actor), the time until every name is released after its holder is
/// killed, and named starts (spawn + name) from `tasks` tasks, each timed phase in
/// `spec.rounds` rounds with the median kept; heap bytes per name in an untimed pass; and
/// register + unregister pairs on one held actor.
fn scale<S: ActorSystem>(system: Arc<S>, spec: &ScaleSpec, progress: &dyn Progress) -> Vec<Row> {
    let label = system.label();
    let mut rows = Vec::new();
    let threads = spec.tasks.iter().copied().max().unwrap_or(1);
    for &size in &spec.sizes {
        progress.step(&format!("scale {label} names={size} memory"));
        rows.push(bytes_per_name(&system, size));
        for &tasks in &spec.tasks {
            if tasks > 1 && size > spec.max_concurrent_size {
                continue;
            }
            progress.step(&format!("scale {label} names={size} tasks={tasks}"));
            let p = Params::new().with("names", size).with("tasks", tasks);
            let named_starts = size <= spec.max_named_starts;
            let rounds = if size <= spec.max_concurrent_size {
                spec.rounds.max(1)
            } else {
                1
            };
            let rounds = (0..rounds)
                .map(|_| {
                    let rt = tokio_runtime(threads);
                    let (system, p) = (system.clone(), p.clone());
                    run_on(&rt, async move {
                        scale_round(system, &p, size, tasks, named_starts).await
                    })
                })
                .collect();
            rows.extend(median_of_rounds(rounds));
        }
    }
    progress.step(&format!("scale {label} register+unregister"));
    let p = Params::new().with("pairs", spec.pairs);
    let rt = tokio_runtime(1);
    let pairs = spec.pairs;
    let sys = system.clone();
    rows.push(run_on(&rt, async move {
        match register_unregister_pairs(&*sys, pairs).await {
            Ok(elapsed) => SCALE.row(
                label,
                &p,
                &scale::REGISTER_UNREGISTER_NS,
                elapsed.as_nanos() as f64 / pairs.max(1) as f64,
            ),
            Err(why) => SCALE.skip(label, &p, &why),
        }
    }));
    rows
}

/// Runs `op(i)` for `i` in `0..size`, split into `tasks` consecutive chunks on as many
/// tasks; returns what each call made, in order, or the first error as text.
async fn in_tasks<T, F, Fut>(size: usize, tasks: usize, op: F) -> Result<Vec<T>, String>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<T, ForeignError>> + Send,
{
    let chunk = size.div_ceil(tasks.max(1));
    let handles: Vec<_> = (0..tasks.max(1))
        .map(|t| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut made = Vec::new();
                for i in (t * chunk)..((t + 1) * chunk).min(size) {
                    match op(i).await {
                        Ok(v) => made.push(v),
                        Err(e) => return (made, Some(e.to_string())),
                    }
                }
                (made, None)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(size);
    let mut failure = None;
    for h in handles {
        match h.await {
            Ok((made, err)) => {
                out.extend(made);
                failure = failure.or(err);
            }
            Err(e) => failure = failure.or(Some(e.to_string())),
        }
    }
    match failure {
        None => Ok(out),
        Some(e) => Err(e),
    }
}

/// Kills every actor and times how long until the framework holds no name under
/// `prefix`: [`scale::RELEASE_ALL_NS`], or [`scale::NAMES_LEFT_AFTER_RELEASE`] if names are
/// still held after 30 s.
async fn release_all<S: ActorSystem>(
    system: &Arc<S>,
    actors: &[S::Handle],
    prefix: &str,
    p: &Params,
) -> Row {
    let label = system.label();
    let start = Instant::now();
    stop_all(&**system, actors).await;
    let released = wait_until(Duration::from_secs(30), || {
        let (system, prefix) = (system.clone(), prefix.to_string());
        async move { system.registered_count(&prefix) == 0 }
    })
    .await;
    if released {
        SCALE.row(
            label,
            p,
            &scale::RELEASE_ALL_NS,
            start.elapsed().as_nanos() as f64,
        )
    } else {
        SCALE.row(
            label,
            p,
            &scale::NAMES_LEFT_AFTER_RELEASE,
            system.registered_count(prefix) as f64,
        )
    }
}

/// One scale round on the current runtime.
async fn scale_round<S: ActorSystem>(
    system: Arc<S>,
    p: &Params,
    size: usize,
    tasks: usize,
    named_starts: bool,
) -> Vec<Row> {
    let label = system.label();
    let mut rows = Vec::new();
    let mut release_measured = false;
    // Registration of running actors, where the framework names a running actor.
    let mut unnamed = Vec::with_capacity(size);
    for _ in 0..size {
        match system.start().await {
            Ok(h) => unnamed.push(h),
            Err(e) => {
                stop_all(&*system, &unnamed).await;
                return vec![SCALE.skip(label, p, &format!("cannot start workers: {e}"))];
            }
        }
    }
    let unnamed = Arc::new(unnamed);
    let (pre, fnames) = names(size);
    let start = Instant::now();
    let registered = {
        let (system, unnamed, fnames) = (system.clone(), unnamed.clone(), fnames.clone());
        in_tasks(size, tasks, move |i| {
            let r = system.register(&unnamed[i], &fnames[i]);
            async move { r }
        })
        .await
    };
    let register_ns = start.elapsed().as_nanos() as f64 / size.max(1) as f64;
    match registered {
        Ok(_) => {
            rows.push(SCALE.row(label, p, &scale::REGISTER_NS, register_ns));
            rows.push(release_all(&system, &unnamed, &pre, p).await);
            release_measured = true;
        }
        Err(reason) => {
            stop_all(&*system, &unnamed).await;
            rows.push(SCALE.skip(label, &p.clone().with("phase", "register"), &reason));
        }
    }
    // Named starts: spawn + name, as fast as possible from `tasks` tasks.
    if named_starts {
        let (pre, fnames) = names(size);
        let start = Instant::now();
        let started = {
            let (system, fnames) = (system.clone(), fnames.clone());
            in_tasks(size, tasks, move |i| {
                let (system, fnames) = (system.clone(), fnames.clone());
                async move { system.start_named(&fnames[i]).await }
            })
            .await
        };
        let ns = start.elapsed().as_nanos() as f64 / size.max(1) as f64;
        match started {
            Ok(actors) => {
                rows.push(SCALE.row(label, p, &scale::START_NAMED_NS, ns));
                if release_measured {
                    stop_all(&*system, &actors).await;
                } else {
                    // A framework that names only at spawn: the release is timed here.
                    rows.push(release_all(&system, &actors, &pre, p).await);
                }
            }
            Err(reason) => {
                // Whatever started is under the prefix: found and killed by name.
                let left: Vec<S::Handle> =
                    fnames.iter().filter_map(|n| system.whereis(n)).collect();
                stop_all(&*system, &left).await;
                rows.push(SCALE.skip(label, &p.clone().with("phase", "start_named"), &reason));
            }
        }
    }
    rows
}

/// Heap bytes a name takes, in an untimed pass with the counting allocator: where the
/// framework names a running actor, the heap registering `size` names adds; where it names
/// only at spawn, the heap of `size` named actors less that of `size` unnamed ones (each
/// started with counting on and read before they are stopped).
fn bytes_per_name<S: ActorSystem>(system: &Arc<S>, size: usize) -> Row {
    let label = system.label();
    let p = Params::new().with("names", size).with("tasks", 1);
    let skip_p = p.clone().with("phase", "bytes_per_name");
    if counted_bytes().is_none() {
        return SCALE.skip(
            label,
            &skip_p,
            "not measured: this process has no counting allocator",
        );
    }
    let rt = tokio_runtime(1);
    let system = system.clone();
    run_on(&rt, async move {
        let mut unnamed = Vec::with_capacity(size);
        flush_deferred_frees().await;
        let counting = Counting::start();
        let before = counted_bytes();
        for _ in 0..size {
            match system.start().await {
                Ok(h) => unnamed.push(h),
                Err(e) => {
                    drop(counting);
                    stop_all(&*system, &unnamed).await;
                    return SCALE.skip(label, &skip_p, &format!("cannot start workers: {e}"));
                }
            }
        }
        flush_deferred_frees().await;
        let spawned = counted_bytes();
        let (_, fnames) = names(size);
        let mut registered = Ok(());
        for (h, n) in unnamed.iter().zip(fnames.iter()) {
            registered = system.register(h, n);
            if registered.is_err() {
                break;
            }
        }
        flush_deferred_frees().await;
        let after = counted_bytes();
        drop(counting);
        stop_all(&*system, &unnamed).await;
        let bytes = match registered {
            Ok(()) => after.zip(spawned).map(|(a, s)| a - s),
            Err(ForeignError::Unsupported(_)) => {
                // Named at spawn only: named actors' heap less the unnamed ones'.
                let unnamed_bytes = spawned.zip(before).map(|(s, b)| s - b);
                let (_, fnames) = names(size);
                flush_deferred_frees().await;
                let counting = Counting::start();
                let before = counted_bytes();
                let started = start_all(&*system, &fnames).await;
                flush_deferred_frees().await;
                let after = counted_bytes();
                drop(counting);
                match started {
                    Ok(actors) => stop_all(&*system, &actors).await,
                    Err(reason) => return SCALE.skip(label, &skip_p, &reason),
                }
                after
                    .zip(before)
                    .map(|(a, b)| a - b)
                    .zip(unnamed_bytes)
                    .map(|(named, unnamed)| named - unnamed)
            }
            Err(e) => return SCALE.skip(label, &skip_p, &format!("register: {e}")),
        };
        match bytes {
            None => SCALE.skip(label, &skip_p, "no counted reading"),
            Some(b) if b < 0 => SCALE.skip(
                label,
                &skip_p,
                &format!(
                    "measurement error: negative bytes per name ({:.1})",
                    b as f64 / size.max(1) as f64
                ),
            ),
            Some(b) => SCALE.row(
                label,
                &p,
                &scale::BYTES_PER_NAME,
                b as f64 / size.max(1) as f64,
            ),
        }
    })
}

/// Times `pairs` register + unregister pairs on one running actor, cycling through 64
/// names; an error as text (e.g. the framework cannot name a running actor).
async fn register_unregister_pairs<S: ActorSystem>(
    system: &S,
    pairs: usize,
) -> Result<Duration, String> {
    let actor = system.start().await.map_err(|e| e.to_string())?;
    let (_, fnames) = names(64);
    let start = Instant::now();
    let mut outcome = Ok(());
    for i in 0..pairs {
        let n = &fnames[i % fnames.len()];
        if let Err(e) = system.register(&actor, n) {
            outcome = Err(format!("register: {e}"));
            break;
        }
        if let Err(e) = system.unregister(&actor, n) {
            outcome = Err(format!("unregister: {e}"));
            break;
        }
    }
    let elapsed = start.elapsed();
    stop_all(system, std::slice::from_ref(&actor)).await;
    outcome.map(|()| elapsed)
}

// ---------------------------------------------------------------------------------------
// churn

/// What one churn point saw; every call lands in exactly one outcome counter.
#[derive(Default)]
struct Tally {
    calls: AtomicU64,
    ok: AtomicU64,
    noproc: AtomicU64,
    timeout: AtomicU64,
    not_found: AtomicU64,
    stale: AtomicU64,
    other: AtomicU64,
    kills: AtomicU64,
    never_released: AtomicU64,
    never_reregistered: AtomicU64,
    duplicates: AtomicU64,
}

/// The workers of one churn point, each kept under its name by a restarter task (the
/// frameworks' own supervisors restart an actor under a new handle, so the restart is
/// done here, the same way for each): when a worker exits, a new one is started under its
/// name, retrying while the name is still held.
struct Restarted<S: ActorSystem> {
    system: Arc<S>,
    names: Arc<Vec<String>>,
    holders: Arc<Vec<parking_lot::Mutex<Option<S::Handle>>>>,
    stopping: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl<S: ActorSystem> Restarted<S> {
    async fn start(
        system: Arc<S>,
        names: Arc<Vec<String>>,
        tally: Arc<Tally>,
    ) -> Result<Self, String> {
        let holders: Arc<Vec<_>> = Arc::new(
            names
                .iter()
                .map(|_| parking_lot::Mutex::new(None))
                .collect(),
        );
        let stopping = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let first = match system.start_named(name).await {
                Ok(h) => h,
                Err(e) => {
                    stopping.store(true, Ordering::SeqCst);
                    for h in holders.iter().filter_map(|h| h.lock().clone()) {
                        system.kill(&h);
                    }
                    return Err(format!("cannot start named workers: {e}"));
                }
            };
            *holders[i].lock() = Some(first.clone());
            let (system, names, holders, stopping, tally) = (
                system.clone(),
                names.clone(),
                holders.clone(),
                stopping.clone(),
                tally.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut current = first;
                loop {
                    system.exited(&current).await;
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    current = loop {
                        match system.start_named(&names[i]).await {
                            Ok(h) => break h,
                            Err(_) if stopping.load(Ordering::SeqCst) => return,
                            Err(_) => tokio::time::sleep(Duration::from_micros(50)).await,
                        }
                    };
                    let previous = holders[i].lock().replace(current.clone());
                    if previous.is_some_and(|p| system.is_alive(&p)) {
                        tally.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        Ok(Restarted {
            system,
            names,
            holders,
            stopping,
            tasks,
        })
    }

    /// Waits (up to 5 s) until every name is held by a live worker and resolves to it.
    async fn settle(&self) -> bool {
        wait_until(Duration::from_secs(5), || async {
            (0..self.names.len()).all(|i| self.resolves_to_holder(i))
        })
        .await
    }

    fn resolves_to_holder(&self, i: usize) -> bool {
        let holder = self.holders[i].lock().clone();
        match (holder, self.system.whereis(&self.names[i])) {
            (Some(h), Some(found)) => {
                self.system.is_alive(&h) && self.system.id(&h) == self.system.id(&found)
            }
            _ => false,
        }
    }

    /// After settling: names whose live holder the framework does not resolve to, and
    /// names it resolves to a dead actor.
    fn mismatches(&self) -> (u64, u64) {
        let (mut unresolved, mut dead) = (0, 0);
        for (i, name) in self.names.iter().enumerate() {
            let found = self.system.whereis(name);
            if found.as_ref().is_some_and(|f| !self.system.is_alive(f)) {
                dead += 1;
            }
            let holder = self.holders[i].lock().clone();
            if holder.is_some_and(|h| self.system.is_alive(&h)) && !self.resolves_to_holder(i) {
                unresolved += 1;
            }
        }
        (unresolved, dead)
    }

    async fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        let held: Vec<S::Handle> = self
            .holders
            .iter()
            .filter_map(|h| h.lock().clone())
            .collect();
        stop_all(&*self.system, &held).await;
        for t in self.tasks {
            let _ = t.await;
        }
        // A restart that raced the stop: killed by name.
        let left: Vec<S::Handle> = self
            .names
            .iter()
            .filter_map(|n| self.system.whereis(n))
            .collect();
        stop_all(&*self.system, &left).await;
    }
}

/// Watches one killed name: how long until it no longer names the dead actor, and until a
/// new live actor holds it (2 s at most).
async fn track<S: ActorSystem>(
    system: Arc<S>,
    name: String,
    old: u64,
    killed_at: Instant,
) -> (Option<u64>, Option<u64>) {
    let deadline = instant_after(killed_at, Duration::from_secs(2));
    let mut released_after = None;
    loop {
        let now = system.whereis(&name);
        let elapsed = killed_at.elapsed().as_nanos() as u64;
        match now {
            Some(h) if system.id(&h) == old => {}
            None => {
                released_after.get_or_insert(elapsed);
            }
            Some(_) => {
                released_after.get_or_insert(elapsed);
                return (released_after, Some(elapsed));
            }
        }
        if Instant::now() > deadline {
            return (released_after, None);
        }
        tokio::task::yield_now().await;
    }
}

/// One churn client: `rate` calls per second on a fixed schedule from `t0` to `end`.
async fn churn_client<S: ActorSystem>(
    system: Arc<S>,
    names: Arc<Vec<String>>,
    rate: f64,
    (t0, end): (Instant, Instant),
    seed: u64,
    tally: Arc<Tally>,
) {
    let mut rng = SplitMix64::new(seed);
    let interval = 1.0 / rate;
    for i in 0u64.. {
        let due = instant_after(t0, Duration::from_secs_f64(interval * i as f64));
        if due >= end {
            break;
        }
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let name = &names[rng.below(names.len())];
        tally.calls.fetch_add(1, Ordering::Relaxed);
        let counter = match system.whereis(name) {
            None => &tally.not_found,
            Some(h) if !system.is_alive(&h) => &tally.stale,
            Some(h) => match system.call(&h, i, CALL_TIMEOUT).await {
                Ok(_) => &tally.ok,
                Err(ForeignError::NoProc) => &tally.noproc,
                Err(ForeignError::Timeout) => &tally.timeout,
                Err(_) => &tally.other,
            },
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The churn workload: named workers kept under their names by restarters, clients calling
/// them through their names at a fixed offered rate while a killer thread kills random
/// workers at each kill rate; each kill's release and re-registration tracked, and the
/// invariants checked after settling.
fn churn<S: ActorSystem>(system: Arc<S>, spec: &ChurnSpec, progress: &dyn Progress) -> Vec<Row> {
    let label = system.label();
    let mut rows = Vec::new();
    for &kill_rate in &spec.kill_rates {
        progress.step(&format!("churn {label} kill_rate={kill_rate}/s"));
        let p = Params::new()
            .with("workers", spec.workers)
            .with("clients", spec.clients)
            .with("call_rate", spec.call_rate)
            .with("kill_rate", kill_rate);
        let rt = tokio_runtime(spec.clients);
        let (system, spec) = (system.clone(), spec.clone());
        rows.extend(run_on(&rt, async move {
            churn_point(system, &p, &spec, kill_rate).await
        }));
    }
    rows
}

async fn churn_point<S: ActorSystem>(
    system: Arc<S>,
    p: &Params,
    spec: &ChurnSpec,
    kill_rate: f64,
) -> Vec<Row> {
    let label = system.label();
    let row = |metric: &naming_schema::Metric, value: f64| CHURN.row(label, p, metric, value);
    let tally = Arc::new(Tally::default());
    let (_, fnames) = names(spec.workers);
    // The set-up is counted (deferred frees flushed before each reading); the timed run
    // never is.
    flush_deferred_frees().await;
    let counting = Counting::start();
    let before = counted_bytes();
    let workers = match Restarted::start(system.clone(), fnames.clone(), tally.clone()).await {
        Ok(w) => w,
        Err(reason) => return vec![CHURN.skip(label, p, &reason)],
    };
    flush_deferred_frees().await;
    let bytes_before = before.zip(counted_bytes()).map(|(b, a)| a - b);
    drop(counting);
    let t0 = instant_after(Instant::now(), Duration::from_millis(5));
    let end = t0 + spec.duration;
    let per_client = spec.call_rate / spec.clients.max(1) as f64;
    let clients: Vec<_> = (0..spec.clients)
        .map(|c| {
            tokio::spawn(churn_client(
                system.clone(),
                fnames.clone(),
                per_client,
                (t0, end),
                0xC4A7 + c as u64,
                tally.clone(),
            ))
        })
        .collect();
    // The killer runs on a thread of its own, so a slow framework is not killed less often.
    let killer = {
        let (system, fnames, tally) = (system.clone(), fnames.clone(), tally.clone());
        let handle = tokio::runtime::Handle::current();
        std::thread::spawn(move || {
            let mut trackers = Vec::new();
            if kill_rate <= 0.0 || fnames.is_empty() {
                return trackers;
            }
            let mut rng = SplitMix64::new(0x0C4A_7000 ^ kill_rate.to_bits());
            for k in 0u64.. {
                let due = instant_after(t0, Duration::from_secs_f64(k as f64 / kill_rate));
                if due >= end {
                    break;
                }
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                for _ in 0..8 {
                    let name = &fnames[rng.below(fnames.len())];
                    let Some(victim) = system.whereis(name) else {
                        continue;
                    };
                    if !system.is_alive(&victim) {
                        continue;
                    }
                    let killed_at = Instant::now();
                    system.kill(&victim);
                    tally.kills.fetch_add(1, Ordering::Relaxed);
                    trackers.push(handle.spawn(track(
                        system.clone(),
                        name.clone(),
                        system.id(&victim),
                        killed_at,
                    )));
                    break;
                }
            }
            trackers
        })
    };
    for c in clients {
        let _ = c.await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let trackers = tokio::task::spawn_blocking(move || killer.join())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let (release, rereg) =
        churn::latencies(trackers, &tally.never_released, &tally.never_reregistered).await;
    let settled = workers.settle().await;
    let (unresolved, dead) = workers.mismatches();
    // Memory after churn, in an untimed, counted pass: every worker killed once more and
    // restarted by its restarter; what the pass leaves on the heap is added to the set-up's.
    let bytes_after = match bytes_before {
        Some(b) => {
            flush_deferred_frees().await;
            let _counting = Counting::start();
            let n0 = counted_bytes();
            for name in fnames.iter() {
                if let Some(w) = system.whereis(name) {
                    system.kill(&w);
                }
            }
            workers.settle().await;
            flush_deferred_frees().await;
            n0.zip(counted_bytes()).map(|(n0, n1)| b + (n1 - n0))
        }
        None => None,
    };
    workers.stop().await;

    let t = &tally;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let q = |h: &hdrhistogram::Histogram<u64>, at: f64| h.value_at_quantile(at) as f64;
    let calls = g(&t.calls);
    let kills = g(&t.kills);
    let mut rows = vec![
        row(&churn::OPS_PER_SEC, calls / secs),
        row(&churn::CALLS, calls),
        row(&churn::KILLS, kills),
        row(&churn::CALLS_OK, g(&t.ok)),
        row(&churn::CALLS_NOPROC, g(&t.noproc)),
        row(&churn::CALLS_TIMEOUT, g(&t.timeout)),
        row(&churn::CALLS_NOT_FOUND, g(&t.not_found)),
        row(&churn::CALLS_BAD_REQUEST, g(&t.other)),
        row(&churn::STALE_DELIVERIES, g(&t.stale)),
    ];
    if !release.is_empty() {
        rows.push(row(&churn::RELEASE_P50_NS, q(&release, 0.5)));
        rows.push(row(&churn::RELEASE_P99_NS, q(&release, 0.99)));
    }
    if !rereg.is_empty() {
        rows.push(row(&churn::REREGISTER_P50_NS, q(&rereg, 0.5)));
        rows.push(row(&churn::REREGISTER_P99_NS, q(&rereg, 0.99)));
    }
    rows.extend([
        row(&churn::NEVER_RELEASED, g(&t.never_released)),
        row(&churn::NEVER_REREGISTERED, g(&t.never_reregistered)),
        row(&churn::DUPLICATE_OWNERS, g(&t.duplicates)),
        row(&churn::NAMES_UNRESOLVED_AFTER, unresolved as f64),
        row(&churn::DEAD_NAMES_LEFT, dead as f64),
        row(&churn::SETTLED, if settled { 1.0 } else { 0.0 }),
    ]);
    let failed_stale = g(&t.noproc) + g(&t.timeout) + g(&t.not_found) + g(&t.stale);
    let failed = failed_stale + g(&t.other);
    if calls > 0.0 {
        rows.push(row(&churn::FAILED_STALE_PER_CALL, failed_stale / calls));
        rows.push(row(&churn::FAILED_PER_CALL, failed / calls));
    }
    if kills > 0.0 {
        rows.push(row(&churn::FAILED_PER_KILL, failed / kills));
    }
    match (bytes_before, bytes_after) {
        // Buffers grown in the timed run and freed in the counted pass can take a reading
        // below zero: a skip row, never a figure.
        (Some(b), Some(a)) => {
            for (metric, bytes) in [(&churn::BYTES_BEFORE, b), (&churn::BYTES_AFTER, a)] {
                rows.push(heap_row(&CHURN, label, p, "phase", metric, bytes));
            }
        }
        _ => rows.push(CHURN.skip(
            label,
            &p.clone().with("phase", "bytes"),
            "heap not measured: this process has no counting allocator",
        )),
    }
    rows
}

// ---------------------------------------------------------------------------------------
// fan-out

/// The fan-out workload: `members` workers join one group; one broadcast is timed until the
/// last member has received it, `spec.repeats` times. A framework without groups skips.
fn fanout<S: ActorSystem>(system: Arc<S>, spec: &FanOutSpec, progress: &dyn Progress) -> Vec<Row> {
    let label = system.label();
    let mut rows = Vec::new();
    for &members in &spec.members {
        progress.step(&format!("fanout {label} members={members}"));
        let p = Params::new().with("members", members);
        let rt = tokio_runtime(spec.threads);
        let (system, repeats) = (system.clone(), spec.repeats);
        rows.extend(run_on(&rt, async move {
            fanout_point(system, &p, members, repeats).await
        }));
    }
    rows
}

async fn fanout_point<S: ActorSystem>(
    system: Arc<S>,
    p: &Params,
    members: usize,
    repeats: usize,
) -> Vec<Row> {
    let label = system.label();
    let receipt = Arc::new(Receipt::default());
    let group = format!("{}group", prefix());
    let mut joined = Vec::with_capacity(members);
    for _ in 0..members {
        match system.start_member(&group, receipt.clone()).await {
            Ok(h) => joined.push(h),
            Err(e) => {
                stop_all(&*system, &joined).await;
                let reason = match e {
                    ForeignError::Unsupported(why) => why.to_string(),
                    other => format!("join failed: {other}"),
                };
                return vec![FANOUT.skip(label, p, &reason)];
            }
        }
    }
    let mut samples = Vec::new();
    let mut short = 0;
    for _ in 0..repeats {
        receipt.expect(members);
        let start = Instant::now();
        match system.broadcast(&group) {
            Ok(n) if n == members => {}
            Ok(_) | Err(_) => short += 1,
        }
        if tokio::time::timeout(Duration::from_secs(10), receipt.all_received())
            .await
            .is_err()
        {
            short += 1;
            continue;
        }
        samples.push(start.elapsed().as_nanos() as f64);
    }
    stop_all(&*system, &joined).await;
    let (median, min, max) = spread(&mut samples);
    let n = samples.len() as u32;
    vec![
        FANOUT
            .row(label, p, &fanout::DISPATCH_ALL_RECEIVED_NS, median)
            .over(n, (min, max)),
        FANOUT.row(label, p, &fanout::SHORT_DISPATCHES, short as f64),
    ]
}

/// Waits until `name` no longer names `handle` (at most `limit`): the name is released.
pub async fn name_released<S: ActorSystem>(
    system: &S,
    name: &str,
    handle: &S::Handle,
    limit: Duration,
) -> bool {
    released(system, name, system.id(handle), limit).await
}

//! churn for startup discovery (seed 003): no registry; the workers are the children of one
//! `Supervisor`, each child's id its name's text, killed on schedule and restarted by it, as
//! [`churn`](super::churn) does for the registries. A client holding handed pids keeps
//! calling them across restarts: every call that reaches a dead pid is counted, and the time
//! from a kill until the client holds the restarted worker's pid is measured.
//!
//! - [`DiscoveryMode::Handed`]: each client is handed every child's pid at start
//!   ([`StartupDiscovery::handed_from`]) and calls it until a call answers `noproc`; then it
//!   asks again (a fresh `which_children`, as a real design must) and keeps the new pid if
//!   the supervisor has restarted the worker by then, or calls the dead one again next time.
//! - [`DiscoveryMode::Scan`]: every call scans the supervisor's children first
//!   ([`StartupDiscovery::scan`]), so only a worker killed between scan and call is
//!   reached dead; the client notes the pid each scan gives, and when it first differs
//!   after a kill, that worker is rediscovered.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_schema::{Metric, Params, Row};
use naming_strategies::runtime::{
    instant_after, CallError, ChildSpec, Intensity, Name, Pid, ProcessRef, Restart, Runtime,
    Strategy, Supervisor,
};
use naming_strategies::StartupDiscovery;
use parking_lot::Mutex;

use super::churn::{
    failure_rows, tally_rows, ChurnSpec, Tally, CHURN, REDISCOVER_P50_NS, REDISCOVER_P99_NS,
    SETTLED, STALE_CALLS, STALE_CALLS_PER_KILL,
};
use super::common::{histogram, id_names, wait_until, SplitMix64, Worker, CALL_TIMEOUT};
use crate::contenders::DiscoveryMode;

/// Every kill of each child, by index: the killed pid and when.
type KillLog = Arc<Vec<Mutex<Vec<(Pid, Instant)>>>>;

/// What the clients saw beyond the shared [`Tally`]: the kills whose restarted worker a
/// client found again, and how long that took.
struct Rediscovered {
    times: hdrhistogram::Histogram<u64>,
    stale_calls: u64,
}

/// Runs one churn point for a startup-discovery contender: `spec.workers` children under one
/// supervisor, clients in `mode`, kills at `kill_rate` per second.
pub(crate) async fn run_one(
    label: &'static str,
    p: &Params,
    mode: DiscoveryMode,
    rt: Runtime,
    spec: ChurnSpec,
    kill_rate: f64,
) -> Vec<Row> {
    let row = |metric: &Metric, value: f64| CHURN.row(label, p, metric, value);
    // Child ids are names' text, as `which_children` reports them.
    let names: Arc<Vec<Name>> = Arc::new(
        id_names(spec.workers)
            .iter()
            .map(|n| Name::text(&n.to_text()))
            .collect(),
    );
    let children: Vec<ChildSpec> = names
        .iter()
        .map(|n| ChildSpec::server(n.to_text(), Restart::Permanent, Worker::plain))
        .collect();
    // Restarted however often (churn kills on purpose), as the registries' supervisor is.
    let intensity = Intensity {
        max_restarts: u32::MAX,
        max_seconds: Duration::from_secs(1),
    };
    let sup = match Supervisor::start(&rt, children, Strategy::OneForOne, intensity).await {
        Ok(sup) => sup,
        Err(e) => return vec![CHURN.skip(label, p, &format!("the supervisor did not start: {e}"))],
    };
    let kills: KillLog = Arc::new((0..names.len()).map(|_| Mutex::new(Vec::new())).collect());
    let tally = Arc::new(Tally::default());
    let t0 = instant_after(Instant::now(), Duration::from_millis(5));
    let end = t0 + spec.duration;
    let per_client = spec.call_rate / spec.clients.max(1) as f64;
    let clients: Vec<_> = (0..spec.clients)
        .map(|c| {
            let client = Client {
                sup: sup.clone(),
                mode,
                names: names.clone(),
                kills: kills.clone(),
                tally: tally.clone(),
            };
            tokio::spawn(client.run(per_client, t0, end, 0xD15C + c as u64))
        })
        .collect();
    let killer = {
        let (sup, tally, kills) = (sup.clone(), tally.clone(), kills.clone());
        std::thread::spawn(move || kill_on_schedule(sup, kills, kill_rate, t0, end, tally))
    };
    let mut times = histogram();
    let mut stale_calls = 0;
    let mut failed_client = None;
    for c in clients {
        match c.await {
            Ok(Ok(seen)) => {
                let _ = times.add(&seen.times);
                stale_calls += seen.stale_calls;
            }
            Ok(Err(reason)) => failed_client = Some(reason),
            Err(e) => failed_client = Some(format!("a client task failed: {e}")),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let _ = tokio::task::spawn_blocking(move || killer.join()).await;
    let settled = settle(&sup).await;
    let exited = sup.process().exited();
    sup.process().kill();
    exited.await;
    if let Some(reason) = failed_client {
        return vec![CHURN.skip(label, p, &reason)];
    }

    let mut rows = tally_rows(label, p, &tally, secs);
    let kills = tally.kills.load(Ordering::Relaxed) as f64;
    rows.push(row(&STALE_CALLS, stale_calls as f64));
    if kills > 0.0 {
        rows.push(row(&STALE_CALLS_PER_KILL, stale_calls as f64 / kills));
    }
    if !times.is_empty() {
        rows.push(row(&REDISCOVER_P50_NS, times.value_at_quantile(0.5) as f64));
        rows.push(row(
            &REDISCOVER_P99_NS,
            times.value_at_quantile(0.99) as f64,
        ));
    }
    rows.push(row(&SETTLED, if settled { 1.0 } else { 0.0 }));
    rows.extend(failure_rows(label, p, &tally));
    rows
}

/// One client and what it shares with the others.
struct Client {
    sup: Supervisor,
    mode: DiscoveryMode,
    names: Arc<Vec<Name>>,
    kills: KillLog,
    tally: Arc<Tally>,
}

impl Client {
    /// Offers `rate` calls per second from `t0` until `end` on a fixed schedule, counting
    /// each call's outcome once in the tally; an error if the supervisor stops answering.
    async fn run(
        self,
        rate: f64,
        t0: Instant,
        end: Instant,
        seed: u64,
    ) -> Result<Rediscovered, String> {
        let scanning = StartupDiscovery::scanning(self.sup.clone());
        // The pid this client holds (handed mode) or last saw (scan mode), per child.
        let mut held: Vec<Option<ProcessRef>> = match self.mode {
            DiscoveryMode::Handed => {
                let handed = StartupDiscovery::handed_from(&self.sup)
                    .await
                    .map_err(|e| format!("the supervisor handed no pids: {e}"))?;
                self.names.iter().map(|n| handed.handed_ref(n)).collect()
            }
            DiscoveryMode::Scan => vec![None; self.names.len()],
        };
        let mut seen = Rediscovered {
            times: histogram(),
            stale_calls: 0,
        };
        let mut rng = SplitMix64::new(seed);
        let interval = 1.0 / rate;
        let t = &self.tally;
        for i in 0u64.. {
            let due = instant_after(t0, Duration::from_secs_f64(interval * i as f64));
            if due >= end {
                break;
            }
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
            let k = rng.below(self.names.len());
            t.calls.fetch_add(1, Ordering::Relaxed);
            let target = match self.mode {
                DiscoveryMode::Handed => held[k].clone(),
                DiscoveryMode::Scan => {
                    let found = scanning
                        .scan(&self.names[k])
                        .await
                        .map_err(|e| format!("which_children failed: {e}"))?;
                    if let Some(now) = &found {
                        self.note(&mut held[k], k, now, &mut seen);
                    }
                    found
                }
            };
            let counter = match target {
                None => &t.not_found,
                // A scan that gave a pid already dead: stale, and not sent.
                Some(p) if self.mode == DiscoveryMode::Scan && !p.is_alive() => {
                    seen.stale_calls += 1;
                    &t.stale
                }
                Some(p) => match p.call::<u64, u64>(i, CALL_TIMEOUT).await {
                    Ok(_) => &t.ok,
                    Err(CallError::NoProc) => {
                        seen.stale_calls += 1;
                        if self.mode == DiscoveryMode::Handed {
                            self.ask_again(&mut held[k], k, &mut seen).await?;
                        }
                        &t.noproc
                    }
                    Err(CallError::Timeout) => &t.timeout,
                    Err(CallError::BadRequest) => &t.other,
                },
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Ok(seen)
    }

    /// Handed mode after a `noproc`: asks the supervisor for its children again and keeps
    /// child `k`'s pid if it runs (the restart may not have happened yet: then the dead pid
    /// stays held, and the next call to it asks again).
    async fn ask_again(
        &self,
        held: &mut Option<ProcessRef>,
        k: usize,
        seen: &mut Rediscovered,
    ) -> Result<(), String> {
        let handed = StartupDiscovery::handed_from(&self.sup)
            .await
            .map_err(|e| format!("which_children failed: {e}"))?;
        if let Some(now) = handed.handed_ref(&self.names[k]) {
            if now.is_alive() {
                self.note(held, k, &now, seen);
            }
        }
        Ok(())
    }

    /// Records `now` as child `k`'s pid; if it replaces a pid that was killed, the time
    /// since that kill is one rediscovery.
    fn note(
        &self,
        held: &mut Option<ProcessRef>,
        k: usize,
        now: &ProcessRef,
        seen: &mut Rediscovered,
    ) {
        let Some(old) = held.replace(now.clone()).map(|p| p.pid()) else {
            return;
        };
        if old == now.pid() {
            return;
        }
        let killed_at = self.kills[k]
            .lock()
            .iter()
            .find(|(pid, _)| *pid == old)
            .map(|(_, at)| *at);
        if let Some(at) = killed_at {
            let _ = seen.times.record((at.elapsed().as_nanos() as u64).max(1));
        }
    }
}

/// Kills a random running child at `kill_rate` per second from `t0` until `end`, on the
/// calling thread (a runtime of its own, so the schedule does not depend on how fast calls
/// complete), logging each kill's pid and time.
fn kill_on_schedule(
    sup: Supervisor,
    kills: KillLog,
    kill_rate: f64,
    t0: Instant,
    end: Instant,
    tally: Arc<Tally>,
) {
    let krt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built");
    krt.block_on(async move {
        if kill_rate <= 0.0 || kills.is_empty() {
            return;
        }
        let interval = 1.0 / kill_rate;
        let mut rng = SplitMix64::new(0x0C4A_7000 ^ kill_rate.to_bits());
        for n in 0u64.. {
            let due = instant_after(t0, Duration::from_secs_f64(interval * n as f64));
            if due >= end {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
            let Ok(children) = sup.which_children().await else {
                return;
            };
            // A child between incarnations (restarting) is passed over for another.
            for _ in 0..8 {
                let k = rng.below(children.len());
                let Some(victim) = &children[k].process else {
                    continue;
                };
                let killed_at = Instant::now();
                if victim.is_alive() && victim.kill() {
                    kills[k].lock().push((victim.pid(), killed_at));
                    tally.kills.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    });
}

/// Waits (up to 5 s) until every child runs again.
async fn settle(sup: &Supervisor) -> bool {
    wait_until(Duration::from_secs(5), || async {
        sup.which_children().await.is_ok_and(|cs| {
            cs.iter()
                .all(|c| c.process.as_ref().is_some_and(ProcessRef::is_alive))
        })
    })
    .await
}

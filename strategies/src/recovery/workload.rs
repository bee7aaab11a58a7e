//! The recovery workload: increment, kill, restart, repeat, with concurrent callers, as
//! the `Demo.run` script of seed 001 (the Elixir Forum thread "Supervision strategy for a
//! stateful web client?") does by hand.
//!
//! Its declaration ([`RECOVERY`]: metrics with units and directions, charts, summary
//! columns) sits beside the code that makes its rows ([`RecoveryRun::rows`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_schema::{
    Bars, Better, Chart, Column, Family, Filter, Identity, Metric, Params, Row, Subject, Unit,
    Workload, YScale,
};
use process_runtime::Runtime;

use super::counter::{Backup, CounterError, CounterOpts, CounterService};
use crate::naming::Naming;
use crate::shard::measure::quick_mode;
use crate::{DashMapTable, Registry};

/// Acknowledged increments whose effect is gone after the restarts: must be 0 for a scheme
/// that keeps state (the no-backup control loses them by design).
pub const LOST_UPDATES: Metric = Metric::must_be_zero("lost_updates", "acknowledged updates lost");
/// Increments acknowledged to the driver and the callers (context for the losses).
pub const ACKED_INCREMENTS: Metric = Metric::new(
    "acked_increments",
    "increments acknowledged",
    Unit::Count,
    Better::Neither,
);
/// Increments applied but never acknowledged (the caller gave up or the worker died after
/// applying): the final value beyond the acknowledged, unlost increments.
pub const APPLIED_UNACKED: Metric = Metric::new(
    "applied_unacked",
    "increments applied but not acknowledged",
    Unit::Count,
    Better::Neither,
);
/// Calls that failed (no worker, worker died, timeout) while workers were being killed.
pub const FAILED_CALLS: Metric =
    Metric::new("failed_calls", "failed calls", Unit::Count, Better::Lower);
/// Kills made: cycles plus kills during a handover.
pub const KILLS: Metric = Metric::new("kills", "workers killed", Unit::Count, Better::Neither);
/// The counter's value at the end.
pub const FINAL_VALUE: Metric = Metric::new(
    "final_value",
    "final counter value",
    Unit::Count,
    Better::Neither,
);
/// Wall time of the kill cycles, callers running.
pub const RUN_MS: Metric = Metric::new("run_ms", "run time", Unit::Ms, Better::Neither);
/// Mean time from a kill to a new worker answering a call.
pub const RECOVER_US_MEAN: Metric = Metric::new(
    "recover_us_mean",
    "kill to serving, mean",
    Unit::Us,
    Better::Lower,
);
/// Median time from a kill to a new worker answering a call.
pub const RECOVER_US_P50: Metric = Metric::new(
    "recover_us_p50",
    "kill to serving, p50",
    Unit::Us,
    Better::Lower,
);
/// 99th percentile of the time from a kill to a new worker answering a call.
pub const RECOVER_US_P99: Metric = Metric::new(
    "recover_us_p99",
    "kill to serving, p99",
    Unit::Us,
    Better::Lower,
);
/// Longest time from a kill to a new worker answering a call.
pub const RECOVER_US_MAX: Metric = Metric::new(
    "recover_us_max",
    "kill to serving, max",
    Unit::Us,
    Better::Lower,
);

/// The recovery workload: three ways to keep a counter's state across its worker's
/// restarts, killed over and over under concurrent callers.
pub const RECOVERY: Workload = Workload {
    metrics: &[
        &LOST_UPDATES,
        &ACKED_INCREMENTS,
        &APPLIED_UNACKED,
        &FAILED_CALLS,
        &KILLS,
        &FINAL_VALUE,
        &RUN_MS,
        &RECOVER_US_MEAN,
        &RECOVER_US_P50,
        &RECOVER_US_P99,
        &RECOVER_US_MAX,
    ],
    charts: &[
        Chart::Bars(Bars {
            id: "recovery-lost",
            title: "Updates lost and calls failed when the state owner dies",
            caption: "Acknowledged updates missing after the state's owner was killed and \
                      restarted, and calls that failed meanwhile (counts).",
            y_desc: "updates or calls (count)",
            groups: &[
                (&LOST_UPDATES, "lost updates"),
                (&FAILED_CALLS, "failed calls"),
            ],
            filter: Filter::All,
            y: YScale::Fit,
        }),
        Chart::Bars(Bars {
            id: "recovery-latency",
            title: "Kill to serving again",
            caption: "Time from killing the state's owner until calls are answered again, in \
                      microseconds: median, 99th percentile and worst of the kill cycles.",
            y_desc: "time until served again (µs)",
            groups: &[
                (&RECOVER_US_P50, "p50"),
                (&RECOVER_US_P99, "p99"),
                (&RECOVER_US_MAX, "max"),
            ],
            filter: Filter::All,
            y: YScale::Fit,
        }),
    ],
    columns: &[
        Column::new(&LOST_UPDATES, "lost updates"),
        Column::new(&FAILED_CALLS, "failed calls"),
        Column::new(&RECOVER_US_P50, "kill to serving p50"),
        Column::new(&RECOVER_US_P99, "kill to serving p99"),
    ],
    ..Workload::new(
        "recovery",
        "Recovery of a registry table",
        "A counter worker registered by name is incremented by the driver and by concurrent \
         callers, then killed and restarted by its supervisor, over and over (some kills land \
         during the restarted worker's handover); acknowledged increments are checked against \
         the final value, and the time from each kill to the next answered call is recorded.",
        Subject::RecoverySchemes,
    )
};

/// Every backup scheme the recovery workload writes rows for, each a
/// [`Family::RecoveryScheme`].
pub fn identities() -> Vec<Identity> {
    Backup::ALL
        .iter()
        .map(|b| Identity::new(b.label(), Family::RecoveryScheme))
        .collect()
}

/// What the recovery workload does.
#[derive(Clone, Debug)]
pub struct RecoveryConfig {
    /// Kill cycles per backup.
    pub cycles: usize,
    /// Caller tasks incrementing concurrently the whole time.
    pub callers: usize,
    /// Increments the driver itself makes (and sees acknowledged) before each kill.
    pub increments_per_cycle: usize,
    /// Every this many cycles (0: never) the restarted worker is killed again as soon as it
    /// is registered, so the kill lands during its handover (`init`).
    pub handover_kill_every: usize,
    /// See [`CounterOpts::handover_delay`].
    pub handover_delay: Duration,
    /// Timeout of each call.
    pub call_timeout: Duration,
    /// How long a restart may take before the run fails.
    pub serve_deadline: Duration,
}

impl RecoveryConfig {
    /// The full workload: 1e4 cycles, 4 callers, 3 increments a cycle (as seed 001's
    /// `Demo.run`), a handover kill every 10th cycle.
    pub fn full() -> Self {
        RecoveryConfig {
            cycles: 10_000,
            callers: 4,
            increments_per_cycle: 3,
            handover_kill_every: 10,
            handover_delay: Duration::ZERO,
            call_timeout: Duration::from_secs(1),
            serve_deadline: Duration::from_secs(5),
        }
    }

    /// As [`full`](Self::full) with 1e2 cycles.
    pub fn quick() -> Self {
        RecoveryConfig {
            cycles: 100,
            ..Self::full()
        }
    }

    /// [`quick`](Self::quick) when `NAMING_BENCH_QUICK=1`, else [`full`](Self::full).
    pub fn from_env() -> Self {
        if quick_mode() {
            Self::quick()
        } else {
            Self::full()
        }
    }

    /// The parameters of result rows: `cycles`, `callers`, `increments_per_cycle`,
    /// `handover_kill_every`, `handover_delay_us`.
    pub fn params(&self) -> Params {
        Params::new()
            .with("cycles", self.cycles)
            .with("callers", self.callers)
            .with("increments_per_cycle", self.increments_per_cycle)
            .with("handover_kill_every", self.handover_kill_every)
            .with("handover_delay_us", self.handover_delay.as_micros())
    }
}

/// What one recovery run saw.
#[derive(Clone, Debug)]
pub struct RecoveryRun {
    /// The backup used.
    pub backup: Backup,
    /// Kills made (cycles plus handover kills).
    pub kills: usize,
    /// Every acknowledged increment's returned value, driver's and callers'.
    pub acked: Vec<u64>,
    /// Calls that failed (no worker, worker died, timeout): not acknowledged, not lost.
    pub failed_calls: u64,
    /// The counter's value at the end.
    pub final_value: u64,
    /// Per cycle, time from the kill to a new worker answering a call.
    pub recover: Vec<Duration>,
    /// Wall time of the kill cycles (callers running).
    pub elapsed: Duration,
}

impl RecoveryRun {
    /// Acknowledged increments whose effect is gone: see [`lost_updates`].
    pub fn lost_updates(&self) -> u64 {
        lost_updates(&self.acked, self.final_value)
    }

    /// The run as rows of [`RECOVERY`], one per metric it declares, at `params`.
    pub fn rows(&self, params: &Params) -> Vec<Row> {
        let label = self.backup.label();
        let row = |metric: &Metric, value: f64| RECOVERY.row(label, params, metric, value);
        let mut us: Vec<f64> = self.recover.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        us.sort_by(f64::total_cmp);
        let pct = |p: f64| -> f64 {
            if us.is_empty() {
                0.0
            } else {
                us[(((us.len() - 1) as f64) * p).round() as usize]
            }
        };
        let mean = if us.is_empty() {
            0.0
        } else {
            us.iter().sum::<f64>() / us.len() as f64
        };
        let lost = self.lost_updates();
        let acked = self.acked.len() as u64;
        vec![
            row(&LOST_UPDATES, lost as f64),
            row(&ACKED_INCREMENTS, acked as f64),
            row(
                &APPLIED_UNACKED,
                self.final_value.saturating_sub(acked.saturating_sub(lost)) as f64,
            ),
            row(&FAILED_CALLS, self.failed_calls as f64),
            row(&KILLS, self.kills as f64),
            row(&FINAL_VALUE, self.final_value as f64),
            row(&RUN_MS, self.elapsed.as_secs_f64() * 1e3),
            row(&RECOVER_US_MEAN, mean),
            row(&RECOVER_US_P50, pct(0.5)),
            row(&RECOVER_US_P99, pct(0.99)),
            row(&RECOVER_US_MAX, pct(1.0)),
        ]
    }
}

/// Acknowledged increments that were lost, from the values the increments returned.
///
/// Every increment adds one to a counter that, without loss, never goes back; so without
/// loss every acknowledged value is distinct (an increment applied but not acknowledged
/// only skips a value) and the final value is at least the largest one acknowledged. A
/// restart from stale state makes later increments return values already returned, and
/// a final value below the largest acknowledged one shows a loss no later increment
/// repeated. Lost = repeated values + `max(0, largest acknowledged - final)`.
pub fn lost_updates(acked: &[u64], final_value: u64) -> u64 {
    let distinct: HashSet<u64> = acked.iter().copied().collect();
    let repeated = (acked.len() - distinct.len()) as u64;
    let max = acked.iter().copied().max().unwrap_or(0);
    repeated + max.saturating_sub(final_value)
}

/// Runs `config.cycles` kill cycles against a fresh service with backup `backup`.
///
/// Each cycle: the driver makes `increments_per_cycle` acknowledged increments, kills the
/// worker, waits for its exit (as `Demo.kill_and_wait` does), optionally kills the next
/// worker during its handover, and times until a new worker answers. `callers` tasks
/// increment throughout and retry after failures.
pub async fn run_recovery<N: Naming>(
    rt: &Runtime,
    naming: &N,
    backup: Backup,
    config: &RecoveryConfig,
    id: u64,
) -> Result<RecoveryRun, CounterError> {
    let opts = CounterOpts {
        id,
        handover_delay: config.handover_delay,
        call_timeout: config.call_timeout,
        ..CounterOpts::default()
    };
    let service = Arc::new(CounterService::start(rt, naming, backup, opts).await?);
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..config.callers)
        .map(|_| {
            let (service, stop) = (service.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut acked, mut failed) = (Vec::new(), 0u64);
                while !stop.load(Ordering::Relaxed) {
                    match service.increment().await {
                        Ok(v) => acked.push(v),
                        Err(_) => {
                            failed += 1;
                            // Back off a little, as a client would, instead of spinning.
                            tokio::time::sleep(Duration::from_micros(100)).await;
                        }
                    }
                }
                (acked, failed)
            })
        })
        .collect();

    let started = Instant::now();
    let result = drive(&service, config).await;
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (mut acked, mut failed_calls, kills, recover) = match result {
        Ok(driven) => driven,
        Err(e) => {
            for c in callers {
                let _ = c.await;
            }
            return Err(e);
        }
    };
    for c in callers {
        if let Ok((a, f)) = c.await {
            acked.extend(a);
            failed_calls += f;
        }
    }
    let final_value = get_within(&service, config.serve_deadline).await?;
    if let Ok(service) = Arc::try_unwrap(service) {
        service.shutdown().await;
    }
    Ok(RecoveryRun {
        backup,
        kills,
        acked,
        failed_calls,
        final_value,
        recover,
        elapsed,
    })
}

/// The counter's value, retrying while a worker restarts.
async fn get_within<N: Naming>(
    service: &CounterService<N>,
    deadline: Duration,
) -> Result<u64, CounterError> {
    let start = Instant::now();
    loop {
        match service.get().await {
            Ok(v) => return Ok(v),
            Err(_) if start.elapsed() < deadline => tokio::task::yield_now().await,
            Err(_) => return Err(CounterError::NotServing(deadline)),
        }
    }
}

type Driven = (Vec<u64>, u64, usize, Vec<Duration>);

async fn drive<N: Naming>(
    service: &CounterService<N>,
    config: &RecoveryConfig,
) -> Result<Driven, CounterError> {
    let mut acked = Vec::new();
    let mut failed = 0u64;
    let mut kills = 0usize;
    let mut recover = Vec::with_capacity(config.cycles);
    for cycle in 0..config.cycles {
        for _ in 0..config.increments_per_cycle {
            let start = Instant::now();
            loop {
                match service.increment().await {
                    Ok(v) => {
                        acked.push(v);
                        break;
                    }
                    Err(_) if start.elapsed() < config.serve_deadline => {
                        failed += 1;
                        tokio::task::yield_now().await;
                    }
                    Err(_) => return Err(CounterError::NotServing(config.serve_deadline)),
                }
            }
        }
        let worker = service.kill_worker().await?;
        let killed_at = Instant::now();
        kills += 1;
        worker.exited().await;
        let mut last = worker.pid();
        if config.handover_kill_every > 0 && cycle % config.handover_kill_every == 0 {
            // Kill the next worker as soon as it is registered: before or during its handover.
            let next = service
                .await_new_worker(last, config.serve_deadline)
                .await?;
            next.kill();
            kills += 1;
            next.exited().await;
            last = next.pid();
        }
        service.await_serving(last, config.serve_deadline).await?;
        recover.push(killed_at.elapsed());
    }
    Ok((acked, failed, kills, recover))
}

/// Runs the workload for all three backups, each on a fresh runtime handle and registry,
/// and returns their rows, all of [`RECOVERY`] at [`RecoveryConfig::params`].
pub async fn recovery_rows(config: &RecoveryConfig) -> Result<Vec<Row>, CounterError> {
    let params = config.params();
    let mut rows = Vec::new();
    for (i, backup) in Backup::ALL.into_iter().enumerate() {
        let rt = Runtime::new();
        let registry: Registry<DashMapTable> = Registry::new(1);
        let run = run_recovery(&rt, &registry, backup, config, i as u64).await?;
        rows.extend(run.rows(&params));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declaration_is_consistent() {
        assert!(RECOVERY.problems().is_empty(), "{:?}", RECOVERY.problems());
        let labels: Vec<_> = identities().iter().map(|i| i.label).collect();
        assert_eq!(labels, ["supervisor-table", "keeper-heir", "no-backup"]);
        let run = RecoveryRun {
            backup: Backup::KeeperHeir,
            kills: 2,
            acked: vec![1, 2, 3],
            failed_calls: 1,
            final_value: 4,
            recover: vec![Duration::from_micros(10), Duration::from_micros(30)],
            elapsed: Duration::from_millis(1),
        };
        let rows = run.rows(&RecoveryConfig::quick().params());
        assert_eq!(rows.len(), RECOVERY.metrics.len());
        for (r, m) in rows.iter().zip(RECOVERY.metrics) {
            assert_eq!(
                (r.metric.as_str(), r.unit.as_str()),
                (m.name, m.unit.symbol())
            );
        }
        assert_eq!(rows[0].value(), Some(0.0));
        assert_eq!(rows[2].value(), Some(1.0)); // applied_unacked: 4 - 3
        assert_eq!(rows[0].params.num("cycles"), Some(100.0));
    }

    #[test]
    fn lost_updates_counts_repeats_and_a_low_final_value() {
        assert_eq!(lost_updates(&[1, 2, 3, 5, 6], 7), 0);
        // Reset to zero after 3: the next three increments repeat 1, 2, 3.
        assert_eq!(lost_updates(&[1, 2, 3, 1, 2, 3], 3), 3);
        // Reset after 5 with only one increment since: all five earlier ones are gone.
        assert_eq!(lost_updates(&[1, 2, 3, 4, 5, 1], 1), 5);
        assert_eq!(lost_updates(&[], 0), 0);
    }
}

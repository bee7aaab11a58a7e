//! The reshard workload: what changing the shard count costs under each router.
//!
//! For each router and shard count K, over keys `0..N` hashed with [`key_hash`]:
//!
//! - **movement**: the fraction of keys whose shard changes on K -> K+1 and on K -> K-1
//!   (removing shard K-1), and its ratio to the minimum any balanced router must move
//!   (1/(K+1) on growth, 1/K on shrink); plus the *excess*, keys moved between shards that
//!   both exist before and after (zero for a minimal-disruption router);
//! - **balance**: max/mean keys per shard, and the observed standard deviation of the
//!   per-shard counts over the binomial one, `sqrt((N/K)(1 - 1/K))`, which a uniformly
//!   random assignment would show (so 1.0 is "as good as random", above 1 is worse);
//! - **lookup** time in ns per key, and as a multiple of modulo's at the same K;
//! - **memory** of the router in bytes, and its **build** time in ns.
//!
//! Everything is computed by plain functions returning plain rows, so a bench writes them
//! as CSV and a report plots them; only the timings depend on the machine.

use std::hint::black_box;
use std::time::{Duration, Instant};

use super::{key_hash, Router, RouterSpec, ShardError, ShardRouter};

/// One result: `backend,workload,params,metric,value`, the CSV shape every workload writes.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultRow {
    /// The router or backend measured, e.g. `rendezvous`.
    pub backend: String,
    /// The workload, e.g. `reshard`.
    pub workload: &'static str,
    /// Parameters as `key=value` pairs joined by `;`, e.g. `k=16;keys=1000000;vnodes=160`.
    pub params: String,
    /// What was measured, e.g. `moved_ratio_grow`.
    pub metric: &'static str,
    /// The measured value.
    pub value: f64,
}

/// Whether `NAMING_BENCH_QUICK` asks for the quick mode (set and not `0` or empty).
pub fn quick_mode() -> bool {
    std::env::var("NAMING_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// What the reshard workload measures.
#[derive(Clone, Debug)]
pub struct ReshardConfig {
    /// The shard counts K.
    pub shard_counts: Vec<usize>,
    /// Keys `0..keys` are routed (the issue asks for 1e6).
    pub keys: usize,
    /// The routers with their parameters.
    pub routers: Vec<RouterSpec>,
    /// Distinct pre-hashed keys the lookup timing cycles over (kept small to stay in cache).
    pub lookup_keys: usize,
    /// Wall time of one lookup timing sample; the median of `samples` is reported.
    pub lookup_sample: Duration,
    /// Timing samples per lookup and build measurement.
    pub samples: usize,
}

impl ReshardConfig {
    /// Ring points per shard the trade-off sweep uses (160 is the default).
    pub const RING_VNODES_SWEEP: [usize; 4] = [10, 40, 160, 640];
    /// Maglev table sizes the trade-off sweep uses (all prime; 655 373 is the default).
    pub const MAGLEV_SIZE_SWEEP: [usize; 4] = [4_099, 65_537, 655_373, 6_553_577];

    /// The full workload: K in 4, 16, 64, 256, 1e6 keys, every router at its default plus
    /// the ring-vnodes and Maglev-size sweeps.
    pub fn full() -> Self {
        let mut routers = RouterSpec::defaults().to_vec();
        for vnodes in Self::RING_VNODES_SWEEP {
            let spec = RouterSpec::Ring { vnodes };
            if !routers.contains(&spec) {
                routers.push(spec);
            }
        }
        for table_size in Self::MAGLEV_SIZE_SWEEP {
            let spec = RouterSpec::Maglev { table_size };
            if !routers.contains(&spec) {
                routers.push(spec);
            }
        }
        ReshardConfig {
            shard_counts: vec![4, 16, 64, 256],
            keys: 1_000_000,
            routers,
            lookup_keys: 4096,
            lookup_sample: Duration::from_millis(20),
            samples: 7,
        }
    }

    /// As [`full`](Self::full) with 1e5 keys and shorter timing samples.
    pub fn quick() -> Self {
        ReshardConfig {
            keys: 100_000,
            lookup_sample: Duration::from_millis(5),
            samples: 3,
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
}

/// How keys move and spread for one router at one K: the counts behind the reshard rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Movement {
    /// The shard count K.
    pub shards: usize,
    /// Keys routed.
    pub keys: usize,
    /// Keys whose shard changes on K -> K+1.
    pub moved_grow: usize,
    /// Of those, keys that moved to an old shard rather than to the new shard K.
    pub excess_grow: usize,
    /// Keys whose shard changes on K -> K-1 (shard K-1 removed); 0 when K = 1.
    pub moved_shrink: usize,
    /// Of those, keys that were not on the removed shard.
    pub excess_shrink: usize,
    /// Keys per shard at K.
    pub loads: Vec<usize>,
}

impl Movement {
    /// Fraction of keys moved on growth.
    pub fn grow_fraction(&self) -> f64 {
        ratio(self.moved_grow, self.keys)
    }

    /// Moved fraction on growth over the minimum 1/(K+1).
    pub fn grow_ratio(&self) -> f64 {
        self.grow_fraction() * (self.shards + 1) as f64
    }

    /// Fraction of keys moved on shrink.
    pub fn shrink_fraction(&self) -> f64 {
        ratio(self.moved_shrink, self.keys)
    }

    /// Moved fraction on shrink over the minimum 1/K (0 when K = 1: nothing to shrink to).
    pub fn shrink_ratio(&self) -> f64 {
        if self.shards < 2 {
            0.0
        } else {
            self.shrink_fraction() * self.shards as f64
        }
    }

    /// Most keys on one shard over the mean.
    pub fn max_over_mean(&self) -> f64 {
        let mean = self.keys as f64 / self.shards as f64;
        let max = self.loads.iter().copied().max().unwrap_or(0) as f64;
        if mean > 0.0 {
            max / mean
        } else {
            0.0
        }
    }

    /// Observed standard deviation of the per-shard counts over the binomial
    /// `sqrt((N/K)(1 - 1/K))` (0 when K = 1).
    pub fn stddev_ratio(&self) -> f64 {
        let k = self.shards as f64;
        let n = self.keys as f64;
        let mean = n / k;
        let var = self
            .loads
            .iter()
            .map(|&l| (l as f64 - mean).powi(2))
            .sum::<f64>()
            / k;
        let binomial = (mean * (1.0 - 1.0 / k)).sqrt();
        if binomial > 0.0 {
            var.sqrt() / binomial
        } else {
            0.0
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Routes keys `0..keys` under `spec` at K, K+1 and K-1 and counts what moves.
///
/// Work is split over the available cores; the result does not depend on how.
pub fn movement(spec: RouterSpec, shards: usize, keys: usize) -> Result<Movement, ShardError> {
    let at = spec.build(shards)?;
    let grown = spec.build(shards.saturating_add(1))?;
    let shrunk = if shards > 1 {
        Some(spec.build(shards - 1)?)
    } else {
        None
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 16);
    let chunk = keys.div_ceil(threads).max(1);
    let parts: Vec<Movement> = std::thread::scope(|scope| {
        let (at, grown, shrunk) = (&at, &grown, shrunk.as_ref());
        let mut parts = Vec::new();
        let mut handles = Vec::new();
        for start in (0..keys).step_by(chunk) {
            let range = start..(start + chunk).min(keys);
            match std::thread::Builder::new().spawn_scoped(scope, {
                let range = range.clone();
                move || count_range(at, grown, shrunk, range)
            }) {
                Ok(handle) => handles.push(handle),
                // No thread to be had: count this part here instead.
                Err(_) => parts.push(count_range(at, grown, shrunk, range)),
            }
        }
        for handle in handles {
            parts.push(
                handle
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            );
        }
        parts
    });
    let mut total = Movement {
        shards,
        keys: 0,
        moved_grow: 0,
        excess_grow: 0,
        moved_shrink: 0,
        excess_shrink: 0,
        loads: vec![0; shards],
    };
    for p in parts {
        total.keys += p.keys;
        total.moved_grow += p.moved_grow;
        total.excess_grow += p.excess_grow;
        total.moved_shrink += p.moved_shrink;
        total.excess_shrink += p.excess_shrink;
        for (t, l) in total.loads.iter_mut().zip(&p.loads) {
            *t += l;
        }
    }
    Ok(total)
}

fn count_range(
    at: &Router,
    grown: &Router,
    shrunk: Option<&Router>,
    keys: std::ops::Range<usize>,
) -> Movement {
    let k = at.shards();
    let mut m = Movement {
        shards: k,
        keys: keys.len(),
        moved_grow: 0,
        excess_grow: 0,
        moved_shrink: 0,
        excess_shrink: 0,
        loads: vec![0; k],
    };
    for key in keys {
        let h = key_hash(key as u64);
        let s = at.shard(h);
        if let Some(l) = m.loads.get_mut(s) {
            *l += 1;
        }
        let g = grown.shard(h);
        if g != s {
            m.moved_grow += 1;
            if g != k {
                m.excess_grow += 1;
            }
        }
        if let Some(shrunk) = shrunk {
            if shrunk.shard(h) != s {
                m.moved_shrink += 1;
                if s != k - 1 {
                    m.excess_shrink += 1;
                }
            }
        }
    }
    m
}

/// Median ns per lookup of `router` over `hashes`, each sample running about `sample` long.
pub fn lookup_ns(router: &Router, hashes: &[u64], sample: Duration, samples: usize) -> f64 {
    match router {
        Router::Modulo(r) => time_lookups(r, hashes, sample, samples),
        Router::Rendezvous(r) => time_lookups(r, hashes, sample, samples),
        Router::Ring(r) => time_lookups(r, hashes, sample, samples),
        Router::Jump(r) => time_lookups(r, hashes, sample, samples),
        Router::Maglev(r) => time_lookups(r, hashes, sample, samples),
    }
}

/// Statically dispatched timing loop, so the measurement is the router's, not a `match`.
fn time_lookups<R: ShardRouter>(r: &R, hashes: &[u64], sample: Duration, samples: usize) -> f64 {
    if hashes.is_empty() {
        return 0.0;
    }
    let pass = |rounds: usize| {
        let start = Instant::now();
        let mut acc = 0usize;
        for _ in 0..rounds {
            for &h in hashes {
                acc = acc.wrapping_add(r.shard(black_box(h)));
            }
        }
        black_box(acc);
        start.elapsed()
    };
    // Calibrate: double the rounds until one pass takes a tenth of a sample.
    let mut rounds = 1usize;
    let mut took = pass(rounds);
    while took < sample / 10 && rounds < 1 << 30 {
        rounds *= 2;
        took = pass(rounds);
    }
    let per_pass = took.as_secs_f64().max(1e-9) / rounds as f64;
    let rounds = ((sample.as_secs_f64() / per_pass) as usize).max(1);
    let mut ns: Vec<f64> = (0..samples.max(1))
        .map(|_| pass(rounds).as_secs_f64() * 1e9 / (rounds * hashes.len()) as f64)
        .collect();
    median(&mut ns)
}

/// Median ns to build `spec` over `shards` shards, over `samples` builds.
pub fn build_ns(spec: RouterSpec, shards: usize, samples: usize) -> Result<f64, ShardError> {
    let mut ns = Vec::with_capacity(samples.max(1));
    for _ in 0..samples.max(1) {
        let start = Instant::now();
        let r = spec.build(shards)?;
        let took = start.elapsed();
        black_box(&r);
        ns.push(took.as_secs_f64() * 1e9);
    }
    Ok(median(&mut ns))
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => 0.0,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// Runs the reshard workload and returns its rows (`workload = "reshard"`).
///
/// Per router and K: `moved_fraction_grow`, `moved_ratio_grow`, `excess_fraction_grow`,
/// `moved_fraction_shrink`, `moved_ratio_shrink`, `excess_fraction_shrink`,
/// `load_max_over_mean`, `load_stddev_ratio`, `lookup_ns`, `lookup_vs_modulo` (when modulo
/// is among the routers), `memory_bytes`, `build_ns`. `params` reads `k=..;keys=..` plus
/// the router's own parameters.
pub fn reshard_rows(config: &ReshardConfig) -> Result<Vec<ResultRow>, ShardError> {
    let hashes: Vec<u64> = (0..config.lookup_keys as u64)
        .map(|i| key_hash(i.wrapping_mul(0x2545_F491_4F6C_DD1D)))
        .collect();
    let mut rows = Vec::new();
    let mut modulo_ns: Vec<(usize, f64)> = Vec::new();
    let mut lookups: Vec<(usize, usize, f64)> = Vec::new(); // (row index of lookup_ns, k, ns)
    for &k in &config.shard_counts {
        for &spec in &config.routers {
            let mut params = format!("k={k};keys={}", config.keys);
            let own = spec.params();
            if !own.is_empty() {
                params.push(';');
                params.push_str(&own);
            }
            let row = |metric: &'static str, value: f64| ResultRow {
                backend: spec.label().to_string(),
                workload: "reshard",
                params: params.clone(),
                metric,
                value,
            };
            let m = movement(spec, k, config.keys)?;
            let router = spec.build(k)?;
            let ns = lookup_ns(&router, &hashes, config.lookup_sample, config.samples);
            if spec == RouterSpec::Modulo {
                modulo_ns.push((k, ns));
            }
            rows.push(row("moved_fraction_grow", m.grow_fraction()));
            rows.push(row("moved_ratio_grow", m.grow_ratio()));
            rows.push(row("excess_fraction_grow", ratio(m.excess_grow, m.keys)));
            if k > 1 {
                rows.push(row("moved_fraction_shrink", m.shrink_fraction()));
                rows.push(row("moved_ratio_shrink", m.shrink_ratio()));
                rows.push(row(
                    "excess_fraction_shrink",
                    ratio(m.excess_shrink, m.keys),
                ));
            }
            rows.push(row("load_max_over_mean", m.max_over_mean()));
            rows.push(row("load_stddev_ratio", m.stddev_ratio()));
            lookups.push((rows.len(), k, ns));
            rows.push(row("lookup_ns", ns));
            rows.push(row("memory_bytes", router.memory_bytes() as f64));
            rows.push(row("build_ns", build_ns(spec, k, config.samples)?));
        }
    }
    // `lookup_vs_modulo` goes right after each `lookup_ns`, inserted back to front.
    for &(i, k, ns) in lookups.iter().rev() {
        if let Some(&(_, base)) = modulo_ns.iter().find(|(mk, _)| *mk == k) {
            let mut r = rows[i].clone();
            r.metric = "lookup_vs_modulo";
            r.value = if base > 0.0 { ns / base } else { 0.0 };
            rows.insert(i + 1, r);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_workload_has_every_metric() {
        let config = ReshardConfig {
            shard_counts: vec![1, 4],
            keys: 2000,
            routers: RouterSpec::defaults().to_vec(),
            lookup_keys: 64,
            lookup_sample: Duration::from_micros(200),
            samples: 1,
        };
        let rows = reshard_rows(&config).unwrap();
        for spec in RouterSpec::defaults() {
            for metric in ["moved_ratio_grow", "lookup_vs_modulo", "build_ns"] {
                assert!(
                    rows.iter()
                        .any(|r| r.backend == spec.label() && r.metric == metric),
                    "{} {metric}",
                    spec.label()
                );
            }
        }
        // K = 1 has nothing to shrink to, so no shrink rows.
        assert!(!rows
            .iter()
            .any(|r| r.params.starts_with("k=1;") && r.metric == "moved_ratio_shrink"));
    }

    #[test]
    fn movement_splits_add_up() {
        let m = movement(RouterSpec::Jump, 8, 10_001).unwrap();
        assert_eq!(m.keys, 10_001);
        assert_eq!(m.loads.iter().sum::<usize>(), 10_001);
        assert_eq!(m.excess_grow, 0);
        assert_eq!(m.excess_shrink, 0);
    }
}

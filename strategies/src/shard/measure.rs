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
//! as CSV and a report plots them; only the timings depend on the machine. What the rows
//! mean (units, better directions, ideals) and how the report shows them (charts, summary
//! columns) is declared here too, in [`RESHARD`] and its metric constants.

use std::hint::black_box;
use std::time::{Duration, Instant};

use naming_schema::{
    Better, Chart, Column, Family, Identity, Line, Metric, Params, Row, Subject, Sweep, Unit,
    Workload,
};

use super::{key_hash, Router, RouterSpec, ShardError, ShardRouter};

/// Fraction of keys whose shard changes on K -> K+1.
pub const MOVED_FRACTION_GROW: Metric = Metric::new(
    "moved_fraction_grow",
    "keys moved on grow",
    Unit::Fraction,
    Better::Lower,
);
/// Keys moved on K -> K+1 over the minimum 1/(K+1): at best 1.0.
pub const MOVED_RATIO_GROW: Metric = Metric::new(
    "moved_ratio_grow",
    "keys moved on grow over the minimum",
    Unit::Ratio,
    Better::Lower,
)
.with_ideal(1.0);
/// Fraction of keys moved on K -> K+1 between shards that exist before and after: at best 0.
pub const EXCESS_FRACTION_GROW: Metric = Metric::new(
    "excess_fraction_grow",
    "keys moved between old shards on grow",
    Unit::Fraction,
    Better::Lower,
)
.with_ideal(0.0);
/// Fraction of keys whose shard changes on K -> K-1 (the last shard removed).
pub const MOVED_FRACTION_SHRINK: Metric = Metric::new(
    "moved_fraction_shrink",
    "keys moved on shrink",
    Unit::Fraction,
    Better::Lower,
);
/// Keys moved on K -> K-1 over the minimum 1/K: at best 1.0.
pub const MOVED_RATIO_SHRINK: Metric = Metric::new(
    "moved_ratio_shrink",
    "keys moved on shrink over the minimum",
    Unit::Ratio,
    Better::Lower,
)
.with_ideal(1.0);
/// Fraction of keys moved on K -> K-1 that were not on the removed shard: at best 0.
pub const EXCESS_FRACTION_SHRINK: Metric = Metric::new(
    "excess_fraction_shrink",
    "keys moved off surviving shards on shrink",
    Unit::Fraction,
    Better::Lower,
)
.with_ideal(0.0);
/// Most keys on one shard over the mean: at best 1.0 (perfect balance).
pub const LOAD_MAX_OVER_MEAN: Metric = Metric::new(
    "load_max_over_mean",
    "max over mean keys per shard",
    Unit::Ratio,
    Better::Lower,
)
.with_ideal(1.0);
/// Standard deviation of keys per shard over the binomial one: 1.0 is as good as a uniformly
/// random assignment; a router may do better (no ideal).
pub const LOAD_STDDEV_RATIO: Metric = Metric::new(
    "load_stddev_ratio",
    "stddev of keys per shard over binomial",
    Unit::Ratio,
    Better::Lower,
);
/// Median time to map one key to its shard.
pub const LOOKUP_NS: Metric = Metric::new("lookup_ns", "lookup time", Unit::Ns, Better::Lower);
/// Lookup time over modulo's at the same K (recorded when modulo is measured).
pub const LOOKUP_VS_MODULO: Metric = Metric::new(
    "lookup_vs_modulo",
    "lookup time over modulo's",
    Unit::Ratio,
    Better::Lower,
);
/// Bytes the router occupies, its own size plus its tables.
pub const MEMORY_BYTES: Metric =
    Metric::new("memory_bytes", "router memory", Unit::Bytes, Better::Lower);
/// Median time to build the router.
pub const BUILD_NS: Metric = Metric::new("build_ns", "build time", Unit::Ns, Better::Lower);

/// The reshard workload: what changing the shard count costs under each router. Every
/// router variant (ring vnodes, Maglev table size) is one series of each chart.
pub const RESHARD: Workload = Workload {
    metrics: &[
        &MOVED_FRACTION_GROW,
        &MOVED_RATIO_GROW,
        &EXCESS_FRACTION_GROW,
        &MOVED_FRACTION_SHRINK,
        &MOVED_RATIO_SHRINK,
        &EXCESS_FRACTION_SHRINK,
        &LOAD_MAX_OVER_MEAN,
        &LOAD_STDDEV_RATIO,
        &LOOKUP_NS,
        &LOOKUP_VS_MODULO,
        &MEMORY_BYTES,
        &BUILD_NS,
    ],
    variant_params: &["vnodes", "table_size"],
    charts: &[
        Chart::Sweep(Sweep {
            caption: "Keys moved on a reshard over the least any balanced router must move: \
                      solid, adding a shard (K -> K+1, over 1/(K+1)); dashed, removing the last \
                      one (K -> K-1, over 1/K). 1.0 is minimal disruption. Every router and \
                      variant is a series; panels share the y axis.",
            x_desc: "shards K before the change (count)",
            y_desc: "keys moved / minimum (ratio)",
            refs: &[("minimal disruption 1.0", 1.0)],
            notes: &["solid: adding a shard; dashed: removing one"],
            ..Sweep::new(
                "reshard-moved",
                "Keys moved on a reshard, over the minimum",
                "k",
                &[
                    Line::solid(&MOVED_RATIO_GROW),
                    Line::dashed(&MOVED_RATIO_SHRINK),
                ],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Balance: the standard deviation of keys per shard over that of a \
                      uniformly random assignment (the binomial limit): 1.0 is as good as \
                      random, above is worse.",
            x_desc: "shards K (count)",
            y_desc: "stddev of keys per shard / binomial stddev (ratio)",
            refs: &[("binomial limit 1.0", 1.0)],
            ..Sweep::new(
                "reshard-balance",
                "Shard balance over the binomial limit",
                "k",
                &[Line::solid(&LOAD_STDDEV_RATIO)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Time to map one key to its shard, in nanoseconds (median of timing \
                      samples over a cached set of pre-hashed keys).",
            x_desc: "shards K (count)",
            y_desc: "time per key lookup (ns)",
            ..Sweep::new(
                "reshard-lookup",
                "Router lookup time",
                "k",
                &[Line::solid(&LOOKUP_NS)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Heap bytes of the router's own state (tables, rings), against the shard \
                      count.",
            x_desc: "shards K (count)",
            y_desc: "router state (bytes)",
            ..Sweep::new(
                "reshard-memory",
                "Router memory",
                "k",
                &[Line::solid(&MEMORY_BYTES)],
            )
        }),
        Chart::Sweep(Sweep {
            caption: "Median time to build the router for K shards (its tables, rings), in \
                      nanoseconds.",
            x_desc: "shards K (count)",
            y_desc: "build time (ns)",
            ..Sweep::new(
                "reshard-build",
                "Router build time",
                "k",
                &[Line::solid(&BUILD_NS)],
            )
        }),
    ],
    columns: &[
        Column::new(&MOVED_FRACTION_GROW, "moved on grow"),
        Column::new(&MOVED_RATIO_GROW, "moved on grow / minimum"),
        Column::new(&MOVED_FRACTION_SHRINK, "moved on shrink"),
        Column::new(&MOVED_RATIO_SHRINK, "moved on shrink / minimum"),
        Column::new(&EXCESS_FRACTION_GROW, "excess moves on grow"),
        Column::new(&LOAD_MAX_OVER_MEAN, "max/mean load"),
        Column::new(&LOAD_STDDEV_RATIO, "stddev / binomial"),
        Column::new(&LOOKUP_NS, "lookup"),
        Column::new(&LOOKUP_VS_MODULO, "lookup vs modulo"),
        Column::new(&MEMORY_BYTES, "memory"),
        Column::new(&BUILD_NS, "build"),
    ],
    ..Workload::new(
        "reshard",
        "Resharding: routers",
        "Keys 0..N are routed over K shards, then over K+1 and K-1 (the last shard removed), \
         counting the keys that change shard and how evenly they spread; each router's lookup \
         and build are timed (medians of samples; lookup samples taken round-robin over all \
         routers at one K, so they share the host's conditions; a build sample times as many \
         builds as fill about a millisecond) and its memory counted.",
        Subject::Routers,
    )
};

/// Every router label the reshard workload writes, each a [`Family::Router`].
pub fn identities() -> Vec<Identity> {
    RouterSpec::defaults()
        .iter()
        .map(|spec| Identity::new(spec.label(), Family::Router))
        .collect()
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
    /// Wall time of one build timing sample (as many builds as fit, at least one).
    pub build_sample: Duration,
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
            build_sample: Duration::from_millis(5),
            samples: 7,
        }
    }

    /// As [`full`](Self::full) with 1e5 keys and shorter timing samples.
    pub fn quick() -> Self {
        ReshardConfig {
            keys: 100_000,
            lookup_sample: Duration::from_millis(3),
            build_sample: Duration::from_millis(1),
            samples: 5,
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
    lookup_ns_all(std::slice::from_ref(router), hashes, sample, samples)[0]
}

/// Median ns per lookup of each of `routers` over `hashes`, each sample running about
/// `sample` long. The samples go round-robin over the routers (one of each, then the next),
/// so every router is timed across the same stretch of time: a slow spell of a shared host
/// costs each router one sample rather than all of one router's, and a ratio between two
/// routers compares like with like.
pub fn lookup_ns_all(
    routers: &[Router],
    hashes: &[u64],
    sample: Duration,
    samples: usize,
) -> Vec<f64> {
    if hashes.is_empty() {
        return vec![0.0; routers.len()];
    }
    let mut timers: Vec<Box<dyn FnMut(usize) -> Duration + '_>> = routers
        .iter()
        .map(|router| match router {
            Router::Modulo(r) => lookup_pass(r, hashes),
            Router::Rendezvous(r) => lookup_pass(r, hashes),
            Router::Ring(r) => lookup_pass(r, hashes),
            Router::Jump(r) => lookup_pass(r, hashes),
            Router::Maglev(r) => lookup_pass(r, hashes),
        })
        .collect();
    let rounds: Vec<usize> = timers.iter_mut().map(|t| calibrate(t, sample)).collect();
    let mut ns = vec![Vec::with_capacity(samples.max(1)); routers.len()];
    for _ in 0..samples.max(1) {
        for (i, t) in timers.iter_mut().enumerate() {
            let took = t(rounds[i]);
            ns[i].push(took.as_secs_f64() * 1e9 / (rounds[i] * hashes.len()) as f64);
        }
    }
    ns.iter_mut().map(|v| median(v)).collect()
}

/// A timed pass of `rounds` walks over `hashes` through `r`, statically dispatched so the
/// measurement is the router's, not a `match`.
fn lookup_pass<'a, R: ShardRouter>(
    r: &'a R,
    hashes: &'a [u64],
) -> Box<dyn FnMut(usize) -> Duration + 'a> {
    Box::new(move |rounds| {
        let start = Instant::now();
        let mut acc = 0usize;
        for _ in 0..rounds {
            for &h in hashes {
                acc = acc.wrapping_add(r.shard(black_box(h)));
            }
        }
        black_box(acc);
        start.elapsed()
    })
}

/// How many repetitions make one call of `pass` last about `sample`: doubled until a call
/// takes a tenth of it, then scaled.
fn calibrate(pass: &mut dyn FnMut(usize) -> Duration, sample: Duration) -> usize {
    let mut reps = 1usize;
    let mut took = pass(reps);
    while took < sample / 10 && reps < 1 << 30 {
        reps *= 2;
        took = pass(reps);
    }
    let per = took.as_secs_f64().max(1e-9) / reps as f64;
    ((sample.as_secs_f64() / per) as usize).max(1)
}

/// Median ns to build `spec` over `shards` shards, over `samples` samples; a sample times
/// as many builds back to back as take about `sample` (at least one), so a build faster
/// than the clock's resolution is still measured.
pub fn build_ns(
    spec: RouterSpec,
    shards: usize,
    sample: Duration,
    samples: usize,
) -> Result<f64, ShardError> {
    let mut failed = None;
    let mut builds = |n: usize| {
        let start = Instant::now();
        for _ in 0..n {
            if let Err(e) = black_box(spec.build(black_box(shards))) {
                failed = Some(e);
            }
        }
        start.elapsed()
    };
    let reps = calibrate(&mut builds, sample);
    let mut ns: Vec<f64> = (0..samples.max(1))
        .map(|_| builds(reps).as_secs_f64() * 1e9 / reps as f64)
        .collect();
    match failed {
        Some(e) => Err(e),
        None => Ok(median(&mut ns)),
    }
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => 0.0,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// Runs the reshard workload and returns its rows, all of [`RESHARD`].
///
/// Per router and K: every metric of [`RESHARD`] ([`LOOKUP_VS_MODULO`] only when modulo is
/// among the routers; the shrink metrics only for K > 1, since K = 1 has nothing to shrink
/// to). `params` reads `k` and `keys` plus the router's own parameters (`vnodes`,
/// `table_size`). An error means a router could not be built at some K.
pub fn reshard_rows(config: &ReshardConfig) -> Result<Vec<Row>, ShardError> {
    let hashes: Vec<u64> = (0..config.lookup_keys as u64)
        .map(|i| key_hash(i.wrapping_mul(0x2545_F491_4F6C_DD1D)))
        .collect();
    let mut rows = Vec::new();
    let mut modulo_ns: Vec<(usize, f64)> = Vec::new();
    // (row index of lookup_ns, k, ns): `lookup_vs_modulo` goes right after it.
    let mut lookups: Vec<(usize, usize, f64)> = Vec::new();
    for &k in &config.shard_counts {
        let built: Vec<Router> = config
            .routers
            .iter()
            .map(|spec| spec.build(k))
            .collect::<Result<_, _>>()?;
        let all_ns = lookup_ns_all(&built, &hashes, config.lookup_sample, config.samples);
        for ((&spec, router), ns) in config.routers.iter().zip(&built).zip(all_ns) {
            let params = spec.params_into(Params::new().with("k", k).with("keys", config.keys));
            let label = spec.label();
            let row = |metric: &Metric, value: f64| RESHARD.row(label, &params, metric, value);
            let m = movement(spec, k, config.keys)?;
            if spec == RouterSpec::Modulo {
                modulo_ns.push((k, ns));
            }
            rows.push(row(&MOVED_FRACTION_GROW, m.grow_fraction()));
            rows.push(row(&MOVED_RATIO_GROW, m.grow_ratio()));
            rows.push(row(&EXCESS_FRACTION_GROW, ratio(m.excess_grow, m.keys)));
            if k > 1 {
                rows.push(row(&MOVED_FRACTION_SHRINK, m.shrink_fraction()));
                rows.push(row(&MOVED_RATIO_SHRINK, m.shrink_ratio()));
                rows.push(row(&EXCESS_FRACTION_SHRINK, ratio(m.excess_shrink, m.keys)));
            }
            rows.push(row(&LOAD_MAX_OVER_MEAN, m.max_over_mean()));
            rows.push(row(&LOAD_STDDEV_RATIO, m.stddev_ratio()));
            lookups.push((rows.len(), k, ns));
            rows.push(row(&LOOKUP_NS, ns));
            rows.push(row(&MEMORY_BYTES, router.memory_bytes() as f64));
            rows.push(row(
                &BUILD_NS,
                build_ns(spec, k, config.build_sample, config.samples)?,
            ));
        }
    }
    // Inserted back to front, so earlier indices stay valid.
    for &(i, k, ns) in lookups.iter().rev() {
        if let Some(&(_, base)) = modulo_ns.iter().find(|(mk, _)| *mk == k) {
            let at = &rows[i];
            let vs = if base > 0.0 { ns / base } else { 0.0 };
            let r = RESHARD.row(&at.backend, &at.params, &LOOKUP_VS_MODULO, vs);
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
            build_sample: Duration::from_micros(200),
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
            .any(|r| r.params.num("k") == Some(1.0) && r.metric == "moved_ratio_shrink"));
        // Every row is a declared metric, in its unit, with a possible value.
        for r in &rows {
            let m = RESHARD.metric(&r.metric).expect("declared");
            assert_eq!(r.unit, m.unit.symbol());
            assert!(m.possible(r.value().unwrap()), "{r:?}");
        }
        let vnodes = rows
            .iter()
            .find(|r| r.backend == "ring")
            .and_then(|r| r.params.num("vnodes"));
        assert_eq!(vnodes, Some(RouterSpec::DEFAULT_RING_VNODES as f64));
    }

    #[test]
    fn declaration_is_consistent() {
        assert!(RESHARD.problems().is_empty(), "{:?}", RESHARD.problems());
        let labels: Vec<_> = identities().iter().map(|i| i.label).collect();
        assert_eq!(labels, ["modulo", "rendezvous", "ring", "jump", "maglev"]);
        assert!(identities().iter().all(|i| i.family == Family::Router));
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

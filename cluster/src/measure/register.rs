//! `multinode-register`: how fast one node of a cluster registers names, and how long a
//! name registered on one node takes to become visible on another (propagation).

use std::time::{Duration, Instant};

use naming_schema::{Bars, Better, Chart, Column, Filter, Metric, Params, Row};
use naming_schema::{Subject, Unit, Workload, YScale};

use super::{control, ctx, spawn_named, whereis, MultiNodeSpec};
use crate::harness::{Cluster, ClusterError};
use crate::wire::Backend;

/// Workers started and registered back to back on one node, per second.
pub const REGISTRATIONS_PER_SEC: Metric = Metric::new(
    "registrations_per_sec",
    "registration rate on one node",
    Unit::PerSec,
    Better::Higher,
);
/// Fraction of those registrations that succeeded (every name is fresh, so ideally all).
pub const REGISTERED_RATIO: Metric = Metric::new(
    "registered_ratio",
    "registrations that succeeded",
    Unit::Fraction,
    Better::Higher,
)
.with_ideal(1.0);
/// Median time from a registration returning on one node until another node finds it.
pub const PROPAGATION_P50: Metric = Metric::new(
    "propagation_p50_ms",
    "registered on A, visible on B: p50",
    Unit::Ms,
    Better::Lower,
);
/// Slowest such propagation among the samples.
pub const PROPAGATION_MAX: Metric = Metric::new(
    "propagation_max_ms",
    "registered on A, visible on B: max",
    Unit::Ms,
    Better::Lower,
);
/// Sampled names that never became visible on the other node within the deadline.
pub const NEVER_VISIBLE: Metric = Metric::new(
    "never_visible",
    "names never visible on the other node",
    Unit::Count,
    Better::Lower,
)
.with_ideal(0.0);

/// Registration rate on one node, and propagation to another.
pub const MULTINODE_REGISTER: Workload = Workload {
    metrics: &[
        &REGISTRATIONS_PER_SEC,
        &REGISTERED_RATIO,
        &PROPAGATION_P50,
        &PROPAGATION_MAX,
        &NEVER_VISIBLE,
    ],
    charts: &[
        Chart::Bars(Bars {
            id: "multinode-register-rate",
            title: "Registration rate on one node of a cluster",
            caption: "Workers started and registered back to back on one node, per second; `registry-local` is the single-node reference.",
            y_desc: "registrations per second (1/s)",
            groups: &[(&REGISTRATIONS_PER_SEC, "registrations")],
            filter: Filter::All,
            y: YScale::Fit,
        }),
        Chart::Bars(Bars {
            id: "multinode-propagation",
            title: "Registered on node A, visible on node B",
            caption: "Time from a registration returning on one node until another node's `whereis` finds it, in milliseconds (polled over the control connection, so about 0.2 ms is the resolution).",
            y_desc: "time until visible on another node (ms)",
            groups: &[(&PROPAGATION_P50, "p50"), (&PROPAGATION_MAX, "max")],
            filter: Filter::All,
            y: YScale::Fit,
        }),
    ],
    columns: &[Column::new(&PROPAGATION_P50, "propagation p50")],
    ..Workload::new(
        "multinode-register",
        "Multi-node: registration rate and propagation",
        "One node starts and registers workers back to back (the rate); then names are registered one at a time on that node while another node polls `whereis` until it finds each (the propagation).",
        Subject::Distributed,
    )
};

/// Registrations per second on `node`: `count` workers started and registered back to back.
pub async fn registration_rate(
    cluster: &Cluster,
    backend: Backend,
    node: u32,
    prefix: &str,
    count: usize,
) -> Result<(u64, f64), ClusterError> {
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}-{i}")).collect();
    let (ok, ns) = control(
        node,
        cluster
            .client(node)?
            .register_many(ctx(), backend, names)
            .await,
    )?;
    let rate = if ns > 0 {
        ok as f64 / (ns as f64 / 1e9)
    } else {
        0.0
    };
    Ok((ok, rate))
}

/// Time from "registered on `from`" to "visible on `to`", one sample per name; `None` for
/// a name that did not become visible before `deadline`.
pub async fn propagation(
    cluster: &Cluster,
    backend: Backend,
    from: u32,
    to: u32,
    prefix: &str,
    samples: usize,
    deadline: Duration,
) -> Result<Vec<Option<Duration>>, ClusterError> {
    let mut out = Vec::new();
    for i in 0..samples {
        let name = format!("{prefix}-{i}");
        let pid = match spawn_named(cluster, from, backend, &name).await? {
            Ok(pid) => pid,
            Err(_) => {
                out.push(None);
                continue;
            }
        };
        let t0 = Instant::now();
        let mut seen = None;
        while t0.elapsed() < deadline {
            if whereis(cluster, to, backend, &name).await? == Some(pid) {
                seen = Some(t0.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        out.push(seen);
    }
    Ok(out)
}

/// The rows of [`MULTINODE_REGISTER`]: for each of `backends`, the registration rate on
/// node `from`, then the propagation of names registered on `from` to node `to`.
pub(super) async fn register_rows(
    cluster: &Cluster,
    backends: &[Backend],
    spec: &MultiNodeSpec,
    base: &Params,
    (from, to): (u32, u32),
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Row>, ClusterError> {
    let w = &MULTINODE_REGISTER;
    let mut rows = Vec::new();
    for b in backends.iter().copied() {
        progress(&format!("{}: {}", w.name, b.label()));
        let (ok, rate) = registration_rate(
            cluster,
            b,
            from,
            &format!("rate-{}", b.label()),
            spec.registrations,
        )
        .await?;
        let params = base.clone().with("registrations", spec.registrations);
        rows.push(w.row(b.label(), &params, &REGISTRATIONS_PER_SEC, rate));
        let registered = ok as f64 / spec.registrations.max(1) as f64;
        rows.push(w.row(b.label(), &params, &REGISTERED_RATIO, registered));
        let params = base.clone().with("samples", spec.propagation_samples);
        if b == Backend::Local {
            rows.push(w.skip(
                b.label(),
                &params,
                "a single-node registry: names never reach other nodes",
            ));
            continue;
        }
        let samples = propagation(
            cluster,
            b,
            from,
            to,
            &format!("prop-{}", b.label()),
            spec.propagation_samples,
            spec.deadline,
        )
        .await?;
        let mut seen: Vec<f64> = samples
            .iter()
            .flatten()
            .map(|d| d.as_secs_f64() * 1e3)
            .collect();
        seen.sort_by(f64::total_cmp);
        if let Some(last) = seen.last() {
            let p50 = seen[seen.len() / 2];
            rows.push(w.row(b.label(), &params, &PROPAGATION_P50, p50));
            rows.push(w.row(b.label(), &params, &PROPAGATION_MAX, *last));
        }
        let never = (samples.len() - seen.len()) as f64;
        rows.push(w.row(b.label(), &params, &NEVER_VISIBLE, never));
    }
    Ok(rows)
}

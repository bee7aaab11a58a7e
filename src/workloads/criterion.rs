//! criterion: the micro-benchmarks' own estimates (mean time per iteration with its 95%
//! confidence interval), which the bench targets read from criterion's output and write
//! beside their workload's rows, one row set per benchmark at `bench=<group>;param=<p>`.

use naming_schema::{Better, Chart, Line, Metric, Params, Row, Subject, Sweep, Unit, Workload};

/// Criterion's mean time per iteration (its point estimate).
pub const MEAN_NS: Metric = Metric::new(
    "mean_ns",
    "mean time per iteration",
    Unit::Ns,
    Better::Lower,
);
/// The lower bound of the mean's 95% confidence interval.
pub const MEAN_NS_CI_LOW: Metric = Metric::new(
    "mean_ns_ci_low",
    "mean time per iteration, 95% CI low",
    Unit::Ns,
    Better::Lower,
);
/// The upper bound of the mean's 95% confidence interval.
pub const MEAN_NS_CI_HIGH: Metric = Metric::new(
    "mean_ns_ci_high",
    "mean time per iteration, 95% CI high",
    Unit::Ns,
    Better::Lower,
);

/// Criterion's estimates, one chart per criterion group (`bench`).
pub const CRITERION: Workload = Workload {
    metrics: &[&MEAN_NS, &MEAN_NS_CI_LOW, &MEAN_NS_CI_HIGH],
    charts: &[Chart::Sweep(Sweep {
        caption: "Criterion's mean time per iteration of each micro-benchmark, in nanoseconds, with its 95% confidence interval as whiskers, against the benchmark's parameter; one chart per benchmark group.",
        x_desc: "benchmark parameter",
        y_desc: "mean time per iteration (ns)",
        split_by: &["bench"],
        floors: true,
        ..Sweep::new(
            "criterion",
            "Micro-benchmarks (criterion)",
            "param",
            &[Line::solid(&MEAN_NS).with_whisker(&MEAN_NS_CI_LOW, &MEAN_NS_CI_HIGH)],
        )
    })],
    ..Workload::new(
        "criterion",
        "Micro-benchmarks",
        "Each bench target first runs criterion over every backend on a single-threaded runtime (CPU cost, not thread wake-ups); its mean estimate and 95% interval per benchmark are read back from criterion's output.",
        Subject::NamingBackends,
    )
};

/// The rows of one benchmark's estimate: `backend` (criterion's function id) in `group`,
/// at `param` (criterion's parameter, if the benchmark has one).
pub fn estimate_rows(
    backend: &str,
    group: &str,
    param: Option<&str>,
    mean: f64,
    ci_low: f64,
    ci_high: f64,
) -> Vec<Row> {
    let mut p = Params::new().with("bench", group);
    if let Some(param) = param {
        p = p.with("param", param);
    }
    vec![
        CRITERION.row(backend, &p, &MEAN_NS, mean),
        CRITERION.row(backend, &p, &MEAN_NS_CI_LOW, ci_low),
        CRITERION.row(backend, &p, &MEAN_NS_CI_HIGH, ci_high),
    ]
}

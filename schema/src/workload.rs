//! A workload's declaration: what it is, how it runs, what it records and how the report
//! shows it. Each workload declares one [`Workload`] constant in its own file, beside the
//! code that makes its rows; the report is built from these declarations alone.

use crate::identity::Identity;
use crate::metric::Metric;
use crate::row::{Outcome, Params, Row};

/// Which kind of backend a workload compares; a summary table is drawn per subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// Naming backends on one node.
    NamingBackends,
    /// Shard routers.
    Routers,
    /// Ways to keep state across a crash.
    RecoverySchemes,
    /// Names across a cluster of nodes.
    Distributed,
}

impl Subject {
    /// The subject in words, as a summary table's title.
    pub const fn title(self) -> &'static str {
        match self {
            Subject::NamingBackends => "naming backends",
            Subject::Routers => "shard routers",
            Subject::RecoverySchemes => "recovery schemes",
            Subject::Distributed => "distributed designs",
        }
    }
}

/// Which rows a chart or a column takes, by one parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Every row.
    All,
    /// Rows whose parameter has this value.
    Is(&'static str, &'static str),
    /// Rows whose parameter is absent or has another value.
    Not(&'static str, &'static str),
}

impl Filter {
    /// Whether rows at `params` pass.
    pub fn pass(&self, params: &Params) -> bool {
        match self {
            Filter::All => true,
            Filter::Is(k, v) => params.text(k).as_deref() == Some(*v),
            Filter::Not(k, v) => params.text(k).as_deref() != Some(*v),
        }
    }
}

/// The y axis of a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YScale {
    /// Log10 where the values span two decades or more, else linear.
    Fit,
    /// Always linear.
    Linear,
    /// Always log10.
    Log,
}

impl YScale {
    /// `Some(true)` for log10, `Some(false)` for linear, `None` to fit the values.
    pub fn log(self) -> Option<bool> {
        match self {
            YScale::Fit => None,
            YScale::Linear => Some(false),
            YScale::Log => Some(true),
        }
    }
}

/// A reference curve `y = f(x)` drawn in black (the minimum any router must move).
#[derive(Clone, Copy, Debug)]
pub struct IdealCurve {
    /// Its legend label.
    pub label: &'static str,
    /// The curve.
    pub f: fn(f64) -> f64,
}

/// One line of a sweep: a metric, solid or dashed, with optional min..max whiskers.
#[derive(Clone, Copy, Debug)]
pub struct Line {
    /// The metric drawn.
    pub metric: &'static Metric,
    /// Drawn dashed (e.g. p99 beside a solid p50).
    pub dashed: bool,
    /// Metrics giving the lower and upper whisker of each point.
    pub whisker: Option<(&'static Metric, &'static Metric)>,
}

impl Line {
    /// A solid line.
    pub const fn solid(metric: &'static Metric) -> Line {
        Line {
            metric,
            dashed: false,
            whisker: None,
        }
    }

    /// A dashed line.
    pub const fn dashed(metric: &'static Metric) -> Line {
        Line {
            metric,
            dashed: true,
            whisker: None,
        }
    }

    /// This line with whiskers from `lo` to `hi`.
    pub const fn with_whisker(self, lo: &'static Metric, hi: &'static Metric) -> Line {
        Line {
            whisker: Some((lo, hi)),
            ..self
        }
    }
}

/// Which of a sweep's charts to draw, when its split parameters give several.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Every chart.
    All,
    /// Only the charts at the smallest and largest value of this parameter.
    EndsOf(&'static str),
    /// Only the charts at the largest sizes (the sum of log10 of the numeric parameters).
    Largest,
}

/// Metric(s) against a numeric parameter, one chart per combination of `split_by` values.
#[derive(Clone, Copy, Debug)]
pub struct Sweep {
    /// Stable id: the file is `fig-<id>.svg` (`-1`, `-2`, ... where split).
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// What is drawn, with units, in a sentence or two.
    pub caption: &'static str,
    /// The parameter on the x axis.
    pub x: &'static str,
    /// The x axis's description, with unit.
    pub x_desc: &'static str,
    /// The y axis's description, with unit.
    pub y_desc: &'static str,
    /// The metrics drawn; the first one's series carry the legend.
    pub lines: &'static [Line],
    /// Parameters whose value combinations make separate charts.
    pub split_by: &'static [&'static str],
    /// Which rows are drawn.
    pub filter: Filter,
    /// The y axis.
    pub y: YScale,
    /// Draw the floors (dashed, in their contender's colour).
    pub floors: bool,
    /// A reference curve.
    pub ideal: Option<IdealCurve>,
    /// Horizontal reference lines: label and y.
    pub refs: &'static [(&'static str, f64)],
    /// Which charts of the split to draw.
    pub pick: Pick,
    /// Draw only charts where x takes at least this many values.
    pub min_x: usize,
    /// Extra legend lines.
    pub notes: &'static [&'static str],
}

impl Sweep {
    /// A sweep of `lines` against `x`, with defaults for the rest: no split, every row,
    /// fitted y axis, no floors, no references, every chart, one x value enough.
    pub const fn new(
        id: &'static str,
        title: &'static str,
        x: &'static str,
        lines: &'static [Line],
    ) -> Sweep {
        Sweep {
            id,
            title,
            caption: "",
            x,
            x_desc: "",
            y_desc: "",
            lines,
            split_by: &[],
            filter: Filter::All,
            y: YScale::Fit,
            floors: false,
            ideal: None,
            refs: &[],
            pick: Pick::All,
            min_x: 1,
            notes: &[],
        }
    }
}

/// Grouped bars: one group per metric, one bar per backend, at the workload's headline
/// parameters (the parameters the most contenders were measured at); floors outlined.
#[derive(Clone, Copy, Debug)]
pub struct Bars {
    /// Stable id: the file is `fig-<id>.svg`.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// What is drawn, with units.
    pub caption: &'static str,
    /// The y axis's description, with unit.
    pub y_desc: &'static str,
    /// The metrics, each with its group's label.
    pub groups: &'static [(&'static Metric, &'static str)],
    /// Which rows are drawn.
    pub filter: Filter,
    /// The y axis.
    pub y: YScale,
}

/// A chart a workload's section shows.
#[derive(Clone, Copy, Debug)]
pub enum Chart {
    /// Lines against a parameter.
    Sweep(Sweep),
    /// Grouped bars at the headline parameters.
    Bars(Bars),
}

impl Chart {
    /// The chart's id.
    pub fn id(&self) -> &'static str {
        match self {
            Chart::Sweep(s) => s.id,
            Chart::Bars(b) => b.id,
        }
    }

    /// Every metric the chart draws (whiskers included).
    pub fn metrics(&self) -> Vec<&'static Metric> {
        match self {
            Chart::Sweep(s) => s
                .lines
                .iter()
                .flat_map(|l| {
                    std::iter::once(l.metric).chain(l.whisker.into_iter().flat_map(|(a, b)| [a, b]))
                })
                .collect(),
            Chart::Bars(b) => b.groups.iter().map(|(m, _)| *m).collect(),
        }
    }
}

/// A column of the subject's summary table: a metric at its headline parameters.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The metric.
    pub metric: &'static Metric,
    /// The header text.
    pub title: &'static str,
    /// Which rows count.
    pub filter: Filter,
}

impl Column {
    /// A column over every row of `metric`.
    pub const fn new(metric: &'static Metric, title: &'static str) -> Column {
        Column {
            metric,
            title,
            filter: Filter::All,
        }
    }
}

/// A situation a designer meets, judged by the decision guide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Situation {
    /// A handful of long-lived services, looked up often.
    FewFixedServices,
    /// Many short-lived sessions, each registered under its id.
    ManySessions,
    /// Publish/subscribe groups: one key, many members.
    PubSubGroups,
    /// Workers dying and restarting under load.
    HeavyChurn,
    /// A very large number of registered names.
    VeryManyNames,
    /// Names across the nodes of a cluster, healthy: a call from another node.
    ClusterCalls,
    /// Names across nodes when a node crashes: how soon its names are free again.
    NodeCrash,
    /// Names across nodes when the network splits and heals: how soon every name has one
    /// owner again (a backend that ends with two owners or loses a name cannot win).
    Netsplit,
}

impl Situation {
    /// Every situation, in guide order.
    pub const ALL: [Situation; 8] = [
        Situation::FewFixedServices,
        Situation::ManySessions,
        Situation::PubSubGroups,
        Situation::HeavyChurn,
        Situation::VeryManyNames,
        Situation::ClusterCalls,
        Situation::NodeCrash,
        Situation::Netsplit,
    ];

    /// Whether the situation is about one node, as the talk "Discovering processes" is
    /// (the multi-node ones are judged, but have no column in the talk's table).
    pub const fn in_talk(self) -> bool {
        !matches!(
            self,
            Situation::ClusterCalls | Situation::NodeCrash | Situation::Netsplit
        )
    }

    /// Whether names come and go here, so a backend that leaks them cannot win.
    pub const fn penalises_leaks(self) -> bool {
        matches!(self, Situation::ManySessions | Situation::VeryManyNames)
    }

    /// The situation in words.
    pub const fn name(self) -> &'static str {
        match self {
            Situation::FewFixedServices => "a few fixed services",
            Situation::ManySessions => "many short-lived sessions keyed by id",
            Situation::PubSubGroups => "pub/sub groups",
            Situation::HeavyChurn => "heavy churn",
            Situation::VeryManyNames => "a very large number of names",
            Situation::ClusterCalls => "names across nodes: calls from another node",
            Situation::NodeCrash => "names across nodes: a node crashes",
            Situation::Netsplit => "names across nodes: the network splits and heals",
        }
    }
}

/// The end of a parameter's range a situation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extreme {
    /// The smallest value measured.
    Min,
    /// The largest value measured.
    Max,
}

/// How a workload's rows judge a situation of the guide. A situation takes the first of
/// its judges (lowest `rank`) that has rows.
#[derive(Clone, Copy, Debug)]
pub struct Judge {
    /// The situation.
    pub situation: Situation,
    /// Lower ranks are tried first.
    pub rank: u8,
    /// The metric compared (its direction decides).
    pub metric: &'static Metric,
    /// The parameter and the end of its range the situation is about.
    pub at: (&'static str, Extreme),
    /// Parameter values to use where recorded.
    pub prefer: &'static [(&'static str, &'static str)],
    /// A second metric (same workload) that orders equal values.
    pub tiebreak: Option<&'static Metric>,
}

/// A workload as the report sees it.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// Its name: the rows' `workload` column and the CSV's file name.
    pub name: &'static str,
    /// Its section heading.
    pub title: &'static str,
    /// How it runs, in a sentence or two.
    pub runs: &'static str,
    /// Which backends it compares.
    pub subject: Subject,
    /// Every metric its rows carry.
    pub metrics: &'static [&'static Metric],
    /// Parameters that name a backend's variant rather than where it was measured (a ring
    /// router's `vnodes`): a series and a table row per variant.
    pub variant_params: &'static [&'static str],
    /// The charts of its section, in order.
    pub charts: &'static [Chart],
    /// Its columns in the subject's summary table.
    pub columns: &'static [Column],
    /// The guide situations it judges.
    pub judges: &'static [Judge],
}

impl Workload {
    /// A declaration with no metrics, charts, columns or judges yet.
    pub const fn new(
        name: &'static str,
        title: &'static str,
        runs: &'static str,
        subject: Subject,
    ) -> Workload {
        Workload {
            name,
            title,
            runs,
            subject,
            metrics: &[],
            variant_params: &[],
            charts: &[],
            columns: &[],
            judges: &[],
        }
    }

    /// The declared metric named `name`.
    pub fn metric(&self, name: &str) -> Option<&'static Metric> {
        self.metrics.iter().copied().find(|m| m.name == name)
    }

    /// A measured row of `backend` at `params`. `metric` must be one of [`Self::metrics`]
    /// (checked in debug builds and by the workload tests).
    pub fn row(&self, backend: &str, params: &Params, metric: &Metric, value: f64) -> Row {
        debug_assert!(
            self.metric(metric.name).is_some(),
            "{}: metric {} is not declared",
            self.name,
            metric.name
        );
        Row {
            run: String::new(),
            backend: backend.to_string(),
            workload: self.name.to_string(),
            params: params.clone(),
            metric: metric.name.to_string(),
            outcome: Outcome::Value(value),
            unit: metric.unit.symbol().to_string(),
            interval: None,
            repeats: 1,
        }
    }

    /// A row saying `backend` cannot be measured at `params`, and why.
    pub fn skip(&self, backend: &str, params: &Params, reason: &str) -> Row {
        Row {
            run: String::new(),
            backend: backend.to_string(),
            workload: self.name.to_string(),
            params: params.clone(),
            metric: String::new(),
            outcome: Outcome::Skipped(reason.to_string()),
            unit: String::new(),
            interval: None,
            repeats: 1,
        }
    }

    /// Problems with the declaration itself: a chart, column or judge naming a metric the
    /// workload does not declare, two metrics or charts with one name.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let declared = |m: &Metric| self.metrics.contains(&m);
        for (i, m) in self.metrics.iter().enumerate() {
            if self.metrics[..i].iter().any(|o| o.name == m.name) {
                out.push(format!("{}: metric {} declared twice", self.name, m.name));
            }
        }
        for c in self.charts {
            for m in c.metrics() {
                if !declared(m) {
                    out.push(format!(
                        "{}: chart {} draws undeclared {}",
                        self.name,
                        c.id(),
                        m.name
                    ));
                }
            }
        }
        for c in self.columns {
            if !declared(c.metric) {
                out.push(format!(
                    "{}: column {} is undeclared",
                    self.name, c.metric.name
                ));
            }
        }
        for j in self.judges {
            for m in std::iter::once(j.metric).chain(j.tiebreak) {
                if !declared(m) {
                    out.push(format!("{}: judge uses undeclared {}", self.name, m.name));
                }
            }
        }
        out
    }
}

/// What a report knows besides the rows: every declared workload (in report order) and
/// every backend's identity.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    /// The workloads, in section order.
    pub workloads: Vec<&'static Workload>,
    /// The backends, in report order (this order fixes colours).
    pub backends: Vec<Identity>,
}

impl Catalogue {
    /// The declaration of `name`.
    pub fn workload(&self, name: &str) -> Option<&'static Workload> {
        self.workloads.iter().copied().find(|w| w.name == name)
    }

    /// The identity of `label`.
    pub fn identity(&self, label: &str) -> Option<&Identity> {
        self.backends.iter().find(|i| i.label == label)
    }
}

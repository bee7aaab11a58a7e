//! naming-schema: what the suite measures, declared once, beside the code that measures it.
//!
//! Every crate that writes result rows (the single-node workloads, the shard routers and
//! recovery schemes of `naming-strategies`, the multi-node workloads of `naming-cluster`)
//! and the report that reads them share these types, so that nothing downstream has to
//! guess what a row means from its strings:
//!
//! - [`metric`]: a [`Metric`]: its name, unit, which direction is better, its physical
//!   ideal where one exists, and whether it is a correctness count that must be 0.
//! - [`workload`]: a [`Workload`] declaration: title, how it runs, its metrics, its
//!   [`Chart`]s, its summary-table [`Column`]s and the decision-guide [`Judge`]s it feeds.
//!   Rows are made through a declaration ([`Workload::row`], [`Workload::skip`]).
//! - [`row`]: the one [`Row`] type (typed [`Params`], an [`Outcome`] that is a value or a
//!   skip with its reason) and its CSV form.
//! - [`advice`]: the talk *Discovering processes*'s table of which strategy to use when,
//!   as data the decision guide checks against the numbers.
//! - [`identity`]: a backend's [`Identity`]: its label, its [`Family`] and its floor,
//!   declared by the backend's adapter, never inferred from the label.

pub mod advice;
pub mod identity;
pub mod metric;
pub mod row;
pub mod workload;

pub use identity::{Family, Identity, Origin};
pub use metric::{Better, Metric, Unit};
pub use row::{Outcome, ParamValue, Params, Row};
pub use workload::{
    Bars, Catalogue, Chart, Column, Extreme, Filter, IdealCurve, Judge, Line, Pick, Situation,
    Subject, Sweep, Workload, YScale,
};

//! naming-bench: every BEAM naming strategy as a backend of one `Naming` trait, driven
//! through the same workloads, with results written as data and drawn side by side.
//!
//! - [`workloads`]: lookup, routing, churn, scale, fan-out and soak, as data-driven
//!   functions generic over the backend; [`workloads::run`] runs a selection of them.
//! - [`contenders`]: the list of backends the benches and the report compare (one line each).
//! - [`results`]: the raw result rows (CSV) and [`environment`]: the machine they came from.
//! - [`report`]: plots, `REPORT.md`, `index.html` and the decision guide, from the rows.
//! - [`alloc`]: a counting global allocator, for bytes per name and memory drift.

pub mod alloc;
pub mod catalogue;
pub mod contenders;
pub mod environment;
pub mod report;
pub mod results;
pub mod workloads;

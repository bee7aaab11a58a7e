//! The workloads: the same work for every backend, described as data.
//!
//! Each workload is a function generic over a [`Contender`](crate::contenders::Contender):
//! it never names a backend. [`run`] runs a selection of workloads over a selection of
//! contenders and writes their rows under the output directory.

use std::io;
use std::path::PathBuf;

use crate::results::Row;

/// The workloads [`run`] knows, in the order it runs them.
pub const WORKLOADS: &[&str] = &["lookup", "routing", "churn", "scale", "fanout", "soak"];

/// What to run and where the results go.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Small sizes, about two minutes in all.
    pub quick: bool,
    /// Only these backends (labels); `None` for all.
    pub backends: Option<Vec<String>>,
    /// Only these workloads; `None` for all of [`WORKLOADS`].
    pub workloads: Option<Vec<String>>,
    /// The results directory (CSV per workload plus `environment.json`).
    pub out: PathBuf,
}

/// Told of a run's progress, so long runs can show it.
pub trait Progress: Sync {
    /// A workload starts; it will report about `steps` steps.
    fn start(&self, workload: &str, steps: u64);
    /// One step of the current workload is done.
    fn step(&self, message: &str);
    /// The workload is done.
    fn finish(&self, workload: &str);
}

/// Progress that prints one line per step to stderr.
pub struct PrintProgress;

impl Progress for PrintProgress {
    fn start(&self, workload: &str, steps: u64) {
        eprintln!("== {workload} ({steps} steps)");
    }
    fn step(&self, message: &str) {
        eprintln!("   {message}");
    }
    fn finish(&self, workload: &str) {
        eprintln!("== {workload} done");
    }
}

/// Runs the selected workloads over the selected backends, writes `<workload>.csv` and
/// `environment.json` under `opts.out`, and returns every row.
pub fn run(opts: &RunOptions, progress: &dyn Progress) -> io::Result<Vec<Row>> {
    let _ = (opts, progress);
    Err(io::Error::other("workloads not wired yet"))
}

//! The raw results every workload writes: one row per measured number (or per skip), as
//! CSV, one file per workload under the results directory (`lookup.csv`, `routing.csv`,
//! ...), plus `environment.json` beside them for the machine and the build of the latest
//! run, and `runs/<run-id>.json` for every run's.
//!
//! A run writes through [`write_run`], which merges into what is there: a file keeps the
//! rows of every (backend, workload) pair this run did not measure, so a run over one
//! backend never erases another's rows. Each row names its run (`Row::run`).
//!
//! The row type and its CSV form are `naming-schema`'s ([`Row`], [`Params`], [`Outcome`]),
//! shared with the strategy and cluster crates and the report; rows are made through a
//! workload's declaration (`Workload::row`, `Workload::skip`), never from metric names
//! written by hand.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use naming_schema::{Outcome, Params, Row};

use crate::environment::{Environment, FileCount};

/// Why a results directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Reading a file or listing the directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A CSV file does not follow the result schema.
    #[error("{path}: not a valid results file: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line.
        message: String,
    },
}

/// The results directory: `flag` (`--out DIR`) if given, else `NAMING_BENCH_OUT` if set and
/// not empty, else `default`.
pub fn out_dir(flag: Option<PathBuf>, default: PathBuf) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os("NAMING_BENCH_OUT")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .unwrap_or(default)
}

/// Writes `rows` to `dir/<workload>.csv`, replacing the file (no merge, no environment:
/// runs write through [`write_run`]).
pub fn write_workload(dir: &Path, workload: &str, rows: &[Row]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(
        dir.join(format!("{workload}.csv")),
        naming_schema::row::to_csv(rows),
    )
}

/// The rows of one results file; an error names the file (and, for a malformed file, the
/// line).
pub fn read_file(path: &Path) -> Result<Vec<Row>, ReadError> {
    let text = fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    naming_schema::row::from_csv(&text).map_err(|message| ReadError::Csv {
        path: path.to_path_buf(),
        message,
    })
}

/// `old` merged with `new`: the rows of `old` whose (backend, workload) pair has no row in
/// `new` are kept (in their order), then every row of `new`. A pair measured again is
/// replaced as a whole, so a file never mixes two runs' rows for one backend in one
/// workload.
pub fn merge_rows(old: Vec<Row>, new: &[Row]) -> Vec<Row> {
    let measured: HashSet<(&str, &str)> = new
        .iter()
        .map(|r| (r.backend.as_str(), r.workload.as_str()))
        .collect();
    let mut merged: Vec<Row> = old
        .into_iter()
        .filter(|r| !measured.contains(&(r.backend.as_str(), r.workload.as_str())))
        .collect();
    merged.extend_from_slice(new);
    merged
}

/// Why a run's results could not be written: the file and the error.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct WriteError {
    /// The file or directory.
    pub path: PathBuf,
    /// The error.
    pub source: io::Error,
}

/// Tags an I/O error with its path.
fn at(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError {
        path: path.to_path_buf(),
        source,
    }
}

/// `.<name>.tmp-<tag>` beside `path` (never `*.csv`, so [`read_dir`] never reads it).
fn temp_path(path: &Path, tag: &str) -> PathBuf {
    let name = path.file_name().map_or_else(
        || "results".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    path.with_file_name(format!(".{name}.tmp-{tag}"))
}

/// Whether `name` is a staged file ([`temp_path`]) or a journal being written.
fn is_staged(name: &str) -> bool {
    (name.starts_with('.') && name.contains(".tmp-"))
        || (name.starts_with(JOURNAL) && name.ends_with(".tmp"))
}

/// The prefix of a run's journal, `.pending-<run>`, in the results directory.
const JOURNAL: &str = ".pending-";
/// The journal's first line.
const JOURNAL_HEADER: &str = "naming-bench journal 1";

/// Writes `text` to `path` and flushes it to disk.
fn write_synced(path: &Path, text: &str) -> Result<(), WriteError> {
    let mut f = fs::File::create(path).map_err(at(path))?;
    io::Write::write_all(&mut f, text.as_bytes()).map_err(at(path))?;
    f.sync_all().map_err(at(path))
}

/// Flushes a directory's entries (renames, new files) to disk; a no-op where directories
/// cannot be opened.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A journal's text: its header, one `<staged>\t<final>` line per file (paths relative to
/// the results directory), and `end <count>`, so a journal cut short is never complete.
fn journal_text(entries: &[(String, String)]) -> String {
    let mut text = format!("{JOURNAL_HEADER}\n");
    for (tmp, fin) in entries {
        text.push_str(&format!("{tmp}\t{fin}\n"));
    }
    text.push_str(&format!("end {}\n", entries.len()));
    text
}

/// The entries of a complete journal; `None` if it is not one.
fn parse_journal(text: &str) -> Option<Vec<(String, String)>> {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.first() != Some(&JOURNAL_HEADER) {
        return None;
    }
    let count: usize = lines.pop()?.strip_prefix("end ")?.parse().ok()?;
    let entries: Option<Vec<(String, String)>> = lines[1..]
        .iter()
        .map(|l| {
            let (t, f) = l.split_once('\t')?;
            let plain = |p: &str| !p.is_empty() && !p.split('/').any(|c| c == ".." || c.is_empty());
            (plain(t) && plain(f)).then(|| (t.to_string(), f.to_string()))
        })
        .collect();
    entries.filter(|e| e.len() == count)
}

/// What [`recover`] did with an interrupted write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovered {
    /// A run's journal was complete: its renames were finished (rolled forward).
    Finished {
        /// The run.
        run: String,
        /// The files it put in place.
        files: usize,
    },
    /// Staged files without a complete journal were removed (rolled back).
    Removed {
        /// The files removed.
        files: Vec<PathBuf>,
    },
}

impl std::fmt::Display for Recovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recovered::Finished { run, files } => write!(
                f,
                "finished the interrupted write of run {run} ({files} files)"
            ),
            Recovered::Removed { files } => write!(
                f,
                "removed {} staged file(s) of an interrupted run that never wrote its results",
                files.len()
            ),
        }
    }
}

/// Completes or undoes an interrupted [`write_run`] in `dir`: a complete journal
/// (`.pending-<run>`) has its renames finished (rolled forward); staged files without one
/// (`.<name>.tmp-<run>`, an unfinished journal) are removed (rolled back). Every command
/// that reads or writes results calls it first; a directory that does not exist is left
/// alone. A concurrent run writing to the same directory would have its staged files
/// removed: runs into one directory must not overlap.
pub fn recover(dir: &Path) -> Result<Vec<Recovered>, WriteError> {
    let mut done = Vec::new();
    if !dir.is_dir() {
        return Ok(done);
    }
    let names = |d: &Path| -> Result<Vec<String>, WriteError> {
        if !d.is_dir() {
            return Ok(Vec::new());
        }
        let mut v: Vec<String> = fs::read_dir(d)
            .map_err(at(d))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        Ok(v)
    };
    for name in names(dir)? {
        let Some(run) = name.strip_prefix(JOURNAL) else {
            continue;
        };
        if run.ends_with(".tmp") {
            continue;
        }
        let path = dir.join(&name);
        let text = fs::read_to_string(&path).map_err(at(&path))?;
        if let Some(entries) = parse_journal(&text) {
            for (tmp, fin) in &entries {
                let (tmp, fin) = (dir.join(tmp), dir.join(fin));
                if tmp.exists() {
                    fs::rename(&tmp, &fin).map_err(at(&fin))?;
                }
            }
            sync_dir(dir);
            sync_dir(&dir.join("runs"));
            done.push(Recovered::Finished {
                run: run.to_string(),
                files: entries.len(),
            });
        }
        fs::remove_file(&path).map_err(at(&path))?;
        sync_dir(dir);
    }
    let mut removed = Vec::new();
    for d in [dir.to_path_buf(), dir.join("runs")] {
        for name in names(&d)? {
            if is_staged(&name) {
                let path = d.join(&name);
                fs::remove_file(&path).map_err(at(&path))?;
                removed.push(path);
            }
        }
    }
    if !removed.is_empty() {
        done.push(Recovered::Removed { files: removed });
    }
    Ok(done)
}

/// Checks, before a run measures anything, that every `*.csv` file in `dir` (if it
/// exists) reads as results: a stray or damaged file would otherwise only be found after
/// the whole run. The error names the file (and the line).
pub fn check_inputs(dir: &Path) -> Result<(), ReadError> {
    if dir.is_dir() {
        read_dir(dir)?;
    }
    Ok(())
}

/// Serialises result writes with the interrupt handler (see [`crate::interrupt`]): a
/// signal that arrives while a run's files are being put in place waits for them.
pub(crate) static COMMIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Writes one run's results under `dir`: for each `(workload, rows)`, `<workload>.csv`
/// merged with what the file held (see [`merge_rows`]); then `runs/<run-id>.json` and
/// `environment.json` (this run's environment, `env`, with the manifest of the results
/// files, [`Environment::files`]).
///
/// All or nothing: every file is first written beside its target as a staged temporary
/// file (flushed to disk), then a journal `.pending-<run>` listing them is written and
/// flushed, then the staged files are renamed into place and the journal removed. An
/// interruption before the journal is complete leaves the old files (and [`recover`]
/// removes the staged ones); after it, [`recover`] finishes the renames. An existing file
/// that cannot be read as results is kept as `<workload>.csv.unreadable-<run>` (and named
/// on stderr) rather than merged or lost.
pub fn write_run(
    dir: &Path,
    env: &Environment,
    workloads: &[(&str, Vec<Row>)],
) -> Result<(), WriteError> {
    let _commit = COMMIT.lock().unwrap_or_else(|e| e.into_inner());
    let run = env.run_id.clone().unwrap_or_else(|| "run".to_string());
    let runs = dir.join("runs");
    fs::create_dir_all(&runs).map_err(at(&runs))?;
    for r in recover(dir)? {
        eprintln!("naming-bench: {}: {r}", dir.display());
    }
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let result = stage(dir, env, &run, workloads, &mut staged);
    if let Err(e) = result {
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
        return Err(e);
    }
    let rel = |p: &Path| {
        p.strip_prefix(dir)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let entries: Vec<(String, String)> = staged.iter().map(|(t, f)| (rel(t), rel(f))).collect();
    let journal = dir.join(format!("{JOURNAL}{run}"));
    let journal_tmp = dir.join(format!("{JOURNAL}{run}.tmp"));
    let written = write_synced(&journal_tmp, &journal_text(&entries))
        .and_then(|()| fs::rename(&journal_tmp, &journal).map_err(at(&journal)));
    if let Err(e) = written {
        let _ = fs::remove_file(&journal_tmp);
        for (tmp, _) in &staged {
            let _ = fs::remove_file(tmp);
        }
        return Err(e);
    }
    sync_dir(dir);
    // From here on the run is committed: an interruption is finished by `recover`.
    for (tmp, path) in &staged {
        fs::rename(tmp, path).map_err(at(path))?;
    }
    sync_dir(&runs);
    sync_dir(dir);
    crate::interrupt::WRITTEN.store(true, std::sync::atomic::Ordering::SeqCst);
    fs::remove_file(&journal).map_err(at(&journal))?;
    sync_dir(dir);
    Ok(())
}

/// Writes every file of a run as a staged temporary file, pushing `(staged, final)` to
/// `staged` as it goes.
fn stage(
    dir: &Path,
    env: &Environment,
    run: &str,
    workloads: &[(&str, Vec<Row>)],
    staged: &mut Vec<(PathBuf, PathBuf)>,
) -> Result<(), WriteError> {
    let mut manifest: Vec<FileCount> = Vec::new();
    for (workload, rows) in workloads {
        let name = format!("{workload}.csv");
        let path = dir.join(&name);
        let old = if path.exists() {
            match read_file(&path) {
                Ok(old) => old,
                Err(e) => {
                    let aside = path.with_extension(format!("csv.unreadable-{run}"));
                    eprintln!("naming-bench: {e}; kept as {}", aside.display());
                    fs::copy(&path, &aside).map_err(at(&aside))?;
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let merged = merge_rows(old, rows);
        let text = naming_schema::row::to_csv(&merged);
        let tmp = temp_path(&path, run);
        write_synced(&tmp, &text)?;
        staged.push((tmp, path));
        manifest.retain(|f| f.name != name);
        manifest.push(FileCount::of(&name, &text, merged.len()));
    }
    // Files this run did not write keep their entry from the previous manifest, if any.
    let previous = fs::read_to_string(dir.join("environment.json"))
        .ok()
        .and_then(|t| Environment::from_json(&t))
        .and_then(|e| e.files)
        .unwrap_or_default();
    for f in previous {
        if !manifest.iter().any(|m| m.name == f.name) && dir.join(&f.name).is_file() {
            manifest.push(f);
        }
    }
    manifest.sort_by(|a, b| a.name.cmp(&b.name));
    let mut env = env.clone();
    env.files = Some(manifest);
    let json = env.to_json();
    for path in [
        dir.join("runs").join(format!("{run}.json")),
        dir.join("environment.json"),
    ] {
        let tmp = temp_path(&path, run);
        write_synced(&tmp, &json)?;
        staged.push((tmp, path));
    }
    Ok(())
}

/// Reads every `*.csv` file in `dir`, in file-name order; an error names the file (and,
/// for a malformed file, the line).
pub fn read_dir(dir: &Path) -> Result<Vec<Row>, ReadError> {
    Ok(read_dir_files(dir)?
        .into_iter()
        .flat_map(|f| f.rows)
        .collect())
}

/// One results file as read: its path, text and rows.
#[derive(Clone, Debug)]
pub struct ReadFile {
    /// The file.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Its rows, in order.
    pub rows: Vec<Row>,
}

impl ReadFile {
    /// The line (1-based) of each row in [`text`](Self::text): rows are the non-blank
    /// lines after the header.
    pub fn lines(&self) -> Vec<usize> {
        self.text
            .lines()
            .enumerate()
            .skip(1)
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, _)| i + 1)
            .collect()
    }
}

/// Reads every `*.csv` file in `dir`, in file-name order, each with its text; an error
/// names the file (and, for a malformed file, the line).
pub fn read_dir_files(dir: &Path) -> Result<Vec<ReadFile>, ReadError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReadError::Io { path, source }
    };
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "csv"))
        .collect();
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let rows = naming_schema::row::from_csv(&text).map_err(|message| ReadError::Csv {
            path: path.clone(),
            message,
        })?;
        files.push(ReadFile { path, text, rows });
    }
    Ok(files)
}

/// The result directories under `dir`: `dir` itself and each immediate subdirectory holding
/// a `*.csv` file (e.g. `results/multinode/`, `results/device-16core/`), sorted.
pub fn discover_inputs(dir: &Path) -> Vec<PathBuf> {
    let has_csv = |p: &Path| {
        fs::read_dir(p).is_ok_and(|mut it| {
            it.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "csv")))
        })
    };
    let mut subs: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            let paths = entries.filter_map(|e| e.ok().map(|e| e.path()));
            paths.filter(|p| p.is_dir() && has_csv(p)).collect()
        })
        .unwrap_or_default();
    subs.sort();
    subs.insert(0, dir.to_path_buf());
    subs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::lookup::{LOOKUP, OPS_PER_SEC};

    #[test]
    fn files_round_trip_with_quotes_and_skips() {
        let p = Params::new().with("names", 100).with("keys", "uniform");
        let rows = vec![
            LOOKUP.row("registry-dashmap", &p, &OPS_PER_SEC, 1.5e7),
            LOOKUP.skip("static-names", &p, "Undeclared: only 64 names, \"fixed\""),
        ];
        let dir = std::env::temp_dir().join(format!("naming-bench-results-{}", std::process::id()));
        write_workload(&dir, "lookup", &rows).unwrap();
        let back = read_dir(&dir).unwrap();
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(back, rows);
        assert_eq!(back[0].param("keys").as_deref(), Some("uniform"));
        assert!(back[1].is_skip());
    }
}

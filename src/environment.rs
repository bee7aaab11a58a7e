//! The machine and build a run came from, recorded beside its results.
//!
//! Every run (one `naming-bench compare`, one bench process) has a [run id](new_run_id),
//! carried by each row it writes (`Row::run`); its environment is kept as
//! `runs/<run-id>.json` under the results directory, and `environment.json` is the latest
//! run's.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where and with what a set of results was measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    /// A label for the machine: `NAMING_BENCH_MACHINE`, else the host name.
    pub machine: String,
    /// The CPU model.
    pub cpu: String,
    /// Logical cores available to the run.
    pub cores: usize,
    /// `rustc --version`.
    pub rustc: String,
    /// The global allocator of the measuring binary.
    pub allocator: String,
    /// The hasher every table uses.
    pub hasher: String,
    /// Versions of the crates that matter, from `Cargo.lock`.
    pub crates: Vec<(String, String)>,
    /// `git rev-parse --short HEAD` (with `-dirty` if the tree had changes outside
    /// `results/` and the output directory).
    pub git_revision: String,
    /// UTC date and time of the run.
    pub date: String,
    /// `quick` or `full`.
    pub mode: String,
    /// The run's id (`None` in files written before runs had ids).
    pub run_id: Option<String>,
    /// Whether the tree had changes outside the results (`None`: unknown or an older file).
    pub git_dirty: Option<bool>,
    /// When dirty: a short hash of the changes (`git diff HEAD` and the untracked files'
    /// names), so two dirty runs of different trees can be told apart.
    pub git_diff_hash: Option<String>,
    /// `/proc/loadavg`'s 1, 5 and 15 minute averages when the run started.
    pub load_start: Option<String>,
    /// The same when the run finished (`None` until [`finish`](Environment::finish)).
    pub load_end: Option<String>,
    /// The command line that started the run.
    pub command: Option<String>,
    /// The run's settings: mode, client counts, selected backends and workloads
    /// (`mode=quick;clients=1,4;backends=all;workloads=lookup,routing`).
    pub settings: Option<String>,
    /// The results files as this run left them (each `*.csv` of the directory it wrote,
    /// with its row count and hash), so a file cut or edited later is detected; `None` in
    /// files written before the manifest existed (they are not checked).
    pub files: Option<Vec<FileCount>>,
}

/// One results file in a run's manifest ([`Environment::files`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCount {
    /// The file's name in the results directory (`lookup.csv`).
    pub name: String,
    /// Its rows (header and blank lines not counted).
    pub rows: usize,
    /// [`fnv1a`] of its bytes, 16 hex digits.
    pub hash: String,
}

impl FileCount {
    /// The entry for a file named `name` holding `text` with `rows` rows.
    pub fn of(name: &str, text: &str, rows: usize) -> Self {
        FileCount {
            name: name.to_string(),
            rows,
            hash: format!("{:016x}", fnv1a(text.as_bytes())),
        }
    }
}

/// What the git tree of a build looked like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitState {
    /// `git rev-parse --short HEAD`.
    pub revision: String,
    /// Changes outside the excluded paths (tracked or untracked).
    pub dirty: bool,
    /// When dirty: the first 12 hex digits of an FNV-1a hash of the changes.
    pub diff_hash: Option<String>,
}

/// 64-bit FNV-1a over `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The git state of the tree at `root`, ignoring changes under `results/` and under each
/// path of `exclude` (relative to `root`, e.g. the output directory): result files never
/// make a tree dirty. `None` when `root` is not in a git work tree or git is missing.
pub fn git_state(root: &Path, exclude: &[&str]) -> Option<GitState> {
    let dir = root.to_str()?;
    let revision = command_output("git", &["-C", dir, "rev-parse", "--short", "HEAD"])?;
    let mut spec = vec![".".to_string(), ":(exclude)results".to_string()];
    spec.extend(
        exclude
            .iter()
            .filter(|e| !e.is_empty() && *e != &".")
            .map(|e| format!(":(exclude){e}")),
    );
    let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
    let mut status = vec!["-C", dir, "status", "--porcelain", "--"];
    status.extend(&spec);
    let status = command_output("git", &status)?;
    let dirty = !status.is_empty();
    let diff_hash = dirty.then(|| {
        let mut diff = vec!["-C", dir, "diff", "HEAD", "--"];
        diff.extend(&spec);
        let text = command_output("git", &diff).unwrap_or_default();
        let h = fnv1a(format!("{text}\n{status}").as_bytes());
        format!("{h:016x}")[..12].to_string()
    });
    Some(GitState {
        revision,
        dirty,
        diff_hash,
    })
}

/// `/proc/loadavg`'s three averages (`None` where there is no such file).
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let avgs: Vec<&str> = text.split_whitespace().take(3).collect();
    (avgs.len() == 3).then(|| avgs.join(" "))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `secs` since the epoch as `YYYYMMDDTHHMMSSZ`.
fn compact_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// A new run id: the UTC time to the second and a 4-hex-digit suffix (a per-process base,
/// from the process id and the clock's nanoseconds, plus a per-process counter), e.g.
/// `20261129T153000Z-4f2a`. Made once per run; ids made by one process differ.
pub fn new_run_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static BASE: OnceLock<u16> = OnceLock::new();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let base = *BASE.get_or_init(|| {
        let mut seed = Vec::with_capacity(16);
        seed.extend(u64::from(std::process::id()).to_le_bytes());
        seed.extend(u64::from(now.subsec_nanos()).to_le_bytes());
        let h = fnv1a(&seed);
        (h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48)) as u16
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) as u16;
    format!(
        "{}-{:04x}",
        compact_utc(now.as_secs()),
        base.wrapping_add(n)
    )
}

/// The settings of a run as one line: `mode=quick;clients=1,4;backends=all;workloads=lookup`.
pub fn settings_line(
    quick: bool,
    clients: &[usize],
    backends: Option<&[String]>,
    workloads: &[&str],
) -> String {
    let clients: Vec<String> = clients.iter().map(ToString::to_string).collect();
    format!(
        "mode={};clients={};backends={};workloads={}",
        if quick { "quick" } else { "full" },
        clients.join(","),
        backends.map_or_else(|| "all".to_string(), |b| b.join(",")),
        workloads.join(",")
    )
}

fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

fn locked_versions(root: &Path, wanted: &[&str]) -> Vec<(String, String)> {
    let Ok(lock) = std::fs::read_to_string(root.join("Cargo.lock")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let Some(v) = line.strip_prefix("version = ") {
            if let Some(n) = name.take() {
                if wanted.contains(&n.as_str()) {
                    found.push((n, v.trim_matches('"').to_string()));
                }
            }
        }
    }
    found.sort();
    found
}

impl Environment {
    /// Reads the environment of the run `run_id` as it starts: the machine, the build (git
    /// state ignoring `results/` and `out`, the output directory), the load average, the
    /// command line and `settings` (see [`settings_line`]). Call
    /// [`finish`](Self::finish) when the run is done.
    pub fn capture(run_id: &str, quick: bool, settings: &str, out: &Path, allocator: &str) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out_in_tree = std::fs::canonicalize(out)
            .ok()
            .zip(std::fs::canonicalize(root).ok())
            .and_then(|(o, r)| {
                o.strip_prefix(&r)
                    .ok()
                    .map(|p| p.to_string_lossy().into_owned())
            });
        let exclude: Vec<&str> = out_in_tree.as_deref().into_iter().collect();
        let git = git_state(root, &exclude);
        let rev = git
            .as_ref()
            .map_or_else(|| "unknown".to_string(), |g| g.revision.clone());
        let dirty = git.as_ref().is_some_and(|g| g.dirty);
        Environment {
            machine: std::env::var("NAMING_BENCH_MACHINE")
                .ok()
                .or_else(|| command_output("hostname", &[]))
                .unwrap_or_else(|| "unknown".into()),
            cpu: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            rustc: command_output("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
            allocator: allocator.to_string(),
            hasher: "foldhash 0.1 (fast, fixed seed)".into(),
            crates: locked_versions(
                root,
                &[
                    "tokio",
                    "dashmap",
                    "flurry",
                    "scc",
                    "papaya",
                    "criterion",
                    "plotters",
                    "hdrhistogram",
                    "foldhash",
                    "tarpc",
                    "chitchat",
                    "reqwest",
                ],
            )
            .into_iter()
            .chain(
                // The consensus store the global names run on (a server, not a crate).
                command_output("etcd", &["--version"])
                    .and_then(|v| v.lines().next().map(|l| l.replace("etcd Version: ", "")))
                    .map(|v| ("etcd-server".to_string(), v)),
            )
            .collect(),
            git_revision: if dirty { format!("{rev}-dirty") } else { rev },
            date: command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"])
                .unwrap_or_else(|| "unknown".into()),
            mode: if quick { "quick" } else { "full" }.into(),
            run_id: Some(run_id.to_string()),
            git_dirty: git.as_ref().map(|g| g.dirty),
            git_diff_hash: git.and_then(|g| g.diff_hash),
            load_start: load_average(),
            load_end: None,
            command: Some(std::env::args().collect::<Vec<_>>().join(" ")),
            settings: Some(settings.to_string()),
            files: None,
        }
    }

    /// Records the end of the run: the load average now.
    pub fn finish(&mut self) {
        self.load_end = load_average();
    }

    /// A one-line summary for captions (the run id, and the diff hash of a dirty tree, where
    /// known).
    pub fn summary(&self) -> String {
        let mut rev = self.git_revision.clone();
        if let Some(h) = &self.git_diff_hash {
            let _ = write!(rev, " (diff {h})");
        }
        let mut line = format!(
            "{} ({}, {} cores), {}, {} mode, rev {}, {}",
            self.machine, self.cpu, self.cores, self.rustc, self.mode, rev, self.date
        );
        if let Some(id) = &self.run_id {
            let _ = write!(line, ", run {id}");
        }
        line
    }

    /// As JSON (flat, hand-written: the fields are plain strings).
    pub fn to_json(&self) -> String {
        fn s(v: &str) -> String {
            let mut out = String::from("\"");
            for c in v.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => {
                        let _ = write!(out, "\\u{:04x}", c as u32);
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        fn opt(v: &Option<String>) -> String {
            v.as_deref().map_or_else(|| "null".to_string(), s)
        }
        let crates: Vec<String> = self
            .crates
            .iter()
            .map(|(n, v)| format!("{}: {}", s(n), s(v)))
            .collect();
        let files = self.files.as_ref().map_or_else(
            || "null".to_string(),
            |files| {
                let entries: Vec<String> = files
                    .iter()
                    .map(|f| format!("{}: {}", s(&f.name), s(&format!("{} {}", f.rows, f.hash))))
                    .collect();
                format!("{{{}}}", entries.join(", "))
            },
        );
        let extra = format!(
            ",\n  \"run_id\": {},\n  \"git_dirty\": {},\n  \"git_diff_hash\": {},\n  \"load_start\": {},\n  \"load_end\": {},\n  \"command\": {},\n  \"settings\": {},\n  \"files\": {files}",
            opt(&self.run_id),
            self.git_dirty
                .map_or_else(|| "null".to_string(), |d| d.to_string()),
            opt(&self.git_diff_hash),
            opt(&self.load_start),
            opt(&self.load_end),
            opt(&self.command),
            opt(&self.settings)
        );
        format!(
            "{{\n  \"machine\": {},\n  \"cpu\": {},\n  \"cores\": {},\n  \"rustc\": {},\n  \"allocator\": {},\n  \"hasher\": {},\n  \"crates\": {{{}}},\n  \"git_revision\": {},\n  \"date\": {},\n  \"mode\": {}{extra}\n}}\n",
            s(&self.machine),
            s(&self.cpu),
            self.cores,
            s(&self.rustc),
            s(&self.allocator),
            s(&self.hasher),
            crates.join(", "),
            s(&self.git_revision),
            s(&self.date),
            s(&self.mode)
        )
    }

    /// Reads back what [`to_json`](Self::to_json) wrote (only this flat shape); the fields
    /// added with run ids may be missing (older files) and read as `None`.
    pub fn from_json(text: &str) -> Option<Self> {
        fn field(text: &str, key: &str) -> Option<String> {
            let at = text.find(&format!("\"{key}\": "))? + key.len() + 4;
            let rest = &text[at..];
            if let Some(rest) = rest.strip_prefix('"') {
                let mut out = String::new();
                let mut chars = rest.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => out.push(chars.next()?),
                        '"' => return Some(out),
                        c => out.push(c),
                    }
                }
                None
            } else {
                Some(rest.split([',', '\n', '}']).next()?.trim().to_string())
            }
        }
        // A field that may be missing or `null`: `None` then (a quoted "null" is text).
        fn opt_field(text: &str, key: &str) -> Option<String> {
            let at = text.find(&format!("\"{key}\": "))? + key.len() + 4;
            if text[at..].starts_with("null") {
                return None;
            }
            field(text, key)
        }
        // The manifest: `"files": {"lookup.csv": "12 <hash>", ...}`, or `null` / missing.
        fn files_field(text: &str) -> Option<Vec<FileCount>> {
            let at = text.find("\"files\": {")? + 10;
            let end = at + text[at..].find('}')?;
            text[at..end]
                .split(", ")
                .filter(|kv| !kv.trim().is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once(": ")?;
                    let (rows, hash) = v.trim_matches('"').split_once(' ')?;
                    Some(FileCount {
                        name: k.trim_matches('"').to_string(),
                        rows: rows.parse().ok()?,
                        hash: hash.to_string(),
                    })
                })
                .collect()
        }
        let crates_at = text.find("\"crates\": {")? + 11;
        let crates_end = crates_at + text[crates_at..].find('}')?;
        let crates = text[crates_at..crates_end]
            .split(", ")
            .filter_map(|kv| {
                let (k, v) = kv.split_once(": ")?;
                Some((
                    k.trim_matches('"').to_string(),
                    v.trim_matches('"').to_string(),
                ))
            })
            .collect();
        Some(Environment {
            machine: field(text, "machine")?,
            cpu: field(text, "cpu")?,
            cores: field(text, "cores")?.parse().ok()?,
            rustc: field(text, "rustc")?,
            allocator: field(text, "allocator")?,
            hasher: field(text, "hasher")?,
            crates,
            git_revision: field(text, "git_revision")?,
            date: field(text, "date")?,
            mode: field(text, "mode")?,
            run_id: opt_field(text, "run_id"),
            git_dirty: opt_field(text, "git_dirty").and_then(|d| d.parse().ok()),
            git_diff_hash: opt_field(text, "git_diff_hash"),
            load_start: opt_field(text, "load_start"),
            load_end: opt_field(text, "load_end"),
            command: opt_field(text, "command"),
            settings: opt_field(text, "settings"),
            files: files_field(text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips() {
        let id = new_run_id();
        let settings = settings_line(true, &[1, 2], None, &["lookup"]);
        let mut env = Environment::capture(&id, true, &settings, Path::new("results"), "system");
        assert!(env.cores >= 1);
        assert_eq!(env.run_id.as_deref(), Some(id.as_str()));
        assert_eq!(Environment::from_json(&env.to_json()), Some(env.clone()));
        env.finish();
        assert_eq!(Environment::from_json(&env.to_json()), Some(env.clone()));
        env.files = Some(vec![
            FileCount::of("lookup.csv", "a\nb\n", 1),
            FileCount::of("churn.csv", "", 0),
        ]);
        assert_eq!(Environment::from_json(&env.to_json()), Some(env.clone()));
        env.files = Some(Vec::new());
        assert_eq!(Environment::from_json(&env.to_json()), Some(env));
    }

    #[test]
    fn older_files_read_with_the_new_fields_missing() {
        let old = "{\n  \"machine\": \"m\",\n  \"cpu\": \"c\",\n  \"cores\": 4,\n  \"rustc\": \"r\",\n  \"allocator\": \"a\",\n  \"hasher\": \"h\",\n  \"crates\": {\"tokio\": \"1.0\"},\n  \"git_revision\": \"abc-dirty\",\n  \"date\": \"d\",\n  \"mode\": \"quick\"\n}\n";
        let env = Environment::from_json(old).unwrap();
        assert_eq!(env.git_revision, "abc-dirty");
        assert_eq!(env.run_id, None);
        assert_eq!(env.git_dirty, None);
        assert_eq!(env.load_end, None);
        assert_eq!(env.files, None);
        assert!(env.summary().contains("rev abc-dirty"));
    }

    #[test]
    fn run_ids_are_timestamped_and_distinct() {
        let a = new_run_id();
        let b = new_run_id();
        assert_ne!(a, b);
        let (time, suffix) = a.split_once('-').unwrap();
        assert_eq!(time.len(), 16);
        assert!(time.starts_with("20") && time.ends_with('Z') && &time[8..9] == "T");
        assert_eq!(suffix.len(), 4);
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(compact_utc(0), "19700101T000000Z");
        assert_eq!(compact_utc(1_795_966_200), "20261129T153000Z");
    }
}

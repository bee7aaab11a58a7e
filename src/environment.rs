//! The machine and build a run came from, recorded beside its results.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

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
    /// `git rev-parse --short HEAD` (with `-dirty` if the tree had changes).
    pub git_revision: String,
    /// UTC date and time of the run.
    pub date: String,
    /// `quick` or `full`.
    pub mode: String,
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
    /// Reads the environment of this run.
    pub fn capture(quick: bool, allocator: &str) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dirty =
            command_output("git", &["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
        let rev = command_output("git", &["rev-parse", "--short", "HEAD"])
            .unwrap_or_else(|| "unknown".into());
        Environment {
            machine: std::env::var("NAMING_BENCH_MACHINE")
                .ok()
                .or_else(|| command_output("hostname", &[]))
                .unwrap_or_else(|| "unknown".into()),
            cpu: cpu_model(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            rustc: command_output("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
            allocator: allocator.to_string(),
            hasher: "foldhash 0.1 (fast)".into(),
            crates: locked_versions(
                root,
                &[
                    "tokio",
                    "dashmap",
                    "flurry",
                    "scc",
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
        }
    }

    /// A one-line summary for captions.
    pub fn summary(&self) -> String {
        format!(
            "{} ({}, {} cores), {}, {} mode, rev {}, {}",
            self.machine, self.cpu, self.cores, self.rustc, self.mode, self.git_revision, self.date
        )
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
        let crates: Vec<String> = self
            .crates
            .iter()
            .map(|(n, v)| format!("{}: {}", s(n), s(v)))
            .collect();
        format!(
            "{{\n  \"machine\": {},\n  \"cpu\": {},\n  \"cores\": {},\n  \"rustc\": {},\n  \"allocator\": {},\n  \"hasher\": {},\n  \"crates\": {{{}}},\n  \"git_revision\": {},\n  \"date\": {},\n  \"mode\": {}\n}}\n",
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

    /// Reads back what [`to_json`](Self::to_json) wrote (only this flat shape).
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips() {
        let env = Environment::capture(true, "system (counted)");
        assert!(env.cores >= 1);
        assert_eq!(Environment::from_json(&env.to_json()), Some(env));
    }
}

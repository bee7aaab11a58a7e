//! One BEAM node running the project's Elixir harness (`beam/harness.exs`): started as a
//! child process in a process group of its own, spoken to over its stdin and stdout one
//! line at a time, and always shut down: dropping a [`Node`] kills its process group and
//! reaps it, on every path (a finished run, an error, a timeout, a panic), and an
//! interrupted run kills it with the other measuring processes
//! ([`crate::interrupt::spawn`]).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The harness script: `NAMING_BENCH_BEAM_HARNESS`, else `beam/harness.exs` of this
/// source tree (found at build time).
pub fn harness_path() -> PathBuf {
    match std::env::var_os("NAMING_BENCH_BEAM_HARNESS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("beam/harness.exs"),
    }
}

/// The harness's modules compiled once (with `elixirc`) into a directory named by a hash
/// of their sources under the system's temporary directory, so each node loads them
/// rather than compiling them again; `None` (each node then compiles them itself) where
/// they cannot be compiled. Compiled into a directory of its own, then renamed into
/// place, so concurrent callers never load a half-written one.
pub fn compiled(harness: &Path) -> Option<PathBuf> {
    let dir = harness.parent()?;
    let mut sources: Vec<PathBuf> = Vec::new();
    for d in [dir.to_path_buf(), dir.join("workloads")] {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "ex") {
                sources.push(p);
            }
        }
    }
    sources.sort();
    let mut text = Vec::new();
    for p in &sources {
        text.extend(p.to_string_lossy().as_bytes());
        text.extend(std::fs::read(p).ok()?);
    }
    let hash = crate::environment::fnv1a(&text);
    let out = std::env::temp_dir().join(format!("naming-bench-beam-{hash:016x}"));
    if out.join("Elixir.NamingBench.Harness.beam").is_file() {
        return Some(out);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = out.with_extension(format!("tmp-{}-{nanos}", std::process::id()));
    let ok = Command::new("elixirc")
        .arg("--ignore-module-conflict")
        .arg("-o")
        .arg(&tmp)
        .args(&sources)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok && std::fs::rename(&tmp, &out).is_ok() {
        return Some(out);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    out.join("Elixir.NamingBench.Harness.beam")
        .is_file()
        .then_some(out)
}

/// Whether the `elixir` command is on the `PATH`.
pub fn elixir_installed() -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let p = dir.join("elixir");
            p.is_file()
        })
    })
}

/// Why a node could not answer.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// `elixir` could not be started.
    #[error("the BEAM node did not start ({harness}): {source}")]
    Start {
        /// The harness script.
        harness: String,
        /// The error.
        source: std::io::Error,
    },
    /// The node wrote something that is not the protocol.
    #[error("the BEAM harness broke the protocol: {0}")]
    Protocol(String),
    /// The node exited (or closed its output) before answering.
    #[error("the BEAM node exited before answering")]
    Exited,
    /// The node did not answer in time; it was shut down.
    #[error("the BEAM node did not answer within {0:?}; it was shut down")]
    Timeout(Duration),
    /// Writing the request failed.
    #[error("writing to the BEAM node: {0}")]
    Write(std::io::Error),
}

/// The answer to one request: the `row` lines (without the prefix) and the error the
/// harness reported, if any.
#[derive(Debug, Default)]
pub struct Answer {
    /// Each row in the suite's CSV row form.
    pub rows: Vec<String>,
    /// The `error` line's reason.
    pub error: Option<String>,
}

/// A running BEAM node with the harness loaded.
pub struct Node {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    vm: String,
}

impl Node {
    /// Starts `elixir <harness>` and waits (up to `startup`) for its `vm` line.
    pub fn start(harness: &Path, startup: Duration) -> Result<Node, NodeError> {
        let mut cmd = Command::new("elixir");
        match compiled(harness) {
            Some(dir) => cmd
                .arg("-pa")
                .arg(dir)
                .args(["-e", "NamingBench.Harness.main()"]),
            None => cmd.arg(harness),
        };
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = crate::interrupt::spawn(&mut cmd).map_err(|source| NodeError::Start {
            harness: harness.display().to_string(),
            source,
        })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let (tx, lines) = mpsc::channel();
        if let Some(out) = stdout {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut node = Node {
            child,
            stdin,
            lines,
            vm: String::new(),
        };
        let first = node.next_line(Instant::now() + startup, startup)?;
        match first.strip_prefix("vm ") {
            Some(vm) => node.vm = vm.to_string(),
            None => {
                return Err(NodeError::Protocol(format!(
                    "expected a `vm` line first, got {first:?}"
                )))
            }
        }
        Ok(node)
    }

    /// The node's own description of its VM (OTP, ERTS, Elixir, schedulers, flags).
    pub fn vm(&self) -> &str {
        &self.vm
    }

    /// The OS process id of the node (its process group too).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one request line and collects the answer until `end`, within `limit`; on a
    /// timeout the node is shut down (and must not be used again).
    pub fn request(&mut self, line: &str, limit: Duration) -> Result<Answer, NodeError> {
        let stdin = self.stdin.as_mut().ok_or(NodeError::Exited)?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(NodeError::Write)?;
        let deadline = Instant::now() + limit;
        let mut answer = Answer::default();
        loop {
            let line = match self.next_line(deadline, limit) {
                Ok(l) => l,
                Err(e) => {
                    self.shut_down();
                    return Err(e);
                }
            };
            if line == "end" {
                return Ok(answer);
            } else if let Some(row) = line.strip_prefix("row ") {
                answer.rows.push(row.to_string());
            } else if let Some(reason) = line.strip_prefix("error ") {
                answer.error = Some(reason.to_string());
            } else {
                self.shut_down();
                return Err(NodeError::Protocol(format!("unexpected line {line:?}")));
            }
        }
    }

    fn next_line(&mut self, deadline: Instant, limit: Duration) -> Result<String, NodeError> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => Err(NodeError::Timeout(limit)),
            Err(RecvTimeoutError::Disconnected) => Err(NodeError::Exited),
        }
    }

    /// Kills the node's process group and reaps the node; idempotent.
    pub fn shut_down(&mut self) {
        self.stdin = None;
        let pid = self.child.id();
        if let Ok(Some(_)) = self.child.try_wait() {
            crate::interrupt::forget(pid);
            return;
        }
        // SAFETY: kill(2) on the node's own process group (it was started as its leader).
        unsafe {
            libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::interrupt::forget(pid);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shut_down();
    }
}

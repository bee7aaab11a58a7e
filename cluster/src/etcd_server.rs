//! Start a real, local, N-member etcd cluster for tests and benchmarks.
//!
//! Members are child processes of this process with static `--initial-cluster` bootstrapping,
//! data under a fresh temp dir, and fast raft timings so short leases (1-2 s) behave. Members
//! die with the [`EtcdCluster`] value (Drop) and with this process (`PR_SET_PDEATHSIG`), so a
//! crashed test never leaves etcd running.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use crate::etcd_kv::EtcdError;
use crate::etcd_kv::EtcdKv;

/// How to start an [`EtcdCluster`].
#[derive(Debug, Clone)]
pub struct EtcdConfig {
    /// Number of members (3 by default: one may die and quorum holds).
    pub members: usize,
    /// IP every member binds and advertises (127.0.0.1 by default; a bridge IP when nodes run in
    /// network namespaces). Unused where [`hosts`](Self::hosts) is given.
    pub ip: IpAddr,
    /// Where each member runs, one entry per member: its own IP and network namespace, so a
    /// partition between namespaces also cuts etcd's peers. Empty (the default): every member
    /// on [`ip`](Self::ip) in this process's namespace.
    pub hosts: Vec<MemberHost>,
    /// Member `i` uses client port `base + 2i` and peer port `base + 2i + 1`. `None`: free ports
    /// picked by the OS, so parallel test binaries do not clash; with [`hosts`](Self::hosts)
    /// (addresses this namespace may not own) [`HOSTED_BASE_PORT`] instead.
    pub base_port: Option<u16>,
    /// Raft heartbeat in milliseconds.
    pub heartbeat_ms: u64,
    /// Raft election timeout in milliseconds.
    pub election_ms: u64,
    /// How long to wait for every member to serve a linearizable read.
    pub start_timeout: Duration,
    /// Directory under which a fresh data dir is made (`None`: the system temp dir).
    pub data_root: Option<PathBuf>,
    /// The etcd binary (`None`: [`etcd_binary`]).
    pub binary: Option<PathBuf>,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            members: 3,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            hosts: Vec::new(),
            base_port: None,
            heartbeat_ms: 50,
            election_ms: 500,
            start_timeout: Duration::from_secs(20),
            data_root: None,
            binary: None,
        }
    }
}

/// Where one etcd member runs: the address it binds and advertises, and the network namespace
/// it is started in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberHost {
    /// The member's address (client and peer URLs).
    pub ip: IpAddr,
    /// The named network namespace (as `ip netns list` shows it) the member runs in, through
    /// `ip netns exec`; `None`: this process's namespace.
    pub netns: Option<String>,
}

/// First port of members placed by [`EtcdConfig::hosts`] without a `base_port`: each has its
/// own address, so fixed ports cannot clash with other processes' free ports.
pub const HOSTED_BASE_PORT: u16 = 2379;

/// The etcd binary to run: `$NAMING_BENCH_ETCD` if set, else `etcd` on `PATH`; `None` if neither
/// exists.
pub fn etcd_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NAMING_BENCH_ETCD") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("etcd"))
        .find(|p| p.is_file())
}

struct Member {
    name: String,
    client_url: String,
    child: Option<Child>,
    log: PathBuf,
    /// The namespace it runs in (`None`: this process's).
    netns: Option<String>,
    /// Its command line (after the binary), to start it again over its data dir.
    args: Vec<std::ffi::OsString>,
}

/// A running local etcd cluster. Every member is killed, and the data dir removed, on drop.
pub struct EtcdCluster {
    members: Vec<Member>,
    dir: PathBuf,
    binary: PathBuf,
}

/// Spawns an etcd member: `binary args` (through `ip netns exec <netns>` where a namespace is
/// given; `ip` execs etcd, so the child's pid is etcd's), stderr appended to `log`, killed by
/// the kernel when this process dies.
fn spawn_member(
    binary: &Path,
    args: &[std::ffi::OsString],
    log: &Path,
    netns: Option<&str>,
) -> Result<Child, EtcdError> {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io_err(format!("opening {}", log.display())))?;
    let parent = std::process::id() as libc::pid_t;
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    cmd.args(args)
        .env_remove("ETCD_NAME")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file));
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    spawn_child(cmd).map_err(io_err(format!("spawning {}", binary.display())))
}

impl std::fmt::Debug for EtcdCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdCluster")
            .field("endpoints", &self.endpoints())
            .field("dir", &self.dir)
            .finish()
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EtcdError {
    let context = context.into();
    move |source| EtcdError::Io { context, source }
}

/// Children are spawned from one thread that lives as long as the process: `PR_SET_PDEATHSIG`
/// fires when the *thread* that forked exits, and a tokio worker or blocking thread may exit
/// long before the cluster should stop.
fn spawn_child(cmd: Command) -> std::io::Result<Child> {
    type Job = (Command, std_mpsc::SyncSender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<std_mpsc::Sender<Job>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = std_mpsc::channel::<Job>();
        let _ = std::thread::Builder::new()
            .name("etcd-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            });
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = std_mpsc::sync_channel(1);
    let sent = sender
        .lock()
        .map_err(|_| std::io::Error::other("spawner lock poisoned"))?
        .send((cmd, reply_tx));
    if sent.is_err() {
        return Err(std::io::Error::other("spawner thread gone"));
    }
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("spawner thread gone"))?
}

/// Remove data dirs left by earlier processes that died without dropping their cluster (e.g. a
/// cluster kept in a `static`). Dir names carry the owning pid.
fn remove_stale_dirs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix("naming-bench-etcd-"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH);
        if !alive {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn free_ports(ip: IpAddr, n: usize) -> Result<Vec<u16>, EtcdError> {
    // Hold every listener until all are picked so the OS hands out distinct ports.
    let listeners = (0..n)
        .map(|_| TcpListener::bind(SocketAddr::new(ip, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err(format!("binding a free port on {ip}")))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err("reading a bound port"))
}

fn url(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(_) => format!("http://{ip}:{port}"),
        IpAddr::V6(_) => format!("http://[{ip}]:{port}"),
    }
}

/// The last `max` bytes of a file, as text.
fn tail(path: &Path, max: u64) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::from("(no log)");
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(max)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

impl EtcdCluster {
    /// Start `cfg.members` members and wait until each serves a linearizable read through the
    /// JSON gateway. On a deadline the error carries the failing member's stderr tail.
    pub async fn start(cfg: EtcdConfig) -> Result<Self, EtcdError> {
        let n = cfg.members.max(1);
        if !cfg.hosts.is_empty() && cfg.hosts.len() != n {
            return Err(EtcdError::Config(format!(
                "{} member hosts for {n} members (one per member, or none)",
                cfg.hosts.len()
            )));
        }
        let binary = match cfg.binary.clone() {
            Some(b) => b,
            None => etcd_binary().ok_or(EtcdError::NoBinary)?,
        };
        let host = |i: usize| -> MemberHost {
            cfg.hosts.get(i).cloned().unwrap_or(MemberHost {
                ip: cfg.ip,
                netns: None,
            })
        };
        let base = cfg
            .base_port
            .or((!cfg.hosts.is_empty()).then_some(HOSTED_BASE_PORT));
        let ports: Vec<u16> = match base {
            Some(base) => (0..2 * n).map(|k| base.saturating_add(k as u16)).collect(),
            None => free_ports(cfg.ip, 2 * n)?,
        };
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let root = cfg.data_root.clone().unwrap_or_else(std::env::temp_dir);
        remove_stale_dirs(&root);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = root.join(format!(
            "naming-bench-etcd-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        let mut cluster = EtcdCluster {
            members: Vec::with_capacity(n),
            dir,
            binary: binary.clone(),
        };
        let peer = |i: usize| url(host(i).ip, ports[2 * i + 1]);
        let initial: Vec<String> = (0..n).map(|i| format!("m{i}={}", peer(i))).collect();
        let initial = initial.join(",");
        let token = cluster
            .dir
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("naming-bench")
            .to_string();
        for i in 0..n {
            let name = format!("m{i}");
            let client_url = url(host(i).ip, ports[2 * i]);
            let log = cluster.dir.join(format!("{name}.log"));
            let args: Vec<std::ffi::OsString> = vec![
                "--name".into(),
                name.clone().into(),
                "--data-dir".into(),
                cluster.dir.join(&name).into(),
                "--listen-client-urls".into(),
                client_url.clone().into(),
                "--advertise-client-urls".into(),
                client_url.clone().into(),
                "--listen-peer-urls".into(),
                peer(i).into(),
                "--initial-advertise-peer-urls".into(),
                peer(i).into(),
                "--initial-cluster".into(),
                initial.clone().into(),
                "--initial-cluster-state".into(),
                "new".into(),
                "--initial-cluster-token".into(),
                token.clone().into(),
                "--heartbeat-interval".into(),
                cfg.heartbeat_ms.to_string().into(),
                "--election-timeout".into(),
                cfg.election_ms.to_string().into(),
                "--snapshot-count".into(),
                "100000".into(),
            ];
            let _ = std::fs::remove_file(&log);
            let netns = host(i).netns;
            let child = spawn_member(&binary, &args, &log, netns.as_deref())?;
            cluster.members.push(Member {
                name,
                client_url,
                child: Some(child),
                log,
                netns,
                args,
            });
        }
        cluster.wait_healthy(cfg.start_timeout).await?;
        Ok(cluster)
    }

    async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), EtcdError> {
        let started = Instant::now();
        let deadline = process_runtime::instant_after(started, timeout);
        for (i, m) in self.members.iter_mut().enumerate() {
            let kv = EtcdKv::new(vec![m.client_url.clone()], Duration::from_secs(1))?;
            loop {
                let last_error = match kv.get(b"naming-bench/health").await {
                    Ok(_) => break,
                    Err(e) => e.to_string(),
                };
                let exited = m
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten())
                    .map(|s| format!("member exited: {s}; "));
                if exited.is_some() || Instant::now() >= deadline {
                    return Err(EtcdError::NotReady {
                        waited: started.elapsed(),
                        member: i,
                        last_error: format!("{}{last_error}", exited.unwrap_or_default()),
                        stderr_tail: tail(&m.log, 4096),
                    });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Client URLs of every member, `"http://ip:port"`, in member order (killed ones included).
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_url.clone()).collect()
    }

    /// Client URL of member `i`.
    pub fn endpoint(&self, i: usize) -> Option<&str> {
        self.members.get(i).map(|m| m.client_url.as_str())
    }

    /// Number of members started.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the cluster has no members (never true for a started cluster).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// SIGKILL member `i` (to test tolerance of a lost member). Returns false if `i` is out of
    /// range or already killed.
    pub fn kill_member(&mut self, i: usize) -> bool {
        let Some(m) = self.members.get_mut(i) else {
            return false;
        };
        match m.child.take() {
            Some(mut c) => {
                let _ = c.kill();
                let _ = c.wait();
                true
            }
            None => false,
        }
    }

    /// Starts killed member `i` again over its data dir, in its namespace where it has one (it
    /// rejoins with its log and data, as a rebooted machine would). Returns false if `i` is out of range or still running.
    pub fn restart_member(&mut self, i: usize) -> Result<bool, EtcdError> {
        let binary = self.binary.clone();
        let Some(m) = self.members.get_mut(i) else {
            return Ok(false);
        };
        if m.child.is_some() {
            return Ok(false);
        }
        m.child = Some(spawn_member(&binary, &m.args, &m.log, m.netns.as_deref())?);
        Ok(true)
    }

    /// The last `max_bytes` of member `i`'s stderr log (for diagnosing failures).
    pub fn member_log_tail(&self, i: usize, max_bytes: u64) -> Option<String> {
        self.members
            .get(i)
            .map(|m| format!("[{}]\n{}", m.name, tail(&m.log, max_bytes)))
    }

    /// The data dir holding every member's data and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

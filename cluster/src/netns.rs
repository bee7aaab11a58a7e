//! Real network partitions between node processes, built from Linux network namespaces.
//!
//! [`ClusterNet::create`] makes one network namespace per node and joins each to a bridge
//! in the root namespace (where the harness and any shared services such as etcd live)
//! with a veth pair:
//!
//! ```text
//!   root namespace: bridge <tag>b, address 10.X.0.1/24
//!     ├── <tag>v0 ══ eth0 in namespace <tag>n0, address 10.X.0.2/24
//!     ├── <tag>v1 ══ eth0 in namespace <tag>n1, address 10.X.0.3/24
//!     └── ...
//! ```
//!
//! `<tag>` is `<prefix><pid>k<counter>`, so instances in one process and in parallel
//! processes never share names; `X` is picked under a machine-wide lock among second octets
//! no existing IPv4 address uses.
//!
//! [`ClusterNet::partition`] cuts node↔node paths between groups while every node keeps
//! reaching the bridge address; [`ClusterNet::heal`] restores them. How a path is cut is
//! set by [`CutMode`]: by default a cut *silently drops* packets (as a real netsplit does,
//! so peers see timeouts, not errors). Only iproute2 (`ip`) is needed, no firewall.
//!
//! Everything here shells out to `ip` and blocks for a few milliseconds per command; from
//! async code that is acceptable for setup and for the occasional partition, or wrap calls
//! in `spawn_blocking`. Dropping a [`ClusterNet`] deletes what it made; leftovers of runs
//! that died without dropping are removed by [`ClusterNet::cleanup_stale`].

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::File;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};

use parking_lot::Mutex;

/// Prefix of every name made by [`ClusterNet`] with [`NetOptions::default`].
pub const DEFAULT_PREFIX: &str = "nb";

/// Name of a node's interface inside its namespace.
pub const NODE_IFNAME: &str = "eth0";

/// Link-layer address that cut paths are pointed at: locally administered and owned by no
/// interface, so frames sent to it are flooded by the bridge and dropped by every receiver.
const NOWHERE_MAC: &str = "02:6e:62:00:00:00";

/// Machine-wide lock serialising subnet allocation across processes.
const LOCK_PATH: &str = "/run/naming-bench-netns.lock";

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
const MAX_IFNAME: usize = 15;

/// Per-process instance counter; part of every name.
static INSTANCE: AtomicU32 = AtomicU32::new(0);

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A command ran and exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line, space-joined.
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// A command could not be started at all (e.g. `ip` is not installed).
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line, space-joined.
        command: String,
        /// The error from spawning it.
        source: std::io::Error,
    },
    /// A system call failed (locking, entering a namespace).
    #[error("{what}: {source}")]
    Os {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A node index was not below the cluster size.
    #[error("node {index} out of range for a cluster of {nodes}")]
    NoSuchNode {
        /// The index asked for.
        index: usize,
        /// The cluster size.
        nodes: usize,
    },
    /// Options, a cluster size or a partition that cannot be honoured.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Every candidate second octet is already in use on this machine.
    #[error("no free 10.X.0.0/24 subnet in the configured range")]
    NoFreeSubnet,
    /// A closure run by [`ClusterNet::enter`] panicked.
    #[error("closure run inside namespace {0} panicked")]
    Panicked(String),
}

/// How [`ClusterNet::partition`] cuts the path between two nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CutMode {
    /// Packets are silently lost, as in a real netsplit: connects and established
    /// connections time out. Done by pointing each side's neighbour (ARP) entry for the
    /// other at an address no interface owns (`ip neigh replace … nud permanent`).
    #[default]
    Drop,
    /// Sends fail at once with "permission denied" (`ip route replace prohibit <peer>/32`
    /// on each side): fast failure detection, like an ICMP-rejecting firewall.
    Reject,
}

/// Options of [`ClusterNet::create`].
#[derive(Debug, Clone)]
pub struct NetOptions {
    /// Start of every name; 1 to 3 lowercase ASCII letters. [`ClusterNet::cleanup_stale`]
    /// takes the same prefix.
    pub prefix: String,
    /// How partitions cut paths.
    pub cut: CutMode,
    /// Candidates for the second octet `X` of the cluster subnet 10.X.0.0/24.
    pub second_octets: RangeInclusive<u8>,
}

impl Default for NetOptions {
    fn default() -> Self {
        NetOptions {
            prefix: DEFAULT_PREFIX.to_string(),
            cut: CutMode::Drop,
            second_octets: 100..=250,
        }
    }
}

/// A bridge plus one network namespace per node; deleted on drop.
#[derive(Debug)]
pub struct ClusterNet {
    tag: String,
    octet: u8,
    cut: CutMode,
    namespaces: Vec<String>,
    host_veths: Vec<String>,
    bridge: String,
    /// Cut node pairs `(a, b)` with `a < b`.
    cuts: Mutex<BTreeSet<(usize, usize)>>,
}

impl ClusterNet {
    /// Whether this machine lets us make namespaces, veth pairs and bridges; `Err` says why
    /// not. Tries with throwaway objects that it deletes again.
    pub fn available() -> Result<(), String> {
        let k = INSTANCE.fetch_add(1, Ordering::Relaxed) % 100;
        let tag = format!("{DEFAULT_PREFIX}{}t{k}", std::process::id());
        let (ns, veth, bridge) = (format!("{tag}n"), format!("{tag}v"), format!("{tag}b"));
        let attempt = || -> Result<(), NetError> {
            ip(["netns", "add", &ns])?;
            ip(["-n", &ns, "link", "set", "lo", "up"])?;
            ip(["link", "add", &bridge, "type", "bridge"])?;
            ip([
                "link",
                "add",
                &veth,
                "type",
                "veth",
                "peer",
                "name",
                NODE_IFNAME,
                "netns",
                &ns,
            ])?;
            ip(["link", "set", &veth, "master", &bridge])?;
            Ok(())
        };
        let result = attempt().map_err(|e| e.to_string());
        let _ = ip(["link", "del", &veth]);
        let _ = ip(["link", "del", &bridge]);
        let _ = ip(["netns", "del", &ns]);
        result
    }

    /// Makes a bridge and `nodes` namespaces joined to it, all links up. On error, whatever
    /// was already made is deleted again.
    pub fn create(nodes: usize, opts: NetOptions) -> Result<ClusterNet, NetError> {
        let p = &opts.prefix;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(NetError::Invalid(format!(
                "prefix {p:?} must be 1 to 3 lowercase ASCII letters"
            )));
        }
        if nodes == 0 || nodes > 250 {
            return Err(NetError::Invalid(format!(
                "{nodes} nodes (1 to 250 allowed)"
            )));
        }
        let _lock = MachineLock::acquire()?;
        let existing = ip(["-o", "link", "show"])?;
        let existing_ns = ip(["netns", "list"])?;
        let pid = std::process::id();
        // A counter value whose names are all free (relevant only after wrap-around).
        let tag = (0..100)
            .map(|_| {
                format!(
                    "{p}{pid}k{}",
                    INSTANCE.fetch_add(1, Ordering::Relaxed) % 100
                )
            })
            .find(|tag| !existing.contains(tag.as_str()) && !existing_ns.contains(tag.as_str()))
            .ok_or_else(|| NetError::Invalid("no free instance number".into()))?;
        let bridge = format!("{tag}b");
        let host_veths: Vec<String> = (0..nodes).map(|i| format!("{tag}v{i}")).collect();
        if let Some(long) = host_veths.iter().find(|n| n.len() > MAX_IFNAME) {
            return Err(NetError::Invalid(format!(
                "interface name {long} longer than {MAX_IFNAME} characters"
            )));
        }
        let octet = free_octet(&opts.second_octets)?;
        let net = ClusterNet {
            namespaces: (0..nodes).map(|i| format!("{tag}n{i}")).collect(),
            tag,
            octet,
            cut: opts.cut,
            host_veths,
            bridge,
            cuts: Mutex::new(BTreeSet::new()),
        };
        // On error `net` is dropped here, which deletes the partial setup.
        net.build()?;
        Ok(net)
    }

    fn build(&self) -> Result<(), NetError> {
        let br = self.bridge.as_str();
        let bridge_cidr = format!("{}/24", self.bridge_ip());
        ip(["link", "add", br, "type", "bridge"])?;
        ip(["addr", "add", &bridge_cidr, "dev", br])?;
        ip(["link", "set", br, "up"])?;
        for i in 0..self.nodes() {
            let (ns, veth) = (self.namespaces[i].as_str(), self.host_veths[i].as_str());
            let cidr = format!("{}/24", self.ip_of(i));
            ip(["netns", "add", ns])?;
            ip(["-n", ns, "link", "set", "lo", "up"])?;
            ip([
                "link",
                "add",
                veth,
                "type",
                "veth",
                "peer",
                "name",
                NODE_IFNAME,
                "netns",
                ns,
            ])?;
            ip(["link", "set", veth, "master", br])?;
            ip(["link", "set", veth, "up"])?;
            ip(["-n", ns, "addr", "add", &cidr, "dev", NODE_IFNAME])?;
            ip(["-n", ns, "link", "set", NODE_IFNAME, "up"])?;
        }
        Ok(())
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.namespaces.len()
    }

    /// The name shared by everything of this instance (`<prefix><pid>k<counter>`).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Address of node `i` (10.X.0.(i+2)), on its interface [`NODE_IFNAME`].
    pub fn node_ip(&self, i: usize) -> Result<Ipv4Addr, NetError> {
        self.ns(i)?;
        Ok(self.ip_of(i))
    }

    fn ip_of(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.octet, 0, (i + 2) as u8)
    }

    /// Address of the bridge in the root namespace (10.X.0.1); every node reaches it, also
    /// while partitioned. Services for the nodes (harness, etcd) should listen on it or on
    /// 0.0.0.0.
    pub fn bridge_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.octet, 0, 1)
    }

    /// Name of the bridge in the root namespace.
    pub fn bridge_name(&self) -> &str {
        &self.bridge
    }

    /// Name of node `i`'s namespace (as `ip netns list` shows it).
    pub fn netns_name(&self, i: usize) -> Result<&str, NetError> {
        self.ns(i)
    }

    /// A command that runs `program` inside node `i`'s namespace (`ip netns exec <ns>
    /// <program>`); add the program's arguments to it. `ip` execs the program, so the
    /// child's pid is the program's.
    pub fn command(
        &self,
        i: usize,
        program: impl AsRef<OsStr>,
    ) -> Result<tokio::process::Command, NetError> {
        let ns = self.ns(i)?;
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(program);
        Ok(cmd)
    }

    /// Runs `f` on a fresh thread that has entered node `i`'s namespace and returns its
    /// result. Sockets made by `f` stay in that namespace after it returns, so this is how
    /// one process can listen or connect as node `i`.
    pub fn enter<R, F>(&self, i: usize, f: F) -> Result<R, NetError>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let ns = self.ns(i)?;
        let path = format!("/run/netns/{ns}");
        let file = File::open(&path).map_err(|source| NetError::Os {
            what: format!("opening {path}"),
            source,
        })?;
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns on a valid open namespace fd; it affects only this thread.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(NetError::Os {
                        what: format!("entering namespace {ns}"),
                        source: std::io::Error::last_os_error(),
                    });
                }
                Ok(f())
            })
            .join()
            .unwrap_or_else(|_| Err(NetError::Panicked(ns.to_string())))
        })
    }

    /// Cuts all traffic, both ways, between nodes of different groups; nodes in one group
    /// keep reaching each other, and every node keeps reaching [`ClusterNet::bridge_ip`].
    /// A node in no group is cut from all others. Replaces any earlier partition, so
    /// repeating a call changes nothing.
    pub fn partition(&self, groups: &[Vec<usize>]) -> Result<(), NetError> {
        let n = self.nodes();
        let mut group_of: Vec<Option<usize>> = vec![None; n];
        for (g, members) in groups.iter().enumerate() {
            for &m in members {
                let slot = group_of
                    .get_mut(m)
                    .ok_or(NetError::NoSuchNode { index: m, nodes: n })?;
                if slot.is_some() {
                    return Err(NetError::Invalid(format!("node {m} is in two groups")));
                }
                *slot = Some(g);
            }
        }
        let group = |i: usize| group_of[i].unwrap_or(groups.len() + i);
        let wanted = (0..n)
            .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
            .filter(|&(a, b)| group(a) != group(b))
            .collect();
        self.apply(&wanted)
    }

    /// Restores every cut path. Repeating it changes nothing.
    pub fn heal(&self) -> Result<(), NetError> {
        self.apply(&BTreeSet::new())
    }

    /// Impairs every packet node `i` sends on its link with `tc netem` in its namespace
    /// (`None` restores a clean link). Fails with [`NetError::Command`] where the kernel has
    /// no `sch_netem` or `tc` is missing.
    pub fn impair(&self, i: usize, netem: Option<&Netem>) -> Result<(), NetError> {
        let ns = self.ns(i)?;
        match netem {
            Some(n) => {
                let args = n.tc_args();
                let mut all = vec!["netns", "exec", ns, "tc", "qdisc", "replace", "dev"];
                all.extend([NODE_IFNAME, "root", "netem"]);
                all.extend(args.iter().map(String::as_str));
                ip(all).map(drop)
            }
            None => {
                let r = ip([
                    "netns",
                    "exec",
                    ns,
                    "tc",
                    "qdisc",
                    "del",
                    "dev",
                    NODE_IFNAME,
                    "root",
                ]);
                match r {
                    // No netem qdisc there: nothing to undo.
                    Err(NetError::Command { ref stderr, .. })
                        if stderr.contains("No such") || stderr.contains("Cannot find") =>
                    {
                        Ok(())
                    }
                    other => other.map(drop),
                }
            }
        }
    }

    /// Cuts node `i` from TCP destination port `port` on every host (an `ip rule` in its
    /// namespace that prohibits sending there), e.g. from etcd's client ports on the bridge
    /// while its links to the other nodes and the harness stay up. Repeating it changes
    /// nothing.
    pub fn block_port(&self, i: usize, port: u16) -> Result<(), NetError> {
        self.unblock_port(i, port)?;
        let ns = self.ns(i)?;
        let port = port.to_string();
        ip([
            "-n", ns, "rule", "add", "ipproto", "tcp", "dport", &port, "prohibit",
        ])
        .map(drop)
    }

    /// Undoes [`ClusterNet::block_port`]; an absent rule counts as success.
    pub fn unblock_port(&self, i: usize, port: u16) -> Result<(), NetError> {
        let ns = self.ns(i)?;
        let port = port.to_string();
        // At most a few copies can exist; delete until none is left.
        for _ in 0..8 {
            let r = ip([
                "-n", ns, "rule", "del", "ipproto", "tcp", "dport", &port, "prohibit",
            ]);
            if r.is_err() {
                break;
            }
        }
        Ok(())
    }

    /// Whether the path between nodes `a` and `b` is cut now.
    pub fn is_cut(&self, a: usize, b: usize) -> bool {
        self.cuts.lock().contains(&(a.min(b), a.max(b)))
    }

    /// Brings the cut set to `wanted`, recording each pair as soon as both sides are done,
    /// so that a failed call can simply be repeated.
    fn apply(&self, wanted: &BTreeSet<(usize, usize)>) -> Result<(), NetError> {
        let mut cuts = self.cuts.lock();
        let restore: Vec<_> = cuts.difference(wanted).copied().collect();
        for (a, b) in restore {
            self.restore_one_way(a, b)?;
            self.restore_one_way(b, a)?;
            cuts.remove(&(a, b));
        }
        let cut: Vec<_> = wanted.difference(&cuts).copied().collect();
        for (a, b) in cut {
            self.cut_one_way(a, b)?;
            self.cut_one_way(b, a)?;
            cuts.insert((a, b));
        }
        Ok(())
    }

    /// Makes `from` unable to send to `to`.
    fn cut_one_way(&self, from: usize, to: usize) -> Result<(), NetError> {
        let ns = self.namespaces[from].as_str();
        let peer = self.ip_of(to).to_string();
        match self.cut {
            CutMode::Drop => ip([
                "-n",
                ns,
                "neigh",
                "replace",
                &peer,
                "lladdr",
                NOWHERE_MAC,
                "dev",
                NODE_IFNAME,
                "nud",
                "permanent",
            ]),
            CutMode::Reject => ip([
                "-n",
                ns,
                "route",
                "replace",
                "prohibit",
                &format!("{peer}/32"),
            ]),
        }
        .map(drop)
    }

    /// Undoes [`ClusterNet::cut_one_way`]; an already absent entry counts as success.
    fn restore_one_way(&self, from: usize, to: usize) -> Result<(), NetError> {
        let ns = self.namespaces[from].as_str();
        let peer = self.ip_of(to).to_string();
        let result = match self.cut {
            CutMode::Drop => ip(["-n", ns, "neigh", "del", &peer, "dev", NODE_IFNAME]),
            CutMode::Reject => ip(["-n", ns, "route", "del", "prohibit", &format!("{peer}/32")]),
        };
        match result {
            Err(NetError::Command { ref stderr, .. })
                if stderr.contains("No such") || stderr.contains("Cannot find") =>
            {
                Ok(())
            }
            other => other.map(drop),
        }
    }

    /// Deletes namespaces, veth pairs and bridges named `<prefix><pid>…` whose process
    /// `pid` no longer exists (leftovers of runs killed before they could drop their
    /// [`ClusterNet`]). Returns the names deleted.
    pub fn cleanup_stale(prefix: &str) -> Result<Vec<String>, NetError> {
        let own = std::process::id();
        let stale = |name: &str| match owner_pid(prefix, name) {
            Some(pid) => pid != own && !process_alive(pid),
            None => false,
        };
        let mut removed = Vec::new();
        // Links first: deleting one end of a veth pair deletes both, even when the other
        // end's namespace lingers because a process still holds it.
        for line in ip(["-o", "link", "show"])?.lines() {
            // "7: nb12k0v0@if2: <...>" or "8: nb12k0b: <...>"
            let Some(name) = line.split(": ").nth(1) else {
                continue;
            };
            let name = name.split('@').next().unwrap_or(name);
            if stale(name) && ip(["link", "del", name]).is_ok() {
                removed.push(name.to_string());
            }
        }
        for line in ip(["netns", "list"])?.lines() {
            // "nb12k0n0 (id: 3)" or "nb12k0n0"
            let Some(name) = line.split_whitespace().next() else {
                continue;
            };
            if stale(name) && ip(["netns", "del", name]).is_ok() {
                removed.push(name.to_string());
            }
        }
        Ok(removed)
    }

    fn ns(&self, i: usize) -> Result<&str, NetError> {
        self.namespaces
            .get(i)
            .map(String::as_str)
            .ok_or(NetError::NoSuchNode {
                index: i,
                nodes: self.nodes(),
            })
    }
}

impl Drop for ClusterNet {
    /// Deletes the veth pairs, the bridge and the namespaces, ignoring errors (such as
    /// objects that never got made). Processes still running inside a namespace are not
    /// killed; they are left without network.
    fn drop(&mut self) {
        for veth in &self.host_veths {
            let _ = ip(["link", "del", veth]);
        }
        let _ = ip(["link", "del", &self.bridge]);
        for ns in &self.namespaces {
            let _ = ip(["netns", "del", ns]);
        }
    }
}

/// A `tc netem` impairment of a link: loss, delay with jitter, reordering.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Netem {
    /// Packets dropped, percent.
    pub loss_pct: f64,
    /// Added delay, milliseconds.
    pub delay_ms: u32,
    /// Jitter on the delay (uniform ±), milliseconds.
    pub jitter_ms: u32,
    /// Packets sent at once, ahead of delayed ones (netem's `reorder`), percent.
    pub reorder_pct: f64,
}

impl Netem {
    /// netem's arguments for this impairment.
    fn tc_args(&self) -> Vec<String> {
        vec![
            "delay".into(),
            format!("{}ms", self.delay_ms),
            format!("{}ms", self.jitter_ms),
            "loss".into(),
            format!("{}%", self.loss_pct),
            "reorder".into(),
            format!("{}%", self.reorder_pct),
        ]
    }
}

/// Runs `ip` with `args`; its stdout on success.
fn ip<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<String, NetError> {
    let args: Vec<&str> = args.into_iter().collect();
    let command = format!("ip {}", args.join(" "));
    let out = std::process::Command::new("ip")
        .args(&args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| NetError::Spawn {
            command: command.clone(),
            source,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NetError::Command {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// The owning pid encoded in `name` (`<prefix><pid>k…` or `<prefix><pid>t…`).
fn owner_pid(prefix: &str, name: &str) -> Option<u32> {
    let rest = name.strip_prefix(prefix)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    match rest.as_bytes().get(digits) {
        Some(b'k' | b't') if digits > 0 => rest[..digits].parse().ok(),
        _ => None,
    }
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Second octet in `range` that no IPv4 address on this machine (root namespace) uses
/// under 10.0.0.0/8.
fn free_octet(range: &RangeInclusive<u8>) -> Result<u8, NetError> {
    let addrs = ip(["-4", "-o", "addr", "show"])?;
    let routes = ip(["-4", "route", "show", "table", "all"])?;
    let used: BTreeSet<u8> = addrs
        .split_whitespace()
        .chain(routes.split_whitespace())
        .filter_map(|word| {
            let addr = word.split('/').next()?.parse::<Ipv4Addr>().ok()?;
            (addr.octets()[0] == 10).then_some(addr.octets()[1])
        })
        .collect();
    range
        .clone()
        .find(|x| !used.contains(x))
        .ok_or(NetError::NoFreeSubnet)
}

/// Exclusive `flock` on [`LOCK_PATH`], held while picking names and a subnet and making the
/// bridge, so that parallel processes do not pick the same ones.
struct MachineLock {
    _file: File,
}

impl MachineLock {
    fn acquire() -> Result<MachineLock, NetError> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(LOCK_PATH)
            .map_err(|source| NetError::Os {
                what: format!("opening {LOCK_PATH}"),
                source,
            })?;
        // SAFETY: flock on a valid fd; released when the file is closed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(NetError::Os {
                what: format!("locking {LOCK_PATH}"),
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(MachineLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_parses_only_our_names() {
        assert_eq!(owner_pid("nb", "nb123k4n0"), Some(123));
        assert_eq!(owner_pid("nb", "nb123k4b"), Some(123));
        assert_eq!(owner_pid("nb", "nb77t3v"), Some(77));
        assert_eq!(owner_pid("nb", "nbk4n0"), None);
        assert_eq!(owner_pid("nb", "nb123x"), None);
        assert_eq!(owner_pid("nb", "eth0"), None);
        assert_eq!(owner_pid("xy", "nb123k4n0"), None);
    }
}

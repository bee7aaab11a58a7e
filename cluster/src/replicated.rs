//! The replicated name table of the `pg`/`syn`-like backend, as pure logic (no I/O).
//!
//! Each node is the authority for its own processes' names: it publishes each name as the
//! gossip key `n/{name}` with the value `"{creation}.{serial}:{stamp}"` (the pid's creation and
//! serial on that node, see [`local_pid_text`], and the registration time in unix
//! nanoseconds). Gossip replicates every node's keys to every
//! node, so each node holds a [`ReplicatedIndex`] of all live nodes' claims and looks names up
//! locally.
//!
//! During a partition both sides may register the same name. After the heal every node sees
//! both claims and independently picks the same winner with [`winner`], syn's default rule: the
//! more recent registration (higher stamp) is kept; equal stamps go to the higher pid
//! (node, then serial). The node owning a losing claim finds it in
//! [`ReplicatedIndex::conflicts_lost_by`], kills its process and unpublishes the name.

use std::collections::{BTreeMap, HashMap};

use process_runtime::Pid;

/// Prefix of the gossip keys holding names.
pub const NAME_PREFIX: &str = "n/";

/// The gossip key publishing `name`.
pub fn name_key(name: &str) -> String {
    format!("{NAME_PREFIX}{name}")
}

/// The name a gossip key publishes, or `None` if the key is not a name key.
pub fn name_of_key(key: &str) -> Option<&str> {
    key.strip_prefix(NAME_PREFIX)
}

/// The node-local part of a pid as gossip keys and values carry it: `"{creation}.{serial}"`
/// (the node is the publisher's own id).
pub fn local_pid_text(pid: Pid) -> String {
    format!("{}.{}", pid.creation(), pid.serial())
}

/// The pid on `node` written by [`local_pid_text`]; a bare serial is creation `0`.
/// `None` if malformed.
pub fn parse_local_pid(node: u32, text: &str) -> Option<Pid> {
    let (creation, serial) = match text.split_once('.') {
        Some((c, s)) => (c.parse().ok()?, s.parse().ok()?),
        None => (0, text.parse().ok()?),
    };
    Some(Pid::with_creation(node, creation, serial))
}

/// The gossip value of a claim by the process `pid` (of the publishing node), registered at
/// `stamp`.
pub fn encode_value(pid: Pid, stamp: u64) -> String {
    format!("{}:{stamp}", local_pid_text(pid))
}

/// Why a gossip value is not a claim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimParseError {
    /// The value has no `:` separating serial and stamp.
    #[error("claim value {0:?} is not `serial:stamp`")]
    Shape(String),
    /// The pid part is not `creation.serial` (or a bare serial).
    #[error("claim value {0:?} has a bad pid")]
    Pid(String),
    /// The stamp is not a `u64`.
    #[error("claim value {0:?} has a bad stamp")]
    Stamp(String),
}

/// Parses a gossip value published by `node` into `(pid, stamp)`.
pub fn parse_value(node: u32, value: &str) -> Result<(Pid, u64), ClaimParseError> {
    let (pid, stamp) = value
        .split_once(':')
        .ok_or_else(|| ClaimParseError::Shape(value.to_string()))?;
    let pid = parse_local_pid(node, pid).ok_or_else(|| ClaimParseError::Pid(value.to_string()))?;
    let stamp = stamp
        .parse()
        .map_err(|_| ClaimParseError::Stamp(value.to_string()))?;
    Ok((pid, stamp))
}

/// One node's claim on a name: the process and when it was registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Claim {
    /// The registered process (its node is the node that published the claim).
    pub pid: Pid,
    /// Registration time, unix nanoseconds.
    pub stamp: u64,
}

impl Claim {
    /// The claim published by `node` with this gossip value.
    pub fn parse(node: u32, value: &str) -> Result<Claim, ClaimParseError> {
        let (pid, stamp) = parse_value(node, value)?;
        Ok(Claim { pid, stamp })
    }

    /// The gossip value publishing this claim.
    pub fn encode(&self) -> String {
        encode_value(self.pid, self.stamp)
    }

    /// The total order of the conflict rule: greater wins.
    fn rank(&self) -> (u64, u32, u32, u64) {
        (
            self.stamp,
            self.pid.node(),
            self.pid.creation(),
            self.pid.serial(),
        )
    }
}

/// The claim kept when several nodes claim a name (syn's default rule): the more recent
/// registration (higher stamp); equal stamps go to the higher pid (node, then serial). The rule
/// is a total order on claims, so every node picks the same winner from the same claims,
/// whatever their order. `None` for no claims.
pub fn winner(claims: &[Claim]) -> Option<Claim> {
    claims.iter().copied().max_by_key(Claim::rank)
}

/// Name -> claims of the live nodes, built from gossip key events or a scan.
#[derive(Debug, Clone, Default)]
pub struct ReplicatedIndex {
    /// Per name, one claim per node (a node publishes a name at most once).
    names: HashMap<String, BTreeMap<u32, Claim>>,
}

impl ReplicatedIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// An index of `(node, key, value)` entries as returned by
    /// [`Gossip::scan`](crate::gossip::Gossip::scan). Keys that are not name keys and values
    /// that are not claims are skipped.
    pub fn from_scan<I, K, V>(entries: I) -> Self
    where
        I: IntoIterator<Item = (u32, K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut index = Self::new();
        for (node, key, value) in entries {
            let _ = index.apply(node, key.as_ref(), Some(value.as_ref()));
        }
        index
    }

    /// Applies a gossip key change: `node` set `key` to `value`, or deleted it (`None`).
    ///
    /// Keys that are not name keys are ignored (`Ok(false)`). A value that does not parse
    /// removes the node's claim on that name (it has no valid claim) and is reported. Returns
    /// whether the index changed.
    pub fn apply(
        &mut self,
        node: u32,
        key: &str,
        value: Option<&str>,
    ) -> Result<bool, ClaimParseError> {
        let Some(name) = name_of_key(key) else {
            return Ok(false);
        };
        match value.map(|v| Claim::parse(node, v)) {
            Some(Ok(claim)) => Ok(self.insert(name, claim)),
            None => Ok(self.remove(name, node).is_some()),
            Some(Err(err)) => {
                self.remove(name, node);
                Err(err)
            }
        }
    }

    /// Records `claim` on `name` by the claim's node, replacing that node's previous claim.
    /// Returns whether the index changed.
    pub fn insert(&mut self, name: &str, claim: Claim) -> bool {
        let claims = self.names.entry(name.to_string()).or_default();
        claims.insert(claim.pid.node(), claim) != Some(claim)
    }

    /// Removes `node`'s claim on `name`, returning it.
    pub fn remove(&mut self, name: &str, node: u32) -> Option<Claim> {
        let claims = self.names.get_mut(name)?;
        let removed = claims.remove(&node);
        if claims.is_empty() {
            self.names.remove(name);
        }
        removed
    }

    /// Drops every claim of `node` (declared dead: its names vanish). Returns how many.
    pub fn remove_node(&mut self, node: u32) -> usize {
        let mut removed = 0;
        self.names.retain(|_, claims| {
            if claims.remove(&node).is_some() {
                removed += 1;
            }
            !claims.is_empty()
        });
        removed
    }

    /// The winning claim on `name`, if any node claims it.
    pub fn lookup(&self, name: &str) -> Option<Claim> {
        let claims = self.names.get(name)?;
        claims.values().copied().max_by_key(Claim::rank)
    }

    /// Every claim on `name`, ordered by node.
    pub fn claims(&self, name: &str) -> Vec<Claim> {
        self.names
            .get(name)
            .map(|claims| claims.values().copied().collect())
            .unwrap_or_default()
    }

    /// `node`'s claims that lose to another node's claim: `(name, loser, winner)`, sorted by
    /// name. The node should kill each loser process and unpublish the name.
    pub fn conflicts_lost_by(&self, node: u32) -> Vec<(String, Claim, Claim)> {
        let mut lost: Vec<(String, Claim, Claim)> = self
            .names
            .iter()
            .filter_map(|(name, claims)| {
                let own = *claims.get(&node)?;
                let best = claims.values().copied().max_by_key(Claim::rank)?;
                (best != own).then(|| (name.clone(), own, best))
            })
            .collect();
        lost.sort_by(|a, b| a.0.cmp(&b.0));
        lost
    }

    /// Names claimed by more than one node.
    pub fn conflicted_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .names
            .iter()
            .filter(|(_, claims)| claims.len() > 1)
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }

    /// Every name with the claim that wins it, sorted by name.
    pub fn winners(&self) -> Vec<(String, Claim)> {
        let mut out: Vec<(String, Claim)> = self
            .names
            .keys()
            .filter_map(|name| self.lookup(name).map(|c| (name.clone(), c)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Number of names claimed by at least one node.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no name is claimed.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(node: u32, serial: u64, stamp: u64) -> Claim {
        Claim {
            pid: Pid::new(node, serial),
            stamp,
        }
    }

    #[test]
    fn value_round_trips_and_bad_values_are_typed_errors() {
        let c = claim(3, 42, 1_700_000_000_123_456_789);
        assert_eq!(c.encode(), "0.42:1700000000123456789");
        assert_eq!(Claim::parse(3, &c.encode()), Ok(c));
        let restarted = Claim {
            pid: Pid::with_creation(3, 9, 42),
            stamp: 7,
        };
        assert_eq!(restarted.encode(), "9.42:7");
        assert_eq!(Claim::parse(3, &restarted.encode()), Ok(restarted));
        assert_eq!(parse_value(3, "42:7"), Ok((Pid::new(3, 42), 7)));
        assert!(matches!(
            parse_value(3, "42"),
            Err(ClaimParseError::Shape(_))
        ));
        assert!(matches!(
            parse_value(3, "x:7"),
            Err(ClaimParseError::Pid(_))
        ));
        assert!(matches!(
            parse_value(3, "4:-7"),
            Err(ClaimParseError::Stamp(_))
        ));
        assert!(matches!(
            parse_value(3, "4:7:8"),
            Err(ClaimParseError::Stamp(_))
        ));
        assert!(matches!(parse_value(3, ""), Err(ClaimParseError::Shape(_))));
        assert_eq!(name_key("db"), "n/db");
        assert_eq!(name_of_key("n/db"), Some("db"));
        assert_eq!(name_of_key("n/"), Some(""));
        assert_eq!(name_of_key("x/db"), None);
    }

    #[test]
    fn more_recent_registration_wins() {
        let old = claim(9, 900, 100);
        let new = claim(1, 1, 200);
        assert_eq!(winner(&[old, new]), Some(new));
        assert_eq!(winner(&[new, old]), Some(new));
        assert_eq!(winner(&[]), None);
        assert_eq!(winner(&[old]), Some(old));
    }

    #[test]
    fn equal_stamps_go_to_higher_node_then_serial() {
        let a = claim(1, 99, 500);
        let b = claim(2, 1, 500);
        assert_eq!(winner(&[a, b]), Some(b));
        assert_eq!(winner(&[b, a]), Some(b));
        let c = claim(2, 5, 500);
        assert_eq!(winner(&[a, b, c]), Some(c));
    }

    #[test]
    fn nodes_computing_independently_agree() {
        // Three nodes receive the same claims in different orders (and one also saw a
        // superseded value first); they must all pick the same winner.
        let claims = [
            (1u32, "n/x", "10:1000"),
            (2, "n/x", "20:3000"),
            (3, "n/x", "30:3000"),
            (1, "n/y", "11:50"),
            (3, "n/y", "31:40"),
        ];
        let mut n1 = ReplicatedIndex::new();
        for (node, key, value) in claims {
            n1.apply(node, key, Some(value)).unwrap();
        }
        let mut n2 = ReplicatedIndex::new();
        n2.apply(3, "n/x", Some("30:1")).unwrap(); // older value, then overwritten
        for (node, key, value) in claims.iter().rev() {
            n2.apply(*node, key, Some(value)).unwrap();
        }
        let n3 = ReplicatedIndex::from_scan(claims.iter().map(|(n, k, v)| (*n, *k, *v)));
        for index in [&n1, &n2, &n3] {
            assert_eq!(index.lookup("x"), Some(claim(3, 30, 3000)));
            assert_eq!(index.lookup("y"), Some(claim(1, 11, 50)));
        }
        for node in 1..=3 {
            assert_eq!(n1.conflicts_lost_by(node), n2.conflicts_lost_by(node));
            assert_eq!(n1.conflicts_lost_by(node), n3.conflicts_lost_by(node));
        }
        assert_eq!(
            n1.conflicts_lost_by(1),
            vec![("x".to_string(), claim(1, 10, 1000), claim(3, 30, 3000))]
        );
        assert_eq!(
            n1.conflicts_lost_by(2),
            vec![("x".to_string(), claim(2, 20, 3000), claim(3, 30, 3000))]
        );
        assert_eq!(
            n1.conflicts_lost_by(3),
            vec![("y".to_string(), claim(3, 31, 40), claim(1, 11, 50))]
        );
        assert_eq!(n1.conflicted_names(), vec!["x", "y"]);
    }

    #[test]
    fn deletes_dead_nodes_and_bad_values_remove_claims() {
        let mut index = ReplicatedIndex::new();
        assert_eq!(index.apply(1, "n/a", Some("1:10")), Ok(true));
        assert_eq!(index.apply(1, "n/a", Some("1:10")), Ok(false));
        assert_eq!(index.apply(2, "n/a", Some("2:20")), Ok(true));
        assert_eq!(index.apply(2, "n/b", Some("3:5")), Ok(true));
        assert_eq!(index.apply(2, "other", Some("junk")), Ok(false));
        assert_eq!(index.lookup("a"), Some(claim(2, 2, 20)));
        assert_eq!(index.conflicts_lost_by(1).len(), 1);

        // Node 2 declared dead: its claims vanish, node 1 wins again and has no conflict.
        assert_eq!(index.remove_node(2), 2);
        assert_eq!(index.lookup("a"), Some(claim(1, 1, 10)));
        assert_eq!(index.lookup("b"), None);
        assert!(index.conflicts_lost_by(1).is_empty());

        // Unpublishing removes the claim; a garbled value does too, and is reported.
        assert_eq!(index.apply(1, "n/a", None), Ok(true));
        assert_eq!(index.apply(1, "n/a", None), Ok(false));
        assert!(index.is_empty());
        index.apply(1, "n/a", Some("1:10")).unwrap();
        assert!(index.apply(1, "n/a", Some("garbage")).is_err());
        assert_eq!(index.lookup("a"), None);
        assert_eq!(index.len(), 0);
    }
}

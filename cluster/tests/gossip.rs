//! The gossip layer with real chitchat instances on 127.0.0.1 in one process: propagation,
//! failure detection under a `Faults` partition and on shutdown, and syn-style conflict
//! resolution after a heal. Times are printed (`cargo test -- --nocapture`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use naming_cluster::gossip::{Gossip, GossipConfig, KeyEvent};
use naming_cluster::replicated::{name_key, Claim, ReplicatedIndex, NAME_PREFIX};
use process_runtime::Pid;

/// How long a dead node may take to be declared dead (tuned for ~1.5-2 s, see
/// `tuned_failure_detector`), with slack for a loaded 2-core machine.
const DETECTION_DEADLINE: Duration = Duration::from_secs(4);
const PROPAGATION_DEADLINE: Duration = Duration::from_secs(2);
const JOIN_DEADLINE: Duration = Duration::from_secs(5);

/// Polls `check` every 10 ms until it holds; the elapsed time, or `None` past `deadline`.
async fn wait_until<F, Fut>(deadline: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Nodes 1..=n on ephemeral ports, seeded with node 1, all seeing each other.
async fn cluster(n: u32) -> Vec<Gossip> {
    let localhost: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let first = Gossip::start(GossipConfig::new(1, localhost, vec![]))
        .await
        .expect("start node 1");
    let seed = first.listen_addr();
    let mut nodes = vec![first];
    for node in 2..=n {
        let g = Gossip::start(GossipConfig::new(node, localhost, vec![seed]))
            .await
            .expect("start node");
        nodes.push(g);
    }
    let all: Vec<u32> = (1..=n).collect();
    let joined = wait_until(JOIN_DEADLINE, || async {
        for g in &nodes {
            if g.live_members().await != all {
                return false;
            }
        }
        true
    })
    .await;
    let joined =
        joined.unwrap_or_else(|| panic!("{n} nodes did not join within {JOIN_DEADLINE:?}"));
    println!("{n} nodes joined in {joined:?}");
    nodes
}

async fn members_are(nodes: &[&Gossip], expected: &[u32]) -> bool {
    for g in nodes {
        if g.live_members().await != expected {
            return false;
        }
    }
    true
}

/// Cuts every link between the two sides (each node drops the other side's datagrams).
fn partition(left: &[&Gossip], right: &[&Gossip]) {
    let left_addrs: Vec<SocketAddr> = left.iter().map(|g| g.listen_addr()).collect();
    let right_addrs: Vec<SocketAddr> = right.iter().map(|g| g.listen_addr()).collect();
    for g in left {
        g.faults().block(&right_addrs);
    }
    for g in right {
        g.faults().block(&left_addrs);
    }
}

fn heal(nodes: &[Gossip]) {
    for g in nodes {
        g.faults().unblock_all();
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_set_on_one_node_reaches_the_others() {
    let nodes = cluster(5).await;
    let mut events = nodes[1].subscribe("a/");

    let start = Instant::now();
    nodes[0].set("a/key", "v1").await;
    let mut times = Vec::new();
    for g in &nodes[1..] {
        let seen = wait_until(PROPAGATION_DEADLINE, || async {
            g.scan("a/").await == vec![(1, "a/key".to_string(), "v1".to_string())]
        })
        .await;
        assert!(seen.is_some(), "node {} did not see the key", g.self_node());
        times.push(start.elapsed());
    }
    println!("propagation to nodes 2..=5 (5 nodes, 100 ms rounds): {times:?}");
    let event = tokio::time::timeout(PROPAGATION_DEADLINE, events.recv())
        .await
        .expect("no key event")
        .expect("subscription closed");
    assert_eq!(
        event,
        KeyEvent {
            node: 1,
            key: "a/key".into(),
            value: Some("v1".into())
        }
    );
    // Other prefixes are neither scanned nor streamed.
    nodes[0].set("b/other", "x").await;

    // A delete (tombstone) propagates too, and is streamed as `None`.
    let start = Instant::now();
    nodes[0].delete("a/key").await;
    for g in &nodes[1..] {
        let gone = wait_until(PROPAGATION_DEADLINE, || async {
            g.scan("a/").await.is_empty()
        })
        .await;
        assert!(
            gone.is_some(),
            "node {} still sees the deleted key",
            g.self_node()
        );
    }
    println!("delete propagation to all: {:?}", start.elapsed());
    let event = tokio::time::timeout(PROPAGATION_DEADLINE, events.recv())
        .await
        .expect("no delete event")
        .expect("subscription closed");
    assert_eq!(
        event,
        KeyEvent {
            node: 1,
            key: "a/key".into(),
            value: None
        }
    );
    assert_eq!(nodes[2].scan("b/").await.len(), 1);
    for g in nodes {
        g.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_is_detected_on_both_sides_and_heals() {
    let nodes = cluster(3).await;
    let (n1, n2, n3) = (&nodes[0], &nodes[1], &nodes[2]);
    n1.set("p/before", "1").await;
    assert!(
        wait_until(PROPAGATION_DEADLINE, || async {
            n3.known_value(1, "p/before").await.as_deref() == Some("1")
        })
        .await
        .is_some(),
        "node 3 never got node 1's key before the split"
    );
    let mut members1 = n1.members();

    let start = Instant::now();
    partition(&[n1, n2], &[n3]);
    let detected = wait_until(DETECTION_DEADLINE, || async {
        members_are(&[n1, n2], &[1, 2]).await && members_are(&[n3], &[3]).await
    })
    .await;
    let detected = detected.unwrap_or_else(|| {
        panic!("partition {{1,2}}|{{3}} not detected within {DETECTION_DEADLINE:?}")
    });
    println!("partition detected on both sides after {detected:?}");
    // The watch channel followed.
    assert!(wait_until(Duration::from_millis(500), || {
        let seen = members1.borrow_and_update().clone();
        async move { seen == [1, 2] }
    })
    .await
    .is_some());

    // A key set on 1 during the split reaches 2 but not 3 (which still holds node 1's old
    // state, now as a dead node's).
    n1.set("p/during", "2").await;
    assert!(wait_until(PROPAGATION_DEADLINE, || async {
        n2.scan("p/during").await.len() == 1
    })
    .await
    .is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(n3.known_value(1, "p/before").await.as_deref(), Some("1"));
    assert_eq!(n3.known_value(1, "p/during").await, None);
    assert!(n3.scan("p/").await.is_empty());

    heal(&nodes);
    let healed = wait_until(DETECTION_DEADLINE, || async {
        members_are(&[n1, n2, n3], &[1, 2, 3]).await
            && n3.scan("p/").await
                == vec![
                    (1, "p/before".to_string(), "1".to_string()),
                    (1, "p/during".to_string(), "2".to_string()),
                ]
    })
    .await;
    let healed = healed.unwrap_or_else(|| panic!("no heal within {DETECTION_DEADLINE:?}"));
    println!(
        "heal: membership whole and the split-time key on node 3 after {healed:?} (total {:?})",
        start.elapsed()
    );
    assert_eq!(*n1.members().borrow(), vec![1, 2, 3]);
    for g in nodes {
        g.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shut_down_node_is_declared_dead_and_its_keys_vanish() {
    let mut nodes = cluster(3).await;
    let mut events = nodes[0].subscribe("c/");
    nodes[2].set("c/k", "v").await;
    for g in &nodes[..2] {
        assert!(wait_until(PROPAGATION_DEADLINE, || async {
            g.scan("c/").await.len() == 1
        })
        .await
        .is_some());
    }
    let first = tokio::time::timeout(PROPAGATION_DEADLINE, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.value.as_deref(), Some("v"));

    let n3 = nodes.pop().unwrap();
    let start = Instant::now();
    n3.shutdown().await.unwrap();
    let dead = wait_until(DETECTION_DEADLINE, || async {
        members_are(&[&nodes[0], &nodes[1]], &[1, 2]).await
            && nodes[0].scan("c/").await.is_empty()
            && nodes[1].scan("c/").await.is_empty()
    })
    .await;
    let dead =
        dead.unwrap_or_else(|| panic!("node 3 not declared dead within {DETECTION_DEADLINE:?}"));
    println!(
        "shut-down node declared dead by both others, keys gone: {dead:?} after the wait began, {:?} after shutdown was called",
        start.elapsed()
    );
    // The subscriber is told the dead node's key is gone.
    let gone = tokio::time::timeout(Duration::from_secs(1), events.recv())
        .await
        .expect("no event for the dead node's key")
        .unwrap();
    assert_eq!(
        gone,
        KeyEvent {
            node: 3,
            key: "c/k".into(),
            value: None
        }
    );
    // The dead node's state is still known (not yet garbage collected) but does not count.
    assert_eq!(nodes[0].known_value(3, "c/k").await.as_deref(), Some("v"));
    for g in nodes {
        g.shutdown().await.unwrap();
    }
}

/// Keeps a `ReplicatedIndex` in step with a node's `n/` key events.
fn follow(g: &Gossip) -> Arc<parking_lot::Mutex<ReplicatedIndex>> {
    let index = Arc::new(parking_lot::Mutex::new(ReplicatedIndex::new()));
    let mut events = g.subscribe(NAME_PREFIX);
    let sink = Arc::clone(&index);
    tokio::spawn(async move {
        while let Some(KeyEvent { node, key, value }) = events.recv().await {
            let _ = sink.lock().apply(node, &key, value.as_deref());
        }
    });
    index
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_claims_after_a_heal_resolve_the_same_everywhere() {
    let nodes = cluster(3).await;
    let (n1, n2, n3) = (&nodes[0], &nodes[1], &nodes[2]);
    let followed: Vec<_> = nodes.iter().map(follow).collect();

    partition(&[n1, n2], &[n3]);
    assert!(
        wait_until(DETECTION_DEADLINE, || async {
            members_are(&[n1, n2], &[1, 2]).await && members_are(&[n3], &[3]).await
        })
        .await
        .is_some(),
        "partition not detected"
    );

    // Both sides register "svc": node 1 first, node 3 later (node 3's is more recent).
    // "tie" is registered with the same stamp on both sides: the higher node (3) wins.
    // "old" is registered on 3 first and on 1 later: node 1 wins.
    let svc1 = Claim {
        pid: Pid::new(1, 10),
        stamp: unix_nanos(),
    };
    let tie_stamp = unix_nanos();
    let tie1 = Claim {
        pid: Pid::new(1, 11),
        stamp: tie_stamp,
    };
    let tie3 = Claim {
        pid: Pid::new(3, 1),
        stamp: tie_stamp,
    };
    let old3 = Claim {
        pid: Pid::new(3, 2),
        stamp: unix_nanos(),
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    let svc3 = Claim {
        pid: Pid::new(3, 30),
        stamp: unix_nanos(),
    };
    let old1 = Claim {
        pid: Pid::new(1, 12),
        stamp: unix_nanos(),
    };
    for (name, c) in [("svc", svc1), ("tie", tie1), ("old", old1)] {
        n1.set(&name_key(name), &c.encode()).await;
    }
    for (name, c) in [("svc", svc3), ("tie", tie3), ("old", old3)] {
        n3.set(&name_key(name), &c.encode()).await;
    }
    // During the split each side only sees its own claims.
    assert!(wait_until(PROPAGATION_DEADLINE, || async {
        ReplicatedIndex::from_scan(n2.scan(NAME_PREFIX).await).lookup("svc") == Some(svc1)
    })
    .await
    .is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        ReplicatedIndex::from_scan(n2.scan(NAME_PREFIX).await).lookup("old"),
        Some(old1)
    );
    assert_eq!(
        ReplicatedIndex::from_scan(n3.scan(NAME_PREFIX).await).lookup("old"),
        Some(old3)
    );
    assert!(ReplicatedIndex::from_scan(n1.scan(NAME_PREFIX).await)
        .conflicts_lost_by(1)
        .is_empty());

    let start = Instant::now();
    heal(&nodes);
    let all_claims = wait_until(DETECTION_DEADLINE, || async {
        for g in &nodes {
            if ReplicatedIndex::from_scan(g.scan(NAME_PREFIX).await)
                .conflicted_names()
                .len()
                != 3
            {
                return false;
            }
        }
        true
    })
    .await;
    let all_claims = all_claims.unwrap_or_else(|| panic!("claims not merged after the heal"));
    println!("after heal, every node holds both sides' claims in {all_claims:?}");

    // Each node computes the winners independently, from a scan and from its event stream.
    let expected_lost_by_1 = vec![
        ("svc".to_string(), svc1, svc3),
        ("tie".to_string(), tie1, tie3),
    ];
    let expected_lost_by_3 = vec![("old".to_string(), old3, old1)];
    for (g, followed) in nodes.iter().zip(&followed) {
        let scanned = ReplicatedIndex::from_scan(g.scan(NAME_PREFIX).await);
        assert_eq!(scanned.lookup("svc"), Some(svc3), "node {}", g.self_node());
        assert_eq!(scanned.lookup("tie"), Some(tie3), "node {}", g.self_node());
        assert_eq!(scanned.lookup("old"), Some(old1), "node {}", g.self_node());
        assert_eq!(scanned.conflicts_lost_by(1), expected_lost_by_1);
        assert_eq!(scanned.conflicts_lost_by(3), expected_lost_by_3);
        assert!(scanned.conflicts_lost_by(2).is_empty());
        let streamed = wait_until(PROPAGATION_DEADLINE, || {
            let ok = followed.lock().conflicts_lost_by(1) == expected_lost_by_1
                && followed.lock().conflicts_lost_by(3) == expected_lost_by_3;
            async move { ok }
        })
        .await;
        assert!(
            streamed.is_some(),
            "node {}'s event-fed index disagrees",
            g.self_node()
        );
    }

    // The losers unpublish (and would kill their processes): the conflicts disappear everywhere.
    for (g, lost) in [(n1, &expected_lost_by_1), (n3, &expected_lost_by_3)] {
        for (name, _, _) in lost {
            g.delete(&name_key(name)).await;
        }
    }
    let resolved = wait_until(PROPAGATION_DEADLINE, || async {
        for g in &nodes {
            let index = ReplicatedIndex::from_scan(g.scan(NAME_PREFIX).await);
            if !index.conflicted_names().is_empty()
                || index.lookup("svc") != Some(svc3)
                || index.lookup("old") != Some(old1)
            {
                return false;
            }
        }
        true
    })
    .await;
    assert!(resolved.is_some(), "losers' unpublish did not propagate");
    println!(
        "conflicts resolved everywhere {:?} after the heal",
        start.elapsed()
    );
    for g in nodes {
        g.shutdown().await.unwrap();
    }
}

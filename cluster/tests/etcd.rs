//! `:global`-like names over a real 3-member etcd cluster started by the tests.
//!
//! Without an etcd binary each test says why and passes, unless `NAMING_BENCH_REQUIRE_ETCD=1`.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use naming_cluster::etcd_kv::{Created, EtcdError, EtcdKv};
use naming_cluster::etcd_server::{etcd_binary, EtcdCluster, EtcdConfig, MemberHost};
use naming_cluster::global_names::{ClaimError, EtcdNames, GlobalOpts};
use process_runtime::Pid;

fn etcd_available(test: &str) -> bool {
    if etcd_binary().is_some() {
        return true;
    }
    if std::env::var("NAMING_BENCH_REQUIRE_ETCD").as_deref() == Ok("1") {
        panic!("{test}: no etcd binary (NAMING_BENCH_ETCD / PATH) and NAMING_BENCH_REQUIRE_ETCD=1");
    }
    eprintln!("{test}: skipped, no etcd binary found (set NAMING_BENCH_ETCD or install etcd)");
    false
}

/// Start a cluster from a plain thread with its own runtime (usable from any test runtime).
fn start_cluster() -> EtcdCluster {
    let started = Instant::now();
    let c = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(EtcdCluster::start(EtcdConfig::default()))
    })
    .join()
    .expect("start thread");
    let c = c.unwrap_or_else(|e| panic!("etcd cluster did not start: {e}"));
    eprintln!(
        "etcd cluster up in {:?}: {:?}",
        started.elapsed(),
        c.endpoints()
    );
    c
}

/// One cluster shared by the tests that do not kill members (each uses its own prefix).
fn shared_endpoints() -> Vec<String> {
    static SHARED: OnceLock<EtcdCluster> = OnceLock::new();
    SHARED.get_or_init(start_cluster).endpoints()
}

fn opts(prefix: &str, ttl: i64) -> GlobalOpts {
    GlobalOpts {
        prefix: format!("/test/{prefix}"),
        lease_ttl_secs: ttl,
        request_timeout: Duration::from_secs(2),
    }
}

async fn eventually(what: &str, deadline: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < deadline,
            "{what}: not true after {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_claims_have_exactly_one_owner() {
    if !etcd_available("racing_claims") {
        return;
    }
    let eps = shared_endpoints();
    let n1 = Arc::new(
        EtcdNames::connect(eps.clone(), 1, opts("race", 5))
            .await
            .unwrap(),
    );
    let n2 = Arc::new(EtcdNames::connect(eps, 2, opts("race", 5)).await.unwrap());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..100u64 {
        for (node, names) in [(1u32, n1.clone()), (2, n2.clone())] {
            tasks.push(tokio::spawn(async move {
                let pid = Pid::new(node, i);
                (i, pid, names.claim(&format!("name-{i}"), pid).await)
            }));
        }
    }
    let mut winners = vec![None; 100];
    let mut losers = vec![None; 100];
    for t in tasks {
        let (i, pid, r) = t.await.unwrap();
        match r {
            Ok(()) => {
                assert!(winners[i as usize].is_none(), "name-{i} won twice");
                winners[i as usize] = Some(pid);
            }
            Err(ClaimError::Held(holder)) => {
                assert_ne!(holder, pid);
                losers[i as usize] = Some((pid, holder));
            }
            Err(e) => panic!("claim name-{i} by {pid:?}: {e}"),
        }
    }
    eprintln!("200 racing claims in {:?}", started.elapsed());
    for i in 0..100 {
        let w = winners[i].unwrap_or_else(|| panic!("name-{i} has no winner"));
        let (loser, seen) = losers[i].unwrap_or_else(|| panic!("name-{i} has no loser"));
        assert_eq!(seen, w, "loser of name-{i} was told the wrong holder");
        assert_ne!(loser, w);
        let name = format!("name-{i}");
        assert_eq!(n1.lookup_consistent(&name).await.unwrap(), Some(w));
    }
    let settled = eventually("both caches agree", Duration::from_secs(5), || {
        (0..100).all(|i| {
            let name = format!("name-{i}");
            n1.lookup(&name) == winners[i] && n2.lookup(&name) == winners[i]
        })
    })
    .await;
    eprintln!("caches agreed {settled:?} after the last claim");
    assert_eq!(n1.len(), 100);
    assert_eq!(n2.len(), 100);
    assert_eq!(n1.own_claims() + n2.own_claims(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_on_one_node_is_seen_on_another() {
    if !etcd_available("visibility") {
        return;
    }
    let eps = shared_endpoints();
    let n1 = EtcdNames::connect(eps.clone(), 1, opts("vis", 5))
        .await
        .unwrap();
    let n2 = EtcdNames::connect(eps, 2, opts("vis", 5)).await.unwrap();
    let pid = Pid::new(1, 42);
    assert_eq!(n2.lookup("worker"), None);
    n1.claim("worker", pid).await.unwrap();
    assert_eq!(n1.lookup("worker"), Some(pid), "read-your-writes");
    let took = eventually("node 2 sees the claim", Duration::from_secs(3), || {
        n2.lookup("worker") == Some(pid)
    })
    .await;
    eprintln!("claim visible on node 2 after {took:?}");
    // A node joining later loads the table.
    let n3 = EtcdNames::connect(shared_endpoints(), 3, opts("vis", 5))
        .await
        .unwrap();
    assert_eq!(n3.lookup("worker"), Some(pid));
    n1.shutdown().await.unwrap();
    eventually("names gone after shutdown", Duration::from_secs(3), || {
        n2.lookup("worker").is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_only_by_owner() {
    if !etcd_available("release") {
        return;
    }
    let eps = shared_endpoints();
    let n1 = EtcdNames::connect(eps.clone(), 1, opts("rel", 5))
        .await
        .unwrap();
    let n2 = EtcdNames::connect(eps, 2, opts("rel", 5)).await.unwrap();
    let owner = Pid::new(1, 7);
    n1.claim("svc", owner).await.unwrap();
    eventually("node 2 sees svc", Duration::from_secs(3), || {
        n2.lookup("svc") == Some(owner)
    })
    .await;
    assert!(!n2.release("svc", Pid::new(2, 7)).await.unwrap());
    assert!(!n1.release("svc", Pid::new(1, 8)).await.unwrap());
    assert_eq!(n2.lookup_consistent("svc").await.unwrap(), Some(owner));
    assert_eq!(n1.own_claims(), 1);
    assert!(n1.release("svc", owner).await.unwrap());
    assert_eq!(n1.lookup("svc"), None);
    assert_eq!(n1.own_claims(), 0);
    assert_eq!(n1.lookup_consistent("svc").await.unwrap(), None);
    eventually("node 2 sees the release", Duration::from_secs(3), || {
        n2.lookup("svc").is_none()
    })
    .await;
    // Released names can be claimed again, by anyone.
    n2.claim("svc", Pid::new(2, 1)).await.unwrap();
    assert!(!n1.release("svc", owner).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_node_names_expire_with_its_lease() {
    if !etcd_available("crash") {
        return;
    }
    let ttl = 2;
    let eps = shared_endpoints();
    let n1 = EtcdNames::connect(eps.clone(), 1, opts("crash", ttl))
        .await
        .unwrap();
    let n2 = EtcdNames::connect(eps, 2, opts("crash", ttl))
        .await
        .unwrap();
    for i in 0..10 {
        n1.claim(&format!("c{i}"), Pid::new(1, i)).await.unwrap();
    }
    eventually("node 2 sees node 1's names", Duration::from_secs(3), || {
        n2.len() == 10
    })
    .await;
    // Longer than the TTL with keepalives running: the names stay.
    tokio::time::sleep(Duration::from_millis(ttl as u64 * 1000 + 500)).await;
    assert_eq!(n2.len(), 10, "names dropped while node 1 was alive");
    n1.crash();
    let crashed = Instant::now();
    assert!(matches!(
        n2.claim("c0", Pid::new(2, 0)).await,
        Err(ClaimError::Held(p)) if p == Pid::new(1, 0)
    ));
    let gone = eventually(
        "node 1's names expire on node 2",
        Duration::from_secs(ttl as u64 + 4),
        || n2.is_empty(),
    )
    .await;
    eprintln!("crashed node's names gone from node 2 after {gone:?} (ttl {ttl}s)");
    assert!(
        crashed.elapsed() >= Duration::from_millis(ttl as u64 * 1000 / 2),
        "names vanished before the lease could have expired"
    );
    for i in 0..10 {
        n2.claim(&format!("c{i}"), Pid::new(2, i)).await.unwrap();
    }
    assert_eq!(n2.own_claims(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_lease_reclaims_and_reports_taken_names() {
    if !etcd_available("lease loss") {
        return;
    }
    let eps = shared_endpoints();
    // Long TTL so keepalives are 2 s apart: node 2 steals before node 1 notices.
    let n1 = EtcdNames::connect(eps.clone(), 1, opts("loss", 6))
        .await
        .unwrap();
    let n2 = EtcdNames::connect(eps.clone(), 2, opts("loss", 6))
        .await
        .unwrap();
    let mut lost = n1.lost().expect("lost channel");
    assert!(n1.lost().is_none(), "lost() is taken once");
    for i in 0..5 {
        n1.claim(&format!("l{i}"), Pid::new(1, i)).await.unwrap();
    }
    let old = n1.lease_id();
    // The lease expiring (as after a long partition) is the same as it being revoked.
    let kv = EtcdKv::new(eps, Duration::from_secs(2)).unwrap();
    kv.lease_revoke(old).await.unwrap();
    n2.claim("l0", Pid::new(2, 0)).await.unwrap();
    // A claim under the dead lease renews it (and re-claims) instead of failing.
    n1.claim("fresh", Pid::new(1, 99)).await.unwrap();
    let (name, pid) = tokio::time::timeout(Duration::from_secs(6), lost.recv())
        .await
        .expect("loss reported in time")
        .expect("channel open");
    assert_eq!((name.as_str(), pid), ("l0", Pid::new(1, 0)));
    assert_ne!(n1.lease_id(), old);
    for i in 1..5 {
        assert_eq!(
            n2.lookup_consistent(&format!("l{i}")).await.unwrap(),
            Some(Pid::new(1, i)),
            "l{i} not re-claimed"
        );
    }
    assert_eq!(n1.own_claims(), 5, "l1..l4 and fresh");
    assert_eq!(
        n1.lookup("l0"),
        Some(Pid::new(2, 0)),
        "cache shows the winner"
    );
    // The re-claimed names hang on the new lease.
    match kv
        .create_if_absent(b"/test/loss/n/l1", b"9.9", 0)
        .await
        .unwrap()
    {
        Created::Existing(e) => assert_eq!(e.lease, n1.lease_id()),
        Created::Created { .. } => panic!("l1 was free"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_survive_a_dead_member() {
    if !etcd_available("dead member") {
        return;
    }
    // Its own cluster: this test kills a member.
    let mut cluster = start_cluster();
    let eps = cluster.endpoints();
    let n1 = EtcdNames::connect(eps.clone(), 1, opts("quorum", 2))
        .await
        .unwrap();
    let n2 = EtcdNames::connect(eps.clone(), 2, opts("quorum", 2))
        .await
        .unwrap();
    n1.claim("before", Pid::new(1, 0)).await.unwrap();
    // Both clients talk to member 0 first; kill it so requests and watches fail over.
    assert!(cluster.kill_member(0));
    assert!(!cluster.kill_member(0), "already dead");
    let started = Instant::now();
    for i in 0..20 {
        n1.claim(&format!("q{i}"), Pid::new(1, i)).await.unwrap();
        assert!(matches!(
            n2.claim(&format!("q{i}"), Pid::new(2, i)).await,
            Err(ClaimError::Held(p)) if p == Pid::new(1, i)
        ));
    }
    eprintln!("40 claims with member 0 dead in {:?}", started.elapsed());
    let took = eventually(
        "node 2 cache follows after failover",
        Duration::from_secs(5),
        || n2.len() == 21,
    )
    .await;
    eprintln!("node 2 cache caught up {took:?} after the claims");
    // Keepalives go to live members: names outlive several TTLs.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        n1.lookup_consistent("q19").await.unwrap(),
        Some(Pid::new(1, 19))
    );
    assert_eq!(n1.lost().and_then(|mut r| r.try_recv().ok()), None);
    // A fresh node given the dead member first still connects.
    let n3 = EtcdNames::connect(eps, 3, opts("quorum", 2)).await.unwrap();
    assert_eq!(n3.lookup("q5"), Some(Pid::new(1, 5)));
}

#[tokio::test]
async fn member_hosts_not_one_per_member_are_refused_before_anything_starts() {
    let cfg = EtcdConfig {
        members: 3,
        hosts: vec![MemberHost {
            ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            netns: None,
        }],
        ..EtcdConfig::default()
    };
    let r = EtcdCluster::start(cfg).await;
    assert!(
        matches!(r, Err(EtcdError::Config(ref why)) if why.contains("1 member hosts for 3")),
        "{r:?}"
    );
}

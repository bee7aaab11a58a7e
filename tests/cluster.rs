//! Multi-node tests: a real cluster of `naming-bench node` OS processes (each in its own
//! network namespace where the machine allows it, else on loopback with fault injection),
//! and a real 3-member etcd cluster for the global names.
//!
//! Set `NAMING_BENCH_REQUIRE_ETCD=1` (scripts/test.sh does) to fail instead of skipping
//! where etcd is not installed.

use std::time::Duration;

use naming_cluster::etcd_kv::EtcdKv;
use naming_cluster::measure::{
    call_latency, crash_release, netsplit, spawn_named, whereis, DISTRIBUTED,
};
use naming_cluster::wire::WireNamingError;
use naming_cluster::{Backend, Cluster, ClusterOpts, NetworkMode};

/// Clusters are heavy on a 2-core machine and failure detection is timing-based: one at a time.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn opts() -> Option<ClusterOpts> {
    if naming_cluster::etcd_server::etcd_binary().is_none() {
        if std::env::var_os("NAMING_BENCH_REQUIRE_ETCD").is_some() {
            panic!("etcd is required (NAMING_BENCH_REQUIRE_ETCD) but not installed");
        }
        eprintln!("skipped: etcd is not installed (apt-get install etcd-server)");
        return None;
    }
    Some(ClusterOpts::new(3, env!("CARGO_BIN_EXE_naming-bench")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_a_name_crosses_to_the_node_that_holds_it() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let Some(opts) = opts() else { return };
    let cluster = Cluster::start(opts).await.expect("cluster starts");
    if std::env::var_os("NAMING_BENCH_REQUIRE_NETNS").is_some() {
        assert_eq!(
            cluster.mode(),
            NetworkMode::Namespaces,
            "namespaces were required"
        );
    }
    for b in DISTRIBUTED {
        let names: Vec<String> = (0..5).map(|i| format!("cross-{}-{i}", b.label())).collect();
        for name in &names {
            let pid = spawn_named(&cluster, 2, b, name)
                .await
                .unwrap()
                .expect("registers");
            assert_eq!(pid.node, 2);
        }
        // Visible from node 1, naming node 2's process.
        for name in &names {
            let mut found = None;
            for _ in 0..200 {
                found = whereis(&cluster, 1, b, name).await.unwrap();
                if found.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            assert_eq!(found.map(|p| p.node), Some(2), "{}: {name}", b.label());
        }
        // And a call through the name from node 1 really reaches it.
        let r = call_latency(&cluster, b, 1, &names, 3).await.unwrap();
        assert_eq!(
            (r.ok, r.failed, r.not_found),
            (15, 0, 0),
            "{}: {r:?}",
            b.label()
        );
        // Once node 3 knows the name, it refuses a second owner while the first lives.
        for _ in 0..200 {
            if whereis(&cluster, 3, b, &names[0]).await.unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let again = spawn_named(&cluster, 3, b, &names[0]).await.unwrap();
        assert!(again.is_err(), "{}: a second owner was accepted", b.label());
    }
    // The single-node registry is the reference: its names stay on their node.
    spawn_named(&cluster, 2, Backend::Local, "local-only")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        whereis(&cluster, 1, Backend::Local, "local-only")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_netsplit_heals_every_name_has_one_owner_and_none_is_lost() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let Some(opts) = opts() else { return };
    let cluster = Cluster::start(opts).await.expect("cluster starts");
    for b in DISTRIBUTED {
        let o = netsplit(&cluster, b, &[1, 2], 4, 2, Duration::from_secs(25))
            .await
            .expect("netsplit scenario runs");
        eprintln!("{o:?}");
        assert!(
            o.converged_after.is_some(),
            "{}: no convergence: {o:?}",
            b.label()
        );
        assert_eq!(o.duplicates_after, 0, "{}: {o:?}", b.label());
        assert_eq!(o.lost, 0, "{}: {o:?}", b.label());
        assert_eq!(o.losers_alive, 0, "{}: {o:?}", b.label());
        match b {
            // Consistent: the side that comes second is refused, even during the split.
            Backend::Global => {
                assert_eq!(o.accepted_both_sides, 0, "{o:?}");
                assert_eq!(o.duplicates_during, 0, "{o:?}");
            }
            // Available: both sides accept, so the split really had two owners per name.
            _ => {
                assert_eq!(o.accepted_both_sides, o.split_names, "{o:?}");
                assert_eq!(o.duplicates_during, o.split_names, "{o:?}");
            }
        }
    }
}

/// With etcd's members in the nodes' namespaces, cutting {1, 2} from {3} also cuts node 3's
/// etcd member from the other two: node 3 is the minority. There global-etcd refuses every
/// fresh registration (registry down or timed out), keeps answering the majority's names
/// from its copy and stops answering its own once its lease may have lapsed, while the
/// available gossip-replicated accepts them all; after the heal both register on node 3
/// again, and nothing is lost. Skipped, saying why, without network namespaces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_minority_side_refuses_under_etcd_quorum_and_accepts_when_available() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let Some(mut opts) = opts() else { return };
    if let Err(why) = naming_cluster::netns::ClusterNet::available() {
        if std::env::var_os("NAMING_BENCH_REQUIRE_NETNS").is_some() {
            panic!("network namespaces were required: {why}");
        }
        eprintln!("skipped: the minority side needs network namespaces: {why}");
        return;
    }
    opts.network = NetworkMode::Namespaces;
    opts.etcd_with_nodes = true;
    let mut cluster = Cluster::start(opts).await.expect("cluster starts");
    assert_eq!(cluster.etcd_member_nodes(), &[1, 2, 3]);
    for b in [Backend::Global, Backend::Gossip] {
        let o = netsplit(&cluster, b, &[1, 2], 3, 2, Duration::from_secs(25))
            .await
            .expect("netsplit scenario runs");
        eprintln!("{}: {o:?}", b.label());
        let m = &o.minority;
        assert_eq!(m.attempted, 3, "{o:?}");
        if b == Backend::Global {
            assert_eq!(m.refused(), m.attempted, "{o:?}");
            assert!(
                m.refusals.iter().all(|(e, _)| matches!(
                    e,
                    WireNamingError::RegistryDown | WireNamingError::Timeout
                )),
                "{o:?}"
            );
            assert_eq!(o.accepted_both_sides, 0, "{o:?}");
            assert_eq!(m.after_ttl.majority_names, (4, 4), "{o:?}");
            assert_eq!(m.after_ttl.own_names, (0, 2), "{o:?}");
        } else {
            assert_eq!(m.refused(), 0, "{o:?}");
            assert_eq!(o.accepted_both_sides, o.split_names, "{o:?}");
        }
        assert!(m.registers_again_after.is_some(), "{o:?}");
        assert!(o.converged_after.is_some(), "{}: {o:?}", b.label());
        assert_eq!(o.duplicates_after, 0, "{o:?}");
        assert_eq!(o.lost, 0, "{o:?}");
        assert_eq!(o.losers_alive, 0, "{o:?}");
    }
    // A member in a node's namespace starts again there over its data.
    let etcd = cluster.etcd_mut().expect("etcd runs");
    assert!(etcd.kill_member(2));
    assert!(etcd.restart_member(2).expect("member restarts"));
    let endpoint = etcd.endpoint(2).expect("member 2").to_string();
    let kv = EtcdKv::new(vec![endpoint], Duration::from_secs(1)).unwrap();
    let mut served = false;
    for _ in 0..100 {
        if kv.get(b"naming-bench/health").await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "{:?}", etcd.member_log_tail(2, 2000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_nodes_names_are_released_and_can_be_taken_again() {
    let _one = ONE_CLUSTER_AT_A_TIME.lock().await;
    let Some(opts) = opts() else { return };
    let mut cluster = Cluster::start(opts).await.expect("cluster starts");
    let outcomes = crash_release(&mut cluster, &DISTRIBUTED, 3, 1, 5, Duration::from_secs(20))
        .await
        .expect("crash scenario runs");
    for o in outcomes {
        eprintln!("{o:?}");
        assert_eq!(o.names, 5, "{o:?}");
        assert!(
            o.released_after.is_some(),
            "{}: names outlived their node: {o:?}",
            o.backend.label()
        );
        assert_eq!(o.reregistered, 5, "{o:?}");
    }
    // The survivors still see each other, and only each other.
    cluster
        .wait_members(&[1, 2], &[1, 2], Duration::from_secs(10))
        .await
        .expect("survivors agree on membership");
}

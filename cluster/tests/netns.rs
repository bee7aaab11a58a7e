//! Real partitions between network namespaces, checked with real TCP traffic.
//!
//! Needs root (or CAP_NET_ADMIN/CAP_SYS_ADMIN) and iproute2. Where namespaces cannot be
//! made the tests print why and pass, unless `NAMING_BENCH_REQUIRE_NETNS=1`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use naming_cluster::netns::{ClusterNet, CutMode, NetOptions};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Whether to run: false (after saying why) when namespaces are unavailable and not
/// required.
fn netns_usable() -> bool {
    match ClusterNet::available() {
        Ok(()) => true,
        Err(why) if std::env::var("NAMING_BENCH_REQUIRE_NETNS").as_deref() == Ok("1") => {
            panic!("NAMING_BENCH_REQUIRE_NETNS=1 but network namespaces unavailable: {why}")
        }
        Err(why) => {
            eprintln!("skipping: network namespaces unavailable: {why}");
            false
        }
    }
}

/// Echoes one line back on every accepted connection, forever (the thread ends with the
/// test process).
fn serve_echo(listener: TcpListener) -> SocketAddr {
    let addr = listener.local_addr().expect("local_addr");
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// An echo server listening as node `i`, on its address.
fn echo_in(net: &ClusterNet, i: usize) -> SocketAddr {
    let ip = net.node_ip(i).unwrap();
    let listener = net
        .enter(i, move || TcpListener::bind((ip, 0)))
        .unwrap()
        .expect("bind inside namespace");
    serve_echo(listener)
}

/// Whether node `from` can open a TCP connection to `to` and get bytes echoed back.
fn round_trip(net: &ClusterNet, from: usize, to: SocketAddr) -> Result<(), String> {
    net.enter(from, move || -> std::io::Result<()> {
        let mut conn = TcpStream::connect_timeout(&to, CONNECT_TIMEOUT)?;
        conn.set_read_timeout(Some(CONNECT_TIMEOUT))?;
        conn.write_all(b"ping")?;
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf)?;
        if &buf == b"ping" {
            Ok(())
        } else {
            Err(std::io::Error::other("wrong echo"))
        }
    })
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}

fn assert_reaches(net: &ClusterNet, from: usize, to: SocketAddr, what: &str) {
    if let Err(e) = round_trip(net, from, to) {
        panic!("node {from} should reach {what} ({to}) but: {e}");
    }
}

fn assert_cut(net: &ClusterNet, from: usize, to: SocketAddr, what: &str) {
    assert!(
        round_trip(net, from, to).is_err(),
        "node {from} should not reach {what} ({to})"
    );
}

fn ip_out(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn partition_cuts_node_paths_keeps_bridge_and_heals() {
    if !netns_usable() {
        return;
    }
    let net = ClusterNet::create(3, NetOptions::default()).expect("create");
    let tag = net.tag().to_string();
    assert!(ip_out(&["netns", "list"]).contains(net.netns_name(2).unwrap()));

    // The harness side: a listener in the test process, i.e. the root namespace.
    let bridge = serve_echo(TcpListener::bind((net.bridge_ip(), 0)).expect("bind bridge"));
    let nodes: Vec<SocketAddr> = (0..3).map(|i| echo_in(&net, i)).collect();

    // (a) before any partition: node to node and node to bridge.
    for from in 0..3 {
        for (to, &addr) in nodes.iter().enumerate() {
            if from != to {
                assert_reaches(&net, from, addr, &format!("node {to}"));
            }
        }
        assert_reaches(&net, from, bridge, "the bridge");
    }

    // An established connection 0 -> 1, to see it stall while cut and resume after heal.
    let mut held = net
        .enter(0, || TcpStream::connect_timeout(&nodes[1], CONNECT_TIMEOUT))
        .unwrap()
        .expect("connect 0 -> 1");
    held.write_all(b"abcd").unwrap();
    let mut buf = [0u8; 4];
    held.set_read_timeout(Some(CONNECT_TIMEOUT)).unwrap();
    held.read_exact(&mut buf).expect("echo before partition");

    // (b) {0} | {1, 2}, applied twice: idempotent.
    net.partition(&[vec![0], vec![1, 2]]).expect("partition");
    net.partition(&[vec![0], vec![1, 2]])
        .expect("partition again");
    assert!(net.is_cut(0, 1) && net.is_cut(2, 0) && !net.is_cut(1, 2));
    assert_cut(&net, 0, nodes[1], "node 1");
    assert_cut(&net, 0, nodes[2], "node 2");
    assert_cut(&net, 1, nodes[0], "node 0");
    assert_cut(&net, 2, nodes[0], "node 0");
    assert_reaches(&net, 1, nodes[2], "node 2");
    assert_reaches(&net, 2, nodes[1], "node 1");
    for from in 0..3 {
        assert_reaches(&net, from, bridge, "the bridge");
    }
    // Silent loss: the held connection neither errors nor gets its echo.
    held.write_all(b"efgh").expect("a write is only buffered");
    let stalled = held.read_exact(&mut buf).unwrap_err();
    assert!(
        matches!(
            stalled.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "held connection should time out, got {stalled}"
    );

    // (c) heal, twice: everything reaches everything again.
    net.heal().expect("heal");
    net.heal().expect("heal again");
    assert!(!net.is_cut(0, 1));
    for from in 0..3 {
        for (to, &addr) in nodes.iter().enumerate() {
            if from != to {
                assert_reaches(&net, from, addr, &format!("node {to}"));
            }
        }
        assert_reaches(&net, from, bridge, "the bridge");
    }
    // The held connection recovers by retransmission.
    held.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    held.read_exact(&mut buf).expect("held connection resumes");
    assert_eq!(&buf, b"efgh");

    // (d) drop removes namespaces and links.
    drop(net);
    let netns = ip_out(&["netns", "list"]);
    let links = ip_out(&["-o", "link", "show"]);
    assert!(!netns.contains(&tag), "namespaces left: {netns}");
    assert!(!links.contains(&tag), "links left: {links}");
}

#[test]
fn reject_mode_fails_fast_and_heals() {
    if !netns_usable() {
        return;
    }
    let opts = NetOptions {
        cut: CutMode::Reject,
        ..NetOptions::default()
    };
    let net = ClusterNet::create(3, opts).expect("create");
    let bridge = serve_echo(TcpListener::bind((net.bridge_ip(), 0)).expect("bind bridge"));
    let nodes: Vec<SocketAddr> = (0..3).map(|i| echo_in(&net, i)).collect();
    assert_reaches(&net, 0, nodes[1], "node 1");

    net.partition(&[vec![0, 1]]).expect("partition"); // node 2 is in no group: alone
    assert_reaches(&net, 0, nodes[1], "node 1");
    assert_reaches(&net, 1, nodes[0], "node 0");
    for (from, to) in [(0, 2), (1, 2), (2, 0), (2, 1)] {
        let start = Instant::now();
        assert_cut(&net, from, nodes[to], &format!("node {to}"));
        assert!(
            start.elapsed() < CONNECT_TIMEOUT / 2,
            "reject should fail fast, took {:?}",
            start.elapsed()
        );
    }
    assert_reaches(&net, 2, bridge, "the bridge");

    net.heal().expect("heal");
    for (from, to) in [(0, 2), (2, 0), (1, 2), (2, 1)] {
        assert_reaches(&net, from, nodes[to], &format!("node {to}"));
    }
}

#[test]
fn bad_requests_are_errors() {
    if !netns_usable() {
        return;
    }
    let net = ClusterNet::create(2, NetOptions::default()).expect("create");
    assert!(net.partition(&[vec![0], vec![0, 1]]).is_err(), "duplicate");
    assert!(net.partition(&[vec![0], vec![5]]).is_err(), "out of range");
    assert!(net.node_ip(2).is_err() && net.netns_name(2).is_err());
    assert!(net.command(2, "true").is_err());
    let bad = NetOptions {
        prefix: "NB-".into(),
        ..NetOptions::default()
    };
    assert!(ClusterNet::create(2, bad).is_err());
    assert!(ClusterNet::create(0, NetOptions::default()).is_err());
}

#[tokio::test]
async fn command_runs_inside_the_namespace() {
    if !netns_usable() {
        return;
    }
    let net = ClusterNet::create(2, NetOptions::default()).expect("create");
    let out = net
        .command(1, "ip")
        .unwrap()
        .args(["-4", "-o", "addr", "show"])
        .output()
        .await
        .expect("run ip inside namespace");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let own = net.node_ip(1).unwrap().to_string();
    let other = net.node_ip(0).unwrap().to_string();
    assert!(text.contains(&own), "node 1 should see {own}: {text}");
    assert!(
        !text.contains(&other),
        "node 1 sees node 0's address: {text}"
    );
    assert!(!text.contains("192.0.2.") && !text.contains(&net.bridge_ip().to_string()));
}

#[test]
fn cleanup_stale_removes_only_dead_owners() {
    if !netns_usable() {
        return;
    }
    // A pid that certainly existed and is now gone.
    let mut child = Command::new("true").spawn().expect("spawn true");
    let dead = child.id();
    child.wait().unwrap();
    let stale_ns = format!("nb{dead}k99n0");
    let stale_link = format!("nb{dead}k99b");
    let run = |args: &[&str]| assert!(Command::new("ip").args(args).status().unwrap().success());
    run(&["netns", "add", &stale_ns]);
    run(&["link", "add", &stale_link, "type", "bridge"]);
    let live = ClusterNet::create(1, NetOptions::default()).expect("create");

    let removed = ClusterNet::cleanup_stale("nb").expect("cleanup");
    // A test binary running in parallel may have removed them first, so check the state,
    // and that nothing of a live owner was reported.
    assert!(
        removed.iter().all(|n| !n.contains(live.tag())),
        "{removed:?}"
    );
    assert!(!ip_out(&["netns", "list"]).contains(&stale_ns));
    assert!(!ip_out(&["-o", "link", "show"]).contains(&stale_link));
    // Our own live instance is untouched.
    assert!(ip_out(&["netns", "list"]).contains(live.netns_name(0).unwrap()));
    assert!(ip_out(&["-o", "link", "show"]).contains(live.bridge_name()));
}

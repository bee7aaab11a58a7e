//! Set-up shared by the cluster crate's in-process tests: two nodes on loopback that have
//! met through gossip.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use naming_cluster::{Node, NodeConfig};

/// A free TCP port on loopback.
pub fn free_tcp() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A free UDP port on loopback.
pub fn free_udp() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Two nodes of one cluster, started and seen live by each other (10 s at most).
pub async fn two_nodes(cluster_id: &str) -> (Arc<Node>, Arc<Node>) {
    let nodes = vec![(1, free_tcp(), free_udp()), (2, free_tcp(), free_udp())];
    let cfg = |i: usize| NodeConfig {
        id: nodes[i].0,
        rpc: nodes[i].1,
        gossip: nodes[i].2,
        nodes: nodes.clone(),
        etcd: Vec::new(),
        lease_ttl_secs: 2,
        cluster_id: cluster_id.to_string(),
        creation: None,
    };
    let a = Node::start(cfg(0)).await.expect("node 1 starts");
    let b = Node::start(cfg(1)).await.expect("node 2 starts");
    let t0 = Instant::now();
    while a.gossip().live_members().await != [1, 2] || b.gossip().live_members().await != [1, 2] {
        assert!(t0.elapsed() < Duration::from_secs(10), "nodes never met");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (a, b)
}

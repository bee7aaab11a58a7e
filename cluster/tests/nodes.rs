//! Two nodes in one test process, on loopback: the `Naming` API reaches a process on the
//! other node through the same calls as a local one (the OS-process cluster tests are in
//! the root package's `tests/cluster.rs`).

use std::time::{Duration, Instant};

use naming_cluster::node::spawn_echo;
use naming_cluster::{Node, Payload};
use naming_strategies::Naming;
use process_runtime::{CallError, Name};

mod common;
use common::two_nodes;

async fn eventually<N: Naming>(naming: &N, name: &Name) -> process_runtime::ProcessRef {
    let t0 = Instant::now();
    loop {
        if let Some(p) = naming.whereis(name).await {
            return p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{name:?} never visible"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_on_one_node_is_called_from_the_other_through_the_same_api() {
    let (a, b) = two_nodes("nodes-api").await;
    let timeout = Duration::from_secs(2);

    // Gossip-replicated: registered on node 1, found and called from node 2.
    let worker = spawn_echo(a.core().runtime());
    let name = Name::text("replicated-worker");
    a.gossip_names()
        .register(name.clone(), &worker)
        .await
        .unwrap();
    let remote = eventually(b.gossip_names(), &name).await;
    assert_eq!(remote.pid(), worker.pid(), "a proxy carries the remote pid");
    assert_eq!(remote.pid().node(), 1);
    let reply: Payload = b
        .gossip_names()
        .call(&name, Payload(b"hello".to_vec()), timeout)
        .await
        .unwrap();
    assert_eq!(reply.0, b"hello");
    // A message type that cannot cross nodes is refused at the sender, never lost.
    assert_eq!(
        remote.call::<u64, u64>(7, timeout).await,
        Err(CallError::BadRequest)
    );
    assert_eq!(remote.send(7u32), Err(CallError::BadRequest));
    // The name is unique across nodes while its owner lives.
    let rival = spawn_echo(b.core().runtime());
    assert!(b
        .gossip_names()
        .register(name.clone(), &rival)
        .await
        .is_err());

    // Hash ring: registered on node 2, found and called from node 1 (the owner may be either).
    let ring_worker = spawn_echo(b.core().runtime());
    let ring_name = Name::text("ring-worker");
    b.ring()
        .register(ring_name.clone(), &ring_worker)
        .await
        .unwrap();
    let found = eventually(a.ring(), &ring_name).await;
    assert_eq!(found.pid(), ring_worker.pid());
    let reply: Payload = a
        .ring()
        .call(&ring_name, Payload(b"ring".to_vec()), timeout)
        .await
        .unwrap();
    assert_eq!(reply.0, b"ring");

    // Exit releases the names everywhere: the remote lookups come back empty.
    worker.kill();
    ring_worker.kill();
    let t0 = Instant::now();
    while b.gossip_names().whereis(&name).await.is_some()
        || a.ring().whereis(&ring_name).await.is_some()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "names outlived their processes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A call through the stale proxy says the process is gone.
    assert_eq!(
        remote
            .call::<Payload, Payload>(Payload(vec![1]), timeout)
            .await,
        Err(CallError::NoProc)
    );
    rival.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_spans_nodes_and_dispatch_reaches_every_member() {
    let (a, b) = two_nodes("nodes-groups").await;
    let group = Name::text("listeners");
    // A member that forwards what it receives to the test.
    let listener = |node: &Node, tx: tokio::sync::mpsc::UnboundedSender<Vec<u8>>| {
        node.core()
            .runtime()
            .spawn(move |mut ctx: process_runtime::Ctx| async move {
                loop {
                    if let process_runtime::Envelope::Info(msg) = ctx.recv().await {
                        if let Ok(p) = msg.downcast::<Payload>() {
                            let _ = tx.send(p.0);
                        }
                    }
                }
            })
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let on_a = listener(&a, tx.clone());
    let on_b = listener(&b, tx);
    a.gossip_names().join(group.clone(), &on_a).await.unwrap();
    b.gossip_names().join(group.clone(), &on_b).await.unwrap();
    let t0 = Instant::now();
    while a.gossip_names().members(&group).len() < 2 || b.gossip_names().members(&group).len() < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "group never spanned both nodes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reached = b
        .gossip_names()
        .dispatch(&group, Payload(b"all".to_vec()))
        .await
        .unwrap();
    assert_eq!(reached, 2);
    for _ in 0..2 {
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some(&b"all"[..]));
    }
    // A message type that cannot cross is refused, not dropped on the way.
    assert!(b.gossip_names().dispatch(&group, 5u32).await.is_err());
    // Leaving (and dying) shrinks the group everywhere.
    assert!(a.gossip_names().leave(&group, &on_a).await);
    on_b.kill();
    let t0 = Instant::now();
    while !a.gossip_names().members(&group).is_empty()
        || !b.gossip_names().members(&group).is_empty()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "members outlived leave/exit"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_taken_again_right_after_its_holder_died_stays_published() {
    let (a, b) = two_nodes("nodes-reuse").await;
    let name = Name::text("reused");
    for round in 0..20 {
        let first = spawn_echo(a.core().runtime());
        a.gossip_names()
            .register(name.clone(), &first)
            .await
            .unwrap();
        first.kill();
        first.exited().await;
        // Re-registered at once: the old holder's delete may reach gossip after this set.
        let second = spawn_echo(a.core().runtime());
        a.gossip_names()
            .register(name.clone(), &second)
            .await
            .unwrap();
        let t0 = Instant::now();
        loop {
            if let Some(p) = b.gossip_names().whereis(&name).await {
                if p.pid() == second.pid() {
                    break;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "round {round}: node 2 never saw the second holder"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        second.kill();
        second.exited().await;
    }
}

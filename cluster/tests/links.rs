//! Monitors and links across nodes, as on the BEAM: two nodes in one test process, on
//! loopback. A monitor of a remote pid fires with the remote exit reason (or `noconnection`
//! when its node is cut off), and a link carries an exit both ways across nodes.

use std::time::Duration;

use naming_cluster::node::spawn_echo;
use naming_cluster::Node;
use process_runtime::{Ctx, Envelope, ExitReason, ExitSignal, ProcessRef};
use tokio::sync::mpsc::UnboundedSender;

mod common;
use common::two_nodes;

/// A process on `node` that monitors (or links to) the process `target` of another node,
/// resolved through `node`, and reports what reaches its mailbox.
enum Heard {
    Down(ExitReason),
    Exit(ExitSignal),
}

fn watcher(
    node: &Node,
    target: ProcessRef,
    link: bool,
    trap: bool,
    tx: UnboundedSender<Heard>,
) -> ProcessRef {
    node.core().runtime().spawn(move |mut ctx: Ctx| async move {
        ctx.trap_exit(trap);
        if link {
            ctx.link(&target).expect("the remote process is alive");
        } else {
            ctx.monitor(&target).expect("the remote process is alive");
        }
        loop {
            match ctx.recv().await {
                Envelope::Down(d) => {
                    assert_eq!(d.pid, target.pid(), "the Down names the remote pid");
                    let _ = tx.send(Heard::Down(d.reason));
                }
                Envelope::Exit(e) => {
                    let _ = tx.send(Heard::Exit(*e));
                }
                _ => {}
            }
        }
    })
}

async fn heard(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Heard>) -> Heard {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("heard within 10 s")
        .expect("the watcher is alive")
}

async fn exited_within(p: &ProcessRef, within: Duration) -> ExitReason {
    tokio::time::timeout(within, p.exited())
        .await
        .expect("the process exited in time")
}

/// The remote handle of a process of node `from`, as node `via` resolves it.
fn remote(via: &Node, p: &ProcessRef) -> ProcessRef {
    via.core()
        .resolve(p.pid())
        .expect("a proxy for a known node")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_monitor_fires_with_the_exit_reason() {
    let (a, b) = two_nodes("links-monitor").await;
    let worker = spawn_echo(b.core().runtime());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _w = watcher(&a, remote(&a, &worker), false, false, tx);
    // Let the monitor and the remote watch be in place before the exit.
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.exit(ExitReason::error("boom"));
    match heard(&mut rx).await {
        Heard::Down(reason) => assert_eq!(reason, ExitReason::error("boom")),
        Heard::Exit(e) => panic!("a monitor got an exit signal {e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_monitor_of_a_dead_remote_pid_fires_noproc() {
    let (a, b) = two_nodes("links-dead").await;
    let worker = spawn_echo(b.core().runtime());
    worker.kill();
    let _ = worker.exited().await;
    let proxy = remote(&a, &worker);
    assert_eq!(
        exited_within(&proxy, Duration::from_secs(5)).await,
        ExitReason::error("noproc")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_monitor_fires_noconnection_when_the_node_is_cut_off() {
    let (a, b) = two_nodes("links-noconnection").await;
    let worker = spawn_echo(b.core().runtime());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _w = watcher(&a, remote(&a, &worker), false, false, tx);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Node 2 is cut off both ways: node 1's failure detector declares it down.
    a.isolate_from(&[2]);
    b.isolate_from(&[1]);
    match heard(&mut rx).await {
        Heard::Down(reason) => assert_eq!(reason, ExitReason::error("noconnection")),
        Heard::Exit(e) => panic!("a monitor got an exit signal {e:?}"),
    }
    assert!(worker.is_alive(), "the process itself lives on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_exit_kills_a_linked_process() {
    let (a, b) = two_nodes("links-remote-to-local").await;
    let worker = spawn_echo(b.core().runtime());
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let linked = watcher(&a, remote(&a, &worker), true, false, tx);
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.exit(ExitReason::error("crash"));
    assert_eq!(
        exited_within(&linked, Duration::from_secs(5)).await,
        ExitReason::error("crash")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_exit_kills_the_linked_remote_process() {
    let (a, b) = two_nodes("links-local-to-remote").await;
    let worker = spawn_echo(b.core().runtime());
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let linked = watcher(&a, remote(&a, &worker), true, false, tx);
    tokio::time::sleep(Duration::from_millis(200)).await;
    linked.exit(ExitReason::error("local crash"));
    assert_eq!(
        exited_within(&worker, Duration::from_secs(5)).await,
        ExitReason::error("local crash")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_normal_exit_does_not_kill_a_linked_remote_process() {
    let (a, b) = two_nodes("links-normal").await;
    let worker = spawn_echo(b.core().runtime());
    let proxy = remote(&a, &worker);
    let linked = a.core().runtime().spawn(move |ctx: Ctx| async move {
        ctx.link(&proxy).expect("alive");
        tokio::time::sleep(Duration::from_millis(200)).await;
        ExitReason::Normal
    });
    let _ = exited_within(&linked, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(worker.is_alive(), "a normal exit is not a crash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trapping_exits_turns_a_remote_exit_into_a_message_both_ways() {
    let (a, b) = two_nodes("links-trap").await;
    // Remote -> local: a trapping process on node 1 linked to a worker on node 2.
    let worker = spawn_echo(b.core().runtime());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let trapper = watcher(&a, remote(&a, &worker), true, true, tx);
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.exit(ExitReason::error("remote crash"));
    match heard(&mut rx).await {
        Heard::Exit(e) => {
            assert_eq!(e.from, worker.pid());
            assert_eq!(e.reason, ExitReason::error("remote crash"));
        }
        Heard::Down(r) => panic!("a link got a Down {r:?}"),
    }
    assert!(trapper.is_alive(), "a trapping process survives");

    // Local -> remote: a trapping process on node 2 linked to a process on node 1.
    let doomed = spawn_echo(a.core().runtime());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let remote_trapper = watcher(&b, remote(&b, &doomed), true, true, tx);
    tokio::time::sleep(Duration::from_millis(200)).await;
    doomed.exit(ExitReason::error("far crash"));
    match heard(&mut rx).await {
        Heard::Exit(e) => {
            assert_eq!(e.from, doomed.pid());
            assert_eq!(e.reason, ExitReason::error("far crash"));
        }
        Heard::Down(r) => panic!("a link got a Down {r:?}"),
    }
    assert!(remote_trapper.is_alive());

    // And the other way from the trapper's side: node 1's trapper exits, so a process on
    // node 2 that trapper was linked to hears of it.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let far = b.core().runtime().spawn(move |mut ctx: Ctx| async move {
        ctx.trap_exit(true);
        loop {
            if let Envelope::Exit(e) = ctx.recv().await {
                let _ = tx.send(Heard::Exit(*e));
            }
        }
    });
    let far_proxy = remote(&a, &far);
    let linker = a.core().runtime().spawn(move |ctx: Ctx| async move {
        ctx.link(&far_proxy).expect("alive");
        tokio::time::sleep(Duration::from_millis(200)).await;
        ExitReason::error("gave up")
    });
    match heard(&mut rx).await {
        Heard::Exit(e) => {
            assert_eq!(e.from, linker.pid());
            assert_eq!(e.reason, ExitReason::error("gave up"));
        }
        Heard::Down(r) => panic!("a link got a Down {r:?}"),
    }
}

//! Races the process cell must win without a lock on its hot paths: a kill against the
//! task's first run, a send against the exit path, a pid lookup against the exit path, and
//! exit reasons against each other. Each is run many times on two worker threads; a lost
//! wake-up or a stranded message shows as a hang, which the timeouts turn into a failure.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use process_runtime::*;

/// Far longer than any of these steps takes; reaching it means something was lost.
const HANG: Duration = Duration::from_secs(10);

/// A process that answers every `u64` call with the number plus one, forever.
fn adder(rt: &Runtime) -> ProcessRef {
    rt.spawn(|mut ctx: Ctx| async move {
        loop {
            if let Envelope::Call(call) = ctx.recv().await {
                if let Ok(CallRequest { request, reply_to }) = call.downcast::<u64, u64>() {
                    reply_to.reply(request + 1);
                }
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_racing_the_first_run_always_ends_the_process() {
    let rt = Runtime::new();
    for i in 0..5_000u32 {
        let p = rt.spawn(|mut ctx: Ctx| async move {
            // Parks at once: only a kill can end it.
            ctx.recv().await;
            ExitReason::Normal
        });
        // Killed from another task, while the process may be starting on either thread.
        let q = p.clone();
        let killer = tokio::spawn(async move { q.kill() });
        if i.is_multiple_of(3) {
            tokio::task::yield_now().await;
        }
        assert!(killer.await.unwrap(), "round {i}: the kill did not count");
        let reason = tokio::time::timeout(HANG, p.exited()).await;
        assert_eq!(
            reason,
            Ok(ExitReason::Killed),
            "round {i}: the killed process never exited"
        );
    }
    assert_eq!(rt.process_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_racing_an_exit_are_answered_or_refused_never_stranded() {
    let rt = Runtime::new();
    for i in 0..1_000u32 {
        let p = adder(&rt);
        let callers: Vec<_> = (0..4u64)
            .map(|n| {
                let p = p.clone();
                tokio::spawn(async move { p.call::<u64, u64>(n, Duration::MAX).await })
            })
            .collect();
        if i.is_multiple_of(2) {
            tokio::task::yield_now().await;
        }
        p.kill();
        for (n, c) in callers.into_iter().enumerate() {
            // No limit on the call itself: a message left in a dead mailbox would hang.
            let answer = tokio::time::timeout(HANG, c).await;
            match answer {
                Ok(Ok(Ok(reply))) => assert_eq!(reply, n as u64 + 1),
                Ok(Ok(Err(e))) => assert_eq!(e, CallError::NoProc, "round {i}"),
                other => panic!("round {i}: call {n} stranded or failed: {other:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_to_a_process_that_exits_by_itself_is_refused_or_dropped_at_its_exit() {
    let rt = Runtime::new();
    for i in 0..2_000 {
        // Exits on its own at its first run, so senders race its exit path, not a kill.
        let p = rt.spawn(|_ctx: Ctx| async move { ExitReason::Normal });
        let q = p.clone();
        let sender = tokio::spawn(async move { q.call::<u64, u64>(1, Duration::MAX).await });
        let answer = tokio::time::timeout(HANG, sender).await;
        assert!(
            matches!(answer, Ok(Ok(Err(CallError::NoProc)))),
            "round {i}: {answer:?}"
        );
        assert_eq!(p.exited().await, ExitReason::Normal);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pid_lookups_racing_exits_find_live_processes_or_nothing() {
    let rt = Runtime::new();
    let stop = Arc::new(AtomicBool::new(false));
    let found = Arc::new(AtomicUsize::new(0));
    let pids: Arc<parking_lot::Mutex<Vec<Pid>>> = Arc::default();
    // A thread outside the runtime looks up every recent pid over and over.
    let looker = {
        let (rt, stop, found, pids) = (rt.clone(), stop.clone(), found.clone(), pids.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let recent: Vec<Pid> = pids.lock().iter().rev().take(32).copied().collect();
                for pid in recent {
                    if let Some(p) = rt.process(pid) {
                        assert_eq!(p.pid(), pid, "a lookup answered another process");
                        found.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    for _ in 0..20_000 {
        let p = adder(&rt);
        pids.lock().push(p.pid());
        if p.pid().serial().is_multiple_of(2) {
            tokio::task::yield_now().await;
        }
        p.kill();
        let exited = tokio::time::timeout(HANG, p.into_exited()).await;
        assert_eq!(
            exited,
            Ok(ExitReason::Killed),
            "a killed process never exited"
        );
    }
    stop.store(true, Ordering::Relaxed);
    looker.join().expect("the looking thread panicked");
    assert_eq!(
        rt.process_count(),
        0,
        "an exited process stayed in the table"
    );
    for pid in pids.lock().iter() {
        assert!(rt.process(*pid).is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_exit_reason_stands_and_later_ones_do_not_count() {
    let rt = Runtime::new();
    for i in 0..2_000 {
        let p = adder(&rt);
        let (a, b) = (p.clone(), p.clone());
        let by_reason = tokio::spawn(async move { a.exit(ExitReason::Error("stop".into())) });
        let by_kill = tokio::spawn(async move { b.kill() });
        let (won_reason, won_kill) = (by_reason.await.unwrap(), by_kill.await.unwrap());
        assert!(won_reason ^ won_kill, "round {i}: exactly one exit counts");
        let reason = tokio::time::timeout(HANG, p.exited()).await.unwrap();
        let expected = if won_reason {
            ExitReason::Error("stop".into())
        } else {
            ExitReason::Killed
        };
        assert_eq!(reason, expected, "round {i}");
        assert_eq!(p.exit_reason(), Some(expected));
    }
}

#[tokio::test]
async fn into_exited_resolves_like_exited() {
    let rt = Runtime::new();
    let p = adder(&rt);
    let watcher = p.clone();
    assert!(p.kill());
    assert_eq!(p.into_exited().await, ExitReason::Killed);
    assert_eq!(watcher.exited().await, ExitReason::Killed);
    assert!(!watcher.is_alive());
}

//! The runtime's own behaviour: exits of every kind, monitors, links, calls, supervision.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use process_runtime::*;

const T: Duration = Duration::from_secs(2);

struct Counter(u64);

enum Op {
    Add(u64),
    Sleep(Duration),
    Panic,
}

impl GenServer for Counter {
    type Call = Op;
    type Reply = u64;
    type Cast = ();

    async fn handle_call(&mut self, op: Op, _ctx: &mut Ctx) -> u64 {
        match op {
            Op::Add(n) => self.0 += n,
            Op::Sleep(d) => tokio::time::sleep(d).await,
            Op::Panic => panic!("counter exploded"),
        }
        self.0
    }

    async fn handle_cast(&mut self, _: (), ctx: &mut Ctx) {
        ctx.stop(ExitReason::Normal);
    }
}

/// A raw process that waits for messages until one says "stop".
fn idle(rt: &Runtime) -> ProcessRef {
    rt.spawn(|mut ctx: Ctx| async move {
        loop {
            if let Envelope::Info(m) = ctx.recv().await {
                if m.downcast_ref::<&str>() == Some(&"stop") {
                    return ExitReason::Normal;
                }
            }
        }
    })
}

#[tokio::test]
async fn pids_are_unique_and_print_like_beam() {
    let rt = Runtime::new();
    let a = idle(&rt);
    let b = idle(&rt);
    assert_ne!(a.pid(), b.pid());
    assert!(a.pid().to_string().starts_with("<0."));
    assert_eq!(rt.process(a.pid()).map(|p| p.pid()), Some(a.pid()));
    let rt2 = Runtime::with_node(7);
    assert_eq!(idle(&rt2).pid().node(), 7);
}

#[tokio::test]
async fn call_cast_and_normal_exit() {
    let rt = Runtime::new();
    let c = rt.start(Counter(0)).await.unwrap();
    assert_eq!(c.call(Op::Add(2), T).await, Ok(2));
    assert_eq!(c.call(Op::Add(3), T).await, Ok(5));
    let exited = c.process().exited();
    c.cast(()).unwrap();
    assert_eq!(exited.await, ExitReason::Normal);
    assert_eq!(c.call(Op::Add(1), T).await, Err(CallError::NoProc));
    assert_eq!(rt.process_count(), 0);
}

#[tokio::test]
async fn wrong_message_types_are_bad_requests() {
    let rt = Runtime::new();
    let c = rt.start(Counter(0)).await.unwrap();
    let r: Result<u64, CallError> = c.process().call("not an op", T).await;
    assert_eq!(r, Err(CallError::BadRequest));
    let r: Result<String, CallError> = c.process().call(Op::Add(1), T).await;
    assert_eq!(r, Err(CallError::BadRequest));
    assert_eq!(c.process().cast(17u8), Err(CallError::BadRequest));
    assert_eq!(c.call(Op::Add(1), T).await, Ok(1), "still serving");
}

#[tokio::test]
async fn call_times_out_and_late_reply_is_dropped() {
    let rt = Runtime::new();
    let c = rt.start(Counter(0)).await.unwrap();
    let r = c
        .call(
            Op::Sleep(Duration::from_millis(200)),
            Duration::from_millis(20),
        )
        .await;
    assert_eq!(r, Err(CallError::Timeout));
    assert_eq!(c.call(Op::Add(1), T).await, Ok(1));
}

#[tokio::test]
async fn panic_is_an_exit_with_its_message() {
    let rt = Runtime::new();
    let c = rt.start(Counter(0)).await.unwrap();
    let exited = c.process().exited();
    assert_eq!(c.call(Op::Panic, T).await, Err(CallError::NoProc));
    assert_eq!(exited.await, ExitReason::Panic("counter exploded".into()));
    assert!(!c.process().is_alive());
}

#[tokio::test]
async fn a_body_that_panics_while_it_is_built_is_a_panic_exit_of_its_process() {
    let rt = Runtime::new();
    // The closure panics before it returns a future: that is the process's panic, not the
    // spawner's (the body is built in the process's own task).
    #[allow(unreachable_code)]
    let p = rt.spawn(|_ctx: Ctx| -> std::future::Ready<ExitReason> {
        panic!("no body");
    });
    assert_eq!(p.exited().await, ExitReason::Panic("no body".into()));
    assert!(rt.process(p.pid()).is_none());
}

#[tokio::test]
async fn a_process_killed_before_it_ran_never_builds_its_body_and_drops_its_mail() {
    let rt = Runtime::new();
    let built = Arc::new(AtomicUsize::new(0));
    let b = Arc::clone(&built);
    let p = rt.spawn(move |mut ctx: Ctx| {
        b.fetch_add(1, Ordering::SeqCst);
        async move {
            ctx.recv().await;
            ExitReason::Normal
        }
    });
    // A call queued before the kill (polled once: sent, not answered): its caller hears
    // NoProc once the process is gone.
    let mut queued = Box::pin(p.call::<u32, u32>(1, T));
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(queued.as_mut().poll(cx))).await;
    assert!(first.is_pending());
    assert!(p.kill());
    assert_eq!(p.exited().await, ExitReason::Killed);
    assert_eq!(queued.await, Err(CallError::NoProc));
    assert_eq!(
        built.load(Ordering::SeqCst),
        0,
        "a killed process ran its body"
    );
    assert_eq!(p.send(1u32), Err(CallError::NoProc));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_a_process_busy_in_a_handler() {
    let rt = Runtime::new();
    let c = rt.start(Counter(0)).await.unwrap();
    let busy = {
        let c = c.clone();
        tokio::spawn(async move { c.call(Op::Sleep(Duration::from_secs(60)), T * 10).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let exited = c.process().exited();
    assert!(c.process().kill());
    assert_eq!(exited.await, ExitReason::Killed);
    // The caller waiting on the killed process hears NoProc, not a hang.
    assert_eq!(busy.await.unwrap(), Err(CallError::NoProc));
    assert!(!c.process().kill(), "killing a dead process reports it");
    assert_eq!(rt.kill(c.pid()), Err(CallError::NoProc));
}

#[tokio::test]
async fn monitors_see_every_exit_and_dead_targets_are_noproc() {
    let rt = Runtime::new();
    let target = idle(&rt);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let target2 = target.clone();
    let watcher = rt.spawn(move |mut ctx: Ctx| async move {
        let mref = ctx.monitor(&target2).unwrap();
        loop {
            if let Envelope::Down(down) = ctx.recv().await {
                assert_eq!(down.monitor, mref);
                let _ = tx.send(down);
                return ExitReason::Normal;
            }
        }
    });
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    target.send("stop").unwrap();
    let down = rx.await.unwrap();
    assert_eq!(down.pid, target.pid());
    assert_eq!(down.reason, ExitReason::Normal);
    watcher.exited().await;

    // Monitoring a dead process answers NoProc at once.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let dead = target.clone();
    rt.spawn(move |ctx: Ctx| async move {
        let _ = tx.send(ctx.monitor(&dead));
        ExitReason::Normal
    });
    assert_eq!(rx.await.unwrap(), Err(CallError::NoProc));
    assert_eq!(target.send("late"), Err(CallError::NoProc));
    assert_eq!(rt.send(target.pid(), 1u8), Err(CallError::NoProc));
}

#[tokio::test]
async fn demonitor_stops_the_down() {
    let rt = Runtime::new();
    let target = idle(&rt);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let t2 = target.clone();
    rt.spawn(move |mut ctx: Ctx| async move {
        let mref = ctx.monitor(&t2).unwrap();
        assert!(ctx.demonitor(&t2, mref));
        t2.kill();
        let got = tokio::time::timeout(Duration::from_millis(50), ctx.recv()).await;
        let _ = tx.send(got.is_err());
        ExitReason::Normal
    });
    assert!(rx.await.unwrap(), "no Down after demonitor");
}

#[tokio::test]
async fn links_propagate_abnormal_exits_and_trapping_turns_them_into_messages() {
    let rt = Runtime::new();
    let a = idle(&rt);
    let b = rt.spawn_opts(SpawnOpts::linked_to(&a), |mut ctx: Ctx| async move {
        loop {
            ctx.recv().await;
        }
    });
    let b_exit = b.exited();
    a.kill();
    assert_eq!(b_exit.await, ExitReason::Killed);

    // A normal exit does not take a linked process down.
    let a = idle(&rt);
    let b = rt.spawn_opts(SpawnOpts::linked_to(&a), |mut ctx: Ctx| async move {
        loop {
            ctx.recv().await;
        }
    });
    let a_exit = a.exited();
    a.send("stop").unwrap();
    a_exit.await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(b.is_alive());

    // A trapping process receives the exit as a message.
    let a = idle(&rt);
    let (tx, rx) = tokio::sync::oneshot::channel();
    rt.spawn_opts(
        SpawnOpts::linked_to(&a).trapping_exits(true),
        move |mut ctx: Ctx| async move {
            loop {
                if let Envelope::Exit(sig) = ctx.recv().await {
                    let _ = tx.send(sig);
                    return ExitReason::Normal;
                }
            }
        },
    );
    a.exit(ExitReason::error("bad"));
    let sig = rx.await.unwrap();
    assert_eq!(sig.from, a.pid());
    assert_eq!(sig.reason, ExitReason::error("bad"));
}

fn counting_child(id: &str, restart: Restart, starts: Arc<AtomicUsize>) -> ChildSpec {
    ChildSpec::new(id, restart, move |rt: Runtime, opts: StartOpts| {
        starts.fetch_add(1, Ordering::SeqCst);
        async move {
            rt.start_opts(Counter(0), opts)
                .await
                .map(|s| s.process().clone())
        }
    })
}

async fn child(sup: &Supervisor, id: &str) -> Option<ProcessRef> {
    sup.which_children()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.id.as_deref() == Some(id))
        .and_then(|c| c.process)
}

async fn restarted(sup: &Supervisor, id: &str, old: &ProcessRef) -> ProcessRef {
    for _ in 0..2000 {
        if let Some(p) = child(sup, id).await {
            if p.pid() != old.pid() {
                return p;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("child {id} was not restarted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_one_restarts_only_the_crashed_child() {
    let rt = Runtime::new();
    let (sa, sb) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let sup = Supervisor::start(
        &rt,
        vec![
            counting_child("a", Restart::Permanent, sa.clone()),
            counting_child("b", Restart::Permanent, sb.clone()),
        ],
        Strategy::OneForOne,
        Intensity::default(),
    )
    .await
    .unwrap();
    let a = child(&sup, "a").await.unwrap();
    let b = child(&sup, "b").await.unwrap();
    a.kill();
    let a2 = restarted(&sup, "a", &a).await;
    assert!(a2.is_alive());
    assert_eq!(child(&sup, "b").await.unwrap().pid(), b.pid());
    assert_eq!(
        (sa.load(Ordering::SeqCst), sb.load(Ordering::SeqCst)),
        (2, 1)
    );
    assert_eq!(
        sup.count_children().await.unwrap(),
        ChildCounts {
            specs: 2,
            active: 2
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_for_one_restarts_the_later_children() {
    let rt = Runtime::new();
    let starts: Vec<_> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let sup = Supervisor::start(
        &rt,
        vec![
            counting_child("keeper", Restart::Permanent, starts[0].clone()),
            counting_child("worker", Restart::Permanent, starts[1].clone()),
            counting_child("client", Restart::Permanent, starts[2].clone()),
        ],
        Strategy::RestForOne,
        Intensity::default(),
    )
    .await
    .unwrap();
    let keeper = child(&sup, "keeper").await.unwrap();
    let worker = child(&sup, "worker").await.unwrap();
    let client = child(&sup, "client").await.unwrap();
    worker.kill();
    restarted(&sup, "worker", &worker).await;
    let client2 = restarted(&sup, "client", &client).await;
    assert!(!client.is_alive() && client2.is_alive());
    assert_eq!(child(&sup, "keeper").await.unwrap().pid(), keeper.pid());
    let counts: Vec<_> = starts.iter().map(|s| s.load(Ordering::SeqCst)).collect();
    assert_eq!(counts, vec![1, 2, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_policies_transient_and_temporary() {
    let rt = Runtime::new();
    let (st, sp) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let sup = Supervisor::start(
        &rt,
        vec![
            counting_child("transient", Restart::Transient, st.clone()),
            counting_child("temporary", Restart::Temporary, sp.clone()),
        ],
        Strategy::OneForOne,
        Intensity::default(),
    )
    .await
    .unwrap();
    // Transient: a normal exit is not restarted, a crash is.
    let t = child(&sup, "transient").await.unwrap();
    let e = t.exited();
    t.cast(()).unwrap();
    e.await;
    let tmp = child(&sup, "temporary").await.unwrap();
    let e = tmp.exited();
    tmp.kill();
    e.await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(child(&sup, "transient").await.is_none());
    assert!(
        child(&sup, "temporary").await.is_none(),
        "temporary never restarts"
    );
    assert_eq!(
        (st.load(Ordering::SeqCst), sp.load(Ordering::SeqCst)),
        (1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_restart_intensity_the_supervisor_stops_with_an_error() {
    let rt = Runtime::new();
    let starts = Arc::new(AtomicUsize::new(0));
    let sup = Supervisor::start(
        &rt,
        vec![counting_child("w", Restart::Permanent, starts.clone())],
        Strategy::OneForOne,
        Intensity {
            max_restarts: 2,
            max_seconds: Duration::from_secs(10),
        },
    )
    .await
    .unwrap();
    let sup_exit = sup.process().exited();
    let mut current = child(&sup, "w").await.unwrap();
    for _ in 0..2 {
        current.kill();
        current = restarted(&sup, "w", &current).await;
    }
    current.kill();
    let reason = tokio::time::timeout(T, sup_exit).await.unwrap();
    assert_eq!(reason, ExitReason::error("reached_max_restart_intensity"));
    assert_eq!(starts.load(Ordering::SeqCst), 3);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        rt.process_count(),
        0,
        "children go down with their supervisor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_supervisor_starts_terminates_counts_and_restarts() {
    let rt = Runtime::new();
    let sup = DynamicSupervisor::start(
        &rt,
        DynamicSupervisorOpts {
            max_children: Some(3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let starts = Arc::new(AtomicUsize::new(0));
    let mut kids = Vec::new();
    for _ in 0..3 {
        kids.push(
            sup.start_child(counting_child("w", Restart::Permanent, starts.clone()))
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        sup.start_child(counting_child("w", Restart::Permanent, starts.clone()))
            .await
            .unwrap_err(),
        SupervisorError::MaxChildren
    );
    assert_eq!(sup.count_children().await.unwrap().active, 3);
    sup.terminate_child(kids[0].pid()).await.unwrap();
    assert!(!kids[0].is_alive());
    assert_eq!(
        sup.terminate_child(kids[0].pid()).await,
        Err(SupervisorError::NotFound)
    );
    let e = kids[1].exited();
    kids[1].kill();
    e.await;
    for _ in 0..2000 {
        let c = sup.which_children().await.unwrap();
        if c.len() == 2
            && c.iter()
                .all(|c| c.process.as_ref().is_some_and(|p| p.is_alive()))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let pids: Vec<_> = sup
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| c.process.map(|p| p.pid()))
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(pids.contains(&kids[2].pid()));
    assert!(!pids.contains(&kids[1].pid()));
    assert_eq!(starts.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_supervisor_takes_its_children_down() {
    let rt = Runtime::new();
    let sup = DynamicSupervisor::start(&rt, DynamicSupervisorOpts::default())
        .await
        .unwrap();
    let kid = sup
        .start_child(counting_child("w", Restart::Permanent, Arc::default()))
        .await
        .unwrap();
    let e = kid.exited();
    sup.process().kill();
    assert_eq!(
        tokio::time::timeout(T, e).await.unwrap(),
        ExitReason::Killed
    );
}

#[tokio::test]
async fn failed_init_fails_the_start() {
    struct Refuses;
    impl GenServer for Refuses {
        type Call = ();
        type Reply = ();
        type Cast = ();
        async fn init(&mut self, _ctx: &mut Ctx) -> Result<(), ExitReason> {
            Err(ExitReason::error("no"))
        }
        async fn handle_call(&mut self, _: (), _ctx: &mut Ctx) {}
    }
    let rt = Runtime::new();
    assert_eq!(
        rt.start(Refuses).await.unwrap_err(),
        StartError::Init(ExitReason::error("no"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_names_are_released_before_monitors_hear_of_the_exit() {
    struct Log(parking_lot::Mutex<Vec<(Pid, Name)>>);
    impl ExitObserver for Log {
        fn process_exited(&self, pid: Pid, name: &Name, _tag: u32) {
            self.0.lock().push((pid, name.clone()));
        }
    }
    let rt = Runtime::new();
    let log = Arc::new(Log(Default::default()));
    let observer: Arc<dyn ExitObserver> = log.clone();
    let p = idle(&rt);
    p.hold_name(&observer, Name::Id(1), 0, |_| Ok::<_, ()>(()))
        .unwrap();
    p.hold_name(&observer, Name::Id(2), 0, |_| Ok::<_, ()>(()))
        .unwrap();
    assert!(p.release_name(&observer, &Name::Id(2), 0));
    assert_eq!(
        p.hold_name(&observer, Name::Id(3), 0, |_| Err::<(), _>("taken")),
        Err(HoldError::Rejected("taken"))
    );
    p.kill();
    p.exited().await;
    assert_eq!(*log.0.lock(), vec![(p.pid(), Name::Id(1))]);
    assert_eq!(
        p.hold_name(&observer, Name::Id(4), 0, |_| Ok::<_, ()>(())),
        Err(HoldError::NoProc)
    );
}

/// A name table for the test: a name maps to the pid holding it, taken only when free, and
/// released (through the runtime's exit hook) when its holder exits.
#[derive(Default)]
struct NameTable(parking_lot::Mutex<std::collections::HashMap<Name, Pid>>);

impl ExitObserver for NameTable {
    fn process_exited(&self, pid: Pid, name: &Name, _tag: u32) {
        let mut names = self.0.lock();
        if names.get(name) == Some(&pid) {
            names.remove(name);
        }
    }
}

/// A child that takes the name `id` in `table` before its `init` (a clash fails its start)
/// and logs its id in `order` each time it starts.
fn named_child(
    id: &'static str,
    table: Arc<NameTable>,
    order: Arc<parking_lot::Mutex<Vec<&'static str>>>,
) -> ChildSpec {
    ChildSpec::new(
        id,
        Restart::Permanent,
        move |rt: Runtime, mut opts: StartOpts| {
            order.lock().push(id);
            let table = table.clone();
            opts.register = Some(Box::new(move |me: ProcessRef| {
                Box::pin(async move {
                    let observer: Arc<dyn ExitObserver> = table.clone();
                    me.hold_name(&observer, Name::text(id), 0, |name| {
                        let mut names = table.0.lock();
                        match names.get(name) {
                            Some(holder) => Err(*holder),
                            None => {
                                names.insert(name.clone(), me.pid());
                                Ok(())
                            }
                        }
                    })
                    .map_err(|e| match e {
                        HoldError::Rejected(holder) => StartError::AlreadyStarted(holder),
                        HoldError::NoProc => StartError::Name("the process died".into()),
                    })
                })
                    as std::pin::Pin<
                        Box<dyn std::future::Future<Output = Result<(), StartError>> + Send>,
                    >
            }));
            async move {
                rt.start_opts(Counter(0), opts)
                    .await
                    .map(|s| s.process().clone())
            }
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_all_restarts_every_child_in_order_with_names_released() {
    let rt = Runtime::new();
    let table = Arc::new(NameTable::default());
    let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let ids = ["db", "cache", "web"];
    let sup = Supervisor::start(
        &rt,
        ids.iter()
            .map(|id| named_child(id, table.clone(), order.clone()))
            .collect(),
        Strategy::OneForAll,
        Intensity::default(),
    )
    .await
    .unwrap();
    assert_eq!(*order.lock(), ids);
    let mut old = Vec::new();
    for id in ids {
        let p = child(&sup, id).await.unwrap();
        assert_eq!(table.0.lock().get(&Name::text(id)), Some(&p.pid()));
        old.push(p);
    }

    // The middle child crashes: every child is restarted.
    let crash: Result<u64, CallError> = old[1].call(Op::Panic, T).await;
    assert!(crash.is_err(), "a panicking call cannot answer");
    let mut new = Vec::new();
    for (id, o) in ids.iter().zip(&old) {
        new.push(restarted(&sup, id, o).await);
    }
    for (o, n) in old.iter().zip(&new) {
        assert!(!o.is_alive(), "an old child of {:?} lives on", o.pid());
        assert!(n.is_alive());
        assert_ne!(o.pid(), n.pid());
        assert!(
            n.pid().serial() > o.pid().serial(),
            "a new pid, never reused"
        );
    }
    // Started again in their order (each start logged): first all three at the start, then
    // all three again after the crash.
    assert_eq!(*order.lock(), ["db", "cache", "web", "db", "cache", "web"]);
    // The restarts came in order: each new pid is later than the one before it.
    assert!(new
        .windows(2)
        .all(|w| w[0].pid().serial() < w[1].pid().serial()));
    // Names: the old holders released them (else the new ones could not start), and each
    // name now names its new holder, once.
    {
        let names = table.0.lock();
        assert_eq!(names.len(), 3);
        for (id, n) in ids.iter().zip(&new) {
            assert_eq!(names.get(&Name::text(id)), Some(&n.pid()));
        }
    }
    for o in &old {
        assert_eq!(o.held_names(), 0, "a dead child still holds a name");
    }
    // Still serving.
    let reply: u64 = new[1].call(Op::Add(2), T).await.unwrap();
    assert_eq!(reply, 2);
    assert_eq!(
        sup.count_children().await.unwrap(),
        ChildCounts {
            specs: 3,
            active: 3
        }
    );
}

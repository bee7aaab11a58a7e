//! One `DynamicSupervisor` per worker kind, each kind with its own `Registry` (seed 003's
//! advice for dynamic workers of several kinds): sessions and uploads are started on
//! demand, found by name, and a crash in one kind, even of its whole supervisor, leaves
//! the other kind's workers as they were.
//!
//! Every step is asserted: the example fails (panics) if the behaviour breaks.
//!
//! Run: `cargo run --release --example supervisor_per_kind`

use std::time::{Duration, Instant};

use naming_strategies::runtime::{
    ChildSpec, Ctx, DynamicSupervisor, DynamicSupervisorOpts, GenServer, Name, Pid, ProcessRef,
    Restart, Runtime, StartError, StartOpts, SupervisorError,
};
use naming_strategies::{via, DashMapTable, Naming, Registry};

const T: Duration = Duration::from_secs(2);

/// A session: counts the requests it has served.
#[derive(Default)]
struct Session {
    requests: u64,
}

impl GenServer for Session {
    type Call = ();
    type Reply = u64;
    type Cast = ();

    async fn handle_call(&mut self, _: (), _ctx: &mut Ctx) -> u64 {
        self.requests += 1;
        self.requests
    }
}

/// An upload: adds up the bytes it was sent; a chunk of zero bytes is a bug that crashes it.
#[derive(Default)]
struct Upload {
    bytes: u64,
}

impl GenServer for Upload {
    type Call = u64;
    type Reply = u64;
    type Cast = ();

    async fn handle_call(&mut self, chunk: u64, _ctx: &mut Ctx) -> u64 {
        assert!(chunk > 0, "an empty chunk");
        self.bytes += chunk;
        self.bytes
    }
}

/// One kind of worker: its own supervisor and its own names.
struct Kind {
    label: &'static str,
    sup: DynamicSupervisor,
    names: Registry<DashMapTable>,
}

impl Kind {
    async fn start(rt: &Runtime, label: &'static str) -> Kind {
        let sup = DynamicSupervisor::start(rt, DynamicSupervisorOpts::default())
            .await
            .unwrap_or_else(|e| panic!("the {label} supervisor did not start: {e}"));
        Kind {
            label,
            sup,
            names: Registry::new(1),
        }
    }

    /// The worker named `id`, started under this kind's supervisor if none runs
    /// (`DynamicSupervisor.start_child` with a via name; `{:already_started, pid}` means
    /// another caller started it first, and that pid is the answer).
    async fn find_or_start<S: GenServer>(
        &self,
        id: u64,
        make: fn() -> S,
    ) -> Result<ProcessRef, SupervisorError> {
        let name = Name::Id(id);
        if let Some(p) = self.names.whereis(&name).await {
            return Ok(p);
        }
        let names = self.names.clone();
        let spec = ChildSpec::new(
            self.label,
            Restart::Permanent,
            move |rt: Runtime, mut opts: StartOpts| {
                opts.register = Some(via(&names, Name::Id(id)));
                async move {
                    rt.start_opts(make(), opts)
                        .await
                        .map(|s| s.process().clone())
                }
            },
        );
        match self.sup.start_child(spec).await {
            Ok(p) => Ok(p),
            Err(SupervisorError::Start(StartError::AlreadyStarted(pid))) => self
                .names
                .whereis(&name)
                .await
                .filter(|p| p.pid() == pid)
                .ok_or(SupervisorError::NotFound),
            Err(e) => Err(e),
        }
    }

    /// Every worker of this kind by name, as its registry resolves it now.
    async fn pids(&self, ids: impl Iterator<Item = u64>) -> Vec<Option<Pid>> {
        let mut out = Vec::new();
        for id in ids {
            out.push(self.names.whereis(&Name::Id(id)).await.map(|p| p.pid()));
        }
        out
    }

    async fn running(&self) -> usize {
        self.sup
            .count_children()
            .await
            .map_or(0, |counts| counts.active)
    }
}

/// Polls `check` (1 ms apart) until it holds; panics with `what` after two seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + T;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Run on a worker thread, as a client process would, not on the blocked main thread.
    tokio::spawn(demo()).await.expect("the demo panicked");
}

async fn demo() {
    let rt = Runtime::new();
    let sessions = Kind::start(&rt, "session").await;
    let uploads = Kind::start(&rt, "upload").await;
    const SESSIONS: u64 = 50;
    const UPLOADS: u64 = 20;

    // Started on demand: the first request for an id starts its worker, later ones find it.
    for id in 0..SESSIONS {
        let first = sessions.find_or_start(id, Session::default).await.unwrap();
        let again = sessions.find_or_start(id, Session::default).await.unwrap();
        assert_eq!(first.pid(), again.pid(), "session {id} started twice");
    }
    for id in 0..UPLOADS {
        uploads.find_or_start(id, Upload::default).await.unwrap();
        let total: u64 = uploads.names.call(&Name::Id(id), 100u64, T).await.unwrap();
        assert_eq!(total, 100);
    }
    // The same id in two kinds is two workers: each kind has its own names.
    let s0 = sessions.names.whereis(&Name::Id(0)).await.unwrap();
    let u0 = uploads.names.whereis(&Name::Id(0)).await.unwrap();
    assert_ne!(s0.pid(), u0.pid());
    assert_eq!(sessions.running().await, SESSIONS as usize);
    assert_eq!(uploads.running().await, UPLOADS as usize);
    println!(
        "started on demand: {SESSIONS} sessions and {UPLOADS} uploads, each kind under its own DynamicSupervisor and Registry"
    );

    // Eight requests for a new session at once: one worker, found by all.
    let racers = (0..8).map(|_| sessions.find_or_start(99, Session::default));
    let found = futures_util::future::join_all(racers).await;
    let winner = found[0].as_ref().unwrap().pid();
    assert!(found.iter().all(|p| p.as_ref().unwrap().pid() == winner));
    assert_eq!(sessions.running().await, SESSIONS as usize + 1);
    println!("8 concurrent first requests for session 99 started one worker, {winner}");

    // A session crashes: its supervisor restarts it under the same name; uploads untouched.
    let uploads_before = uploads.pids(0..UPLOADS).await;
    let victim = sessions.names.whereis(&Name::Id(7)).await.unwrap();
    let exited = victim.exited();
    victim.kill();
    exited.await;
    eventually("session 7 is restarted under its name", || async {
        sessions
            .names
            .whereis(&Name::Id(7))
            .await
            .is_some_and(|p| p.pid() != victim.pid())
    })
    .await;
    let requests: u64 = sessions.names.call(&Name::Id(7), (), T).await.unwrap();
    assert_eq!(requests, 1, "a restarted session starts afresh");
    assert_eq!(uploads.pids(0..UPLOADS).await, uploads_before);
    println!("session 7 killed: restarted by the session supervisor; all {UPLOADS} uploads kept their pids");

    // An upload crashes (a panic in its handler): sessions untouched.
    let sessions_before = sessions.pids(0..SESSIONS).await;
    let broken = uploads.names.whereis(&Name::Id(3)).await.unwrap();
    let crash: Result<u64, _> = uploads.names.call(&Name::Id(3), 0u64, T).await;
    assert!(crash.is_err(), "an upload that crashed cannot answer");
    eventually("upload 3 is restarted under its name", || async {
        uploads
            .names
            .whereis(&Name::Id(3))
            .await
            .is_some_and(|p| p.pid() != broken.pid())
    })
    .await;
    assert_eq!(sessions.pids(0..SESSIONS).await, sessions_before);
    println!("upload 3 crashed: restarted by the upload supervisor; all {SESSIONS} sessions kept their pids");

    // The whole session supervisor goes down: every session and its name with it; the
    // uploads run on, and answer.
    let uploads_before = uploads.pids(0..UPLOADS).await;
    let sup_exited = sessions.sup.process().exited();
    sessions.sup.process().kill();
    sup_exited.await;
    eventually("every session name is released", || async {
        sessions.names.registered_count().await == 0
    })
    .await;
    assert_eq!(uploads.pids(0..UPLOADS).await, uploads_before);
    assert_eq!(uploads.running().await, UPLOADS as usize);
    for id in 0..UPLOADS {
        let total: u64 = uploads.names.call(&Name::Id(id), 1u64, T).await.unwrap();
        assert!(total >= 1);
    }
    println!(
        "session supervisor killed: {} session names left; {} uploads still running and answering",
        sessions.names.registered_count().await,
        uploads.running().await
    );
}

//! The Rust actor frameworks as contenders (src/foreign): their naming behaves as the
//! workloads assume (one owner per name under racing starts, the name released after a
//! stop, a kill or a panic, typed errors rather than hangs), and every per-backend workload
//! answers for each of them with rows that cover its declaration.

use std::sync::Arc;
use std::time::Duration;

use naming_bench::foreign::actor_system::{ActorSystem, ForeignError, Receipt};
use naming_bench::foreign::drive::name_released;
use naming_bench::foreign::frameworks::CONTENDERS;
use naming_bench::foreign::kameo::KameoRegistry;
use naming_bench::foreign::ractor::{RactorPg, RactorRegistry};
use naming_bench::results::Row;
use naming_bench::workloads::{isolate, routing, run_contenders, Progress, Specs, DECLARATIONS};
use naming_schema::{Family, Metric, Origin};

struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn step(&self, _: &str) {}
    fn finish(&self, _: &str) {}
}

/// How long any single operation may take before the test calls it a hang.
const LIMIT: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// A name no other test uses (the frameworks' registries are global to the process).
fn unique(tag: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("test-{tag}-{n}")
}

async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {LIMIT:?}"))
}

/// Many tasks race to start a worker under one name: exactly one wins, every other gets
/// `AlreadyRegistered` naming it, and the name resolves to the winner.
fn one_owner_under_racing_starts<S: ActorSystem>(system: S) {
    let system = Arc::new(system);
    runtime().block_on(async {
        let name = unique("race");
        let racers: Vec<_> = (0..32)
            .map(|_| {
                let (system, name) = (system.clone(), name.clone());
                tokio::spawn(async move { system.start_named(&name).await })
            })
            .collect();
        let mut winners = Vec::new();
        for r in racers {
            match within("racing start", r).await.unwrap() {
                Ok(h) => winners.push(h),
                Err(e) => assert_eq!(e, ForeignError::AlreadyRegistered(name.clone())),
            }
        }
        assert_eq!(winners.len(), 1, "{}: owners of one name", system.label());
        let found = system.whereis(&name).expect("the winner is found");
        assert_eq!(system.id(&found), system.id(&winners[0]));
        system.kill(&winners[0]);
        within("exit", system.exited(&winners[0])).await;
    });
}

/// A name is released after its actor stops, is killed, or panics, and can then be taken
/// again; a call to the exited actor is a typed error, not a hang.
fn released_after_every_exit<S: ActorSystem>(system: S) {
    runtime().block_on(async {
        for how in ["stop", "kill", "panic"] {
            let name = unique(how);
            let actor = within("start", system.start_named(&name)).await.unwrap();
            assert_eq!(
                within("call", system.call(&actor, 41, LIMIT)).await,
                Ok(42),
                "{}: a live worker answers",
                system.label()
            );
            match how {
                "stop" => system.stop(&actor),
                "kill" => system.kill(&actor),
                _ => system.crash(&actor).unwrap(),
            }
            within("exit", system.exited(&actor)).await;
            assert!(!system.is_alive(&actor));
            assert!(
                name_released(&system, &name, &actor, LIMIT).await,
                "{}: name not released after {how}",
                system.label()
            );
            assert_eq!(
                within("call to an exited actor", system.call(&actor, 1, LIMIT)).await,
                Err(ForeignError::NoProc),
                "{}: after {how}",
                system.label()
            );
            let again = within("restart", system.start_named(&name)).await;
            let again = again.unwrap_or_else(|e| panic!("{how}: the name is free again: {e}"));
            system.kill(&again);
            within("exit", system.exited(&again)).await;
        }
    });
}

/// Unknown names are not found; bad names are refused with a typed error.
fn unknown_and_bad_names<S: ActorSystem>(system: S) {
    runtime().block_on(async {
        assert!(system.whereis(&unique("never-registered")).is_none());
        assert_eq!(
            within("empty name", system.start_named("")).await.err(),
            Some(ForeignError::BadName(String::new()))
        );
    });
}

#[test]
fn ractor_registry_one_owner_per_name() {
    one_owner_under_racing_starts(RactorRegistry);
}

#[test]
fn kameo_registry_one_owner_per_name() {
    one_owner_under_racing_starts(KameoRegistry);
}

#[test]
fn ractor_registry_releases_names_on_every_exit() {
    released_after_every_exit(RactorRegistry);
}

#[test]
fn kameo_registry_releases_names_on_every_exit() {
    released_after_every_exit(KameoRegistry);
}

#[test]
fn ractor_pg_releases_names_on_every_exit() {
    released_after_every_exit(RactorPg);
}

#[test]
fn unknown_names_are_none_and_bad_names_typed_errors() {
    unknown_and_bad_names(RactorRegistry);
    unknown_and_bad_names(RactorPg);
    unknown_and_bad_names(KameoRegistry);
}

#[test]
fn ractor_names_only_at_spawn_and_kameo_names_a_running_actor() {
    runtime().block_on(async {
        let r = RactorRegistry.start().await.unwrap();
        assert!(matches!(
            RactorRegistry.register(&r, &unique("late")),
            Err(ForeignError::Unsupported(_))
        ));
        RactorRegistry.kill(&r);

        let k = KameoRegistry.start().await.unwrap();
        let name = unique("late");
        KameoRegistry.register(&k, &name).unwrap();
        assert_eq!(
            KameoRegistry.register(&k, &name),
            Err(ForeignError::AlreadyRegistered(name.clone()))
        );
        KameoRegistry.unregister(&k, &name).unwrap();
        assert!(KameoRegistry.whereis(&name).is_none());
        KameoRegistry.kill(&k);
        within("exit", KameoRegistry.exited(&k)).await;
    });
}

#[test]
fn ractor_pg_groups_take_many_members_and_broadcast_to_each() {
    runtime().block_on(async {
        // A group never refuses a second holder of a name.
        let name = unique("pg-dup");
        let a = RactorPg.start_named(&name).await.unwrap();
        let b = RactorPg.start_named(&name).await.unwrap();
        assert!(RactorPg.whereis(&name).is_some());
        // Broadcast reaches every member.
        let receipt = Arc::new(Receipt::default());
        let group = unique("pg-group");
        let mut members = Vec::new();
        for _ in 0..5 {
            members.push(
                RactorPg
                    .start_member(&group, receipt.clone())
                    .await
                    .unwrap(),
            );
        }
        receipt.expect(5);
        assert_eq!(RactorPg.broadcast(&group), Ok(5));
        within("all received", receipt.all_received()).await;
        // The registries have no groups, and say so.
        assert!(matches!(
            RactorRegistry.broadcast(&group),
            Err(ForeignError::Unsupported(_))
        ));
        assert!(matches!(
            KameoRegistry
                .start_member(&group, receipt.clone())
                .await
                .err(),
            Some(ForeignError::Unsupported(_))
        ));
        for m in members.iter().chain([&a, &b]) {
            RactorPg.kill(m);
            within("exit", RactorPg.exited(m)).await;
        }
    });
}

#[test]
fn framework_contenders_are_actor_frameworks_listed_as_units() {
    let labels: Vec<&str> = CONTENDERS.iter().map(|i| i.label).collect();
    assert_eq!(labels, ["ractor-registry", "ractor-pg", "kameo-registry"]);
    for id in CONTENDERS {
        assert_eq!(id.family, Family::ActorFramework);
        assert_eq!(id.origin, Origin::RustFramework);
        assert!(naming_bench::contenders::labels().contains(&id.label));
    }
    for w in ["lookup", "routing", "churn", "scale", "fanout", "soak"] {
        let units = isolate::units(w, None);
        for l in &labels {
            assert!(
                units.iter().any(|u| u == l),
                "{w}: {l} not a unit: {units:?}"
            );
        }
    }
}

/// Each per-backend workload, at tiny sizes, answers for each framework contender with rows
/// of its declaration: every declared metric has a value, or the contender has skip rows
/// (with reasons) that say what was not measured.
#[test]
fn every_workload_answers_for_every_framework_contender() {
    let specs = Specs::tiny();
    for w in ["lookup", "routing", "churn", "scale", "fanout", "soak"] {
        let decl = DECLARATIONS.iter().find(|d| d.name == w).unwrap();
        for id in CONTENDERS {
            let mut rows: Vec<Row> =
                run_contenders(w, &specs, Some(&[id.label.to_string()]), &Quiet);
            if w == "routing" {
                // As a routing unit does: the ratio to a direct call measured beside it.
                rows = routing::with_direct_ratio(rows, &specs.routing, &Quiet);
            }
            assert!(!rows.is_empty(), "{w} {}: no rows", id.label);
            for r in &rows {
                assert_eq!(r.backend, id.label, "{r:?}");
                assert_eq!(r.workload, w, "{r:?}");
                match r.skip_reason() {
                    Some(reason) => assert!(!reason.is_empty(), "{r:?}"),
                    None => assert!(decl.metric(&r.metric).is_some(), "undeclared: {r:?}"),
                }
            }
            let skips: Vec<&Row> = rows.iter().filter(|r| r.is_skip()).collect();
            // The pacer's self-check is the bare floor's, never a contender's.
            let own = |m: &&&Metric| m.name != routing::OPEN_VS_CLOSED_P50.name;
            for m in decl.metrics.iter().filter(own) {
                let measured = rows.iter().any(|r| r.metric == m.name && !r.is_skip());
                assert!(
                    measured || !skips.is_empty(),
                    "{w} {}: {} neither measured nor skipped",
                    id.label,
                    m.name
                );
            }
            // What a registry must get right, it gets right at tiny sizes.
            let value = |metric: &str| {
                rows.iter()
                    .filter(|r| r.metric == metric)
                    .filter_map(Row::value)
                    .collect::<Vec<f64>>()
            };
            match w {
                "routing" => assert!(value("errors").iter().all(|e| *e == 0.0), "{rows:?}"),
                "churn" => {
                    assert!(!value("calls").is_empty(), "{rows:?}");
                    if id.label != "ractor-pg" {
                        assert!(value("duplicate_owners").iter().all(|d| *d == 0.0));
                    }
                    assert!(value("settled").iter().all(|s| *s == 1.0), "{rows:?}");
                }
                "scale" => {
                    assert!(!value("start_named_ns").is_empty(), "{rows:?}");
                    assert!(!value("release_all_ns").is_empty(), "{rows:?}");
                }
                "fanout" if id.label == "ractor-pg" => {
                    assert!(!value("dispatch_all_received_ns").is_empty(), "{rows:?}");
                    assert!(value("short_dispatches").iter().all(|s| *s == 0.0));
                }
                "lookup" => assert!(!value("ops_per_sec").is_empty(), "{rows:?}"),
                "soak" => {
                    // Measured, not skipped (but for the heap where this test process
                    // counts no allocations): every phase checked, nothing left behind.
                    assert!(
                        rows.iter()
                            .filter_map(Row::skip_reason)
                            .all(|why| why.contains("counting allocator")),
                        "{rows:?}"
                    );
                    let phases = specs.soak.phases + 1;
                    assert_eq!(value("registered").len(), phases, "{rows:?}");
                    assert!(
                        value("registered")
                            .iter()
                            .all(|n| *n == specs.soak.sessions as f64),
                        "{rows:?}"
                    );
                    assert!(value("dead_names_left").iter().all(|d| *d == 0.0));
                    assert!(value("wrong_owner").iter().all(|d| *d == 0.0));
                    let started = value("sessions_started");
                    assert!(
                        started.last() > started.first(),
                        "no session replaced: {rows:?}"
                    );
                }
                _ => {}
            }
        }
    }
}

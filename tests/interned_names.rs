//! `InternedNames`: dynamic atoms that are never freed and run into a limit.

use naming_strategies::runtime::{Ctx, ExitReason, Name, ProcessRef, Runtime};
use naming_strategies::{InternedNames, Naming, NamingError, BEAM_ATOM_LIMIT};

mod agent;
use agent::{agent, unregister_as};

/// A session process: waits for any message, then returns.
fn session(rt: &Runtime) -> ProcessRef {
    rt.spawn(|mut ctx: Ctx| async move {
        let _ = ctx.recv().await;
        ExitReason::Normal
    })
}

async fn end(p: &ProcessRef) {
    let exited = p.exited();
    p.send(()).unwrap();
    exited.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_gives_system_limit_but_old_atoms_still_work() {
    let rt = Runtime::new();
    let atoms = InternedNames::with_limit(8);
    assert_eq!(atoms.atom_limit(), 8);
    assert_eq!(InternedNames::new().atom_limit(), BEAM_ATOM_LIMIT);
    let mut sessions = Vec::new();
    for id in 0..8 {
        let p = session(&rt);
        atoms
            .register(Name::tagged("session", id), &p)
            .await
            .unwrap();
        sessions.push(p);
    }
    assert_eq!(atoms.atom_count(), 8);
    // Every new name fails now ...
    let p = session(&rt);
    for id in 8..12 {
        assert_eq!(
            atoms.register(Name::tagged("session", id), &p).await,
            Err(NamingError::SystemLimit {
                what: "atoms",
                limit: 8
            })
        );
    }
    assert_eq!(atoms.atom_count(), 8);
    // ... a lookup of a new name finds nothing (it cannot even make the atom) ...
    assert!(atoms.whereis(&Name::tagged("session", 99)).await.is_none());
    // ... but names that are atoms already can be registered again once free.
    end(&sessions[3]).await;
    atoms
        .register(Name::tagged("session", 3), &p)
        .await
        .unwrap();
    assert_eq!(
        atoms
            .whereis(&Name::tagged("session", 3))
            .await
            .map(|w| w.pid()),
        Some(p.pid())
    );
    assert!(atoms.intern(&Name::tagged("session", 7)).is_ok());
    assert!(atoms.intern(&Name::text("fresh")).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atoms_never_shrink_after_processes_exit() {
    let rt = Runtime::new();
    let atoms = InternedNames::new();
    let sessions: Vec<_> = (0..100).map(|_| session(&rt)).collect();
    for (id, p) in sessions.iter().enumerate() {
        atoms
            .register(Name::text(&format!("session_{id}")), p)
            .await
            .unwrap();
    }
    let (count, bytes) = (atoms.atom_count(), atoms.atom_bytes());
    assert_eq!(count, 100);
    assert_eq!(atoms.registered_count().await, 100);
    for p in &sessions {
        end(p).await;
    }
    // The names are released; the atoms are not.
    assert_eq!(atoms.registered_count().await, 0);
    assert_eq!(atoms.atom_count(), count);
    assert_eq!(atoms.atom_bytes(), bytes);
    assert!(atoms.existing(&Name::text("session_42")).is_some());
    assert!(!atoms.capabilities().bounded_memory);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_grows_under_churn_with_fresh_names() {
    let rt = Runtime::new();
    let atoms = InternedNames::new();
    let mut samples = Vec::new();
    for round in 0..5u64 {
        for i in 0..200u64 {
            let p = session(&rt);
            let id = round * 200 + i;
            atoms
                .register(Name::tagged("session", id), &p)
                .await
                .unwrap();
            end(&p).await;
        }
        assert_eq!(atoms.registered_count().await, 0, "no live names");
        samples.push((atoms.atom_count(), atoms.atom_bytes()));
    }
    // Live names stay at zero while atoms and bytes grow with every fresh name.
    assert_eq!(
        samples.iter().map(|s| s.0).collect::<Vec<_>>(),
        [200, 400, 600, 800, 1000]
    );
    assert!(samples.windows(2).all(|w| w[1].1 > w[0].1));
    // The same churn over a fixed set of names costs nothing more.
    let before = (atoms.atom_count(), atoms.atom_bytes());
    for i in 0..1_000u64 {
        let p = session(&rt);
        atoms
            .register(Name::tagged("session", i % 10), &p)
            .await
            .unwrap();
        end(&p).await;
    }
    assert_eq!((atoms.atom_count(), atoms.atom_bytes()), before);
    assert_eq!(rt.process_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_intern_like_to_atom_unless_existing_only() {
    let rt = Runtime::new();
    let atoms = InternedNames::new();
    // `whereis(String.to_atom(x))` makes the atom even when nobody has the name ...
    assert!(atoms.whereis(&Name::text("ghost_1")).await.is_none());
    assert_eq!(atoms.atom_count(), 1);
    // ... `to_existing_atom` does not.
    assert!(atoms.lookup_existing(&Name::text("ghost_2")).is_none());
    assert_eq!(atoms.atom_count(), 1);
    // Unregistering a name that was never an atom does not make one either.
    let p = agent(&rt);
    assert_eq!(
        unregister_as(&p, &atoms, &Name::text("ghost_3")).await,
        Err(NamingError::NotRegistered)
    );
    assert_eq!(atoms.atom_count(), 1);
    // Names of different kinds are different atoms even when they print alike: the atom
    // is made from the kind and the content, not the display text.
    atoms.register(Name::text("session_1"), &p).await.unwrap();
    assert_ne!(
        atoms.intern(&Name::text("session_1")),
        atoms.intern(&Name::tagged("session", 1))
    );
    assert_ne!(atoms.intern(&Name::Id(5)), atoms.intern(&Name::text("5")));
    assert!(atoms.whereis(&Name::tagged("session", 1)).await.is_none());
    let q = session(&rt);
    assert_eq!(atoms.register(Name::tagged("session", 1), &q).await, Ok(()));
    assert_eq!(
        atoms
            .whereis(&Name::tagged("session", 1))
            .await
            .map(|w| w.pid()),
        Some(q.pid())
    );
    assert_eq!(
        atoms
            .whereis(&Name::text("session_1"))
            .await
            .map(|w| w.pid()),
        Some(p.pid())
    );
    // Each distinct name is one atom, counted in the gauge.
    let count = atoms.atom_count();
    assert!(atoms.gauges().contains(&("atom_count", count as f64)));
}

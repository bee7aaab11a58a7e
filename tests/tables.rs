//! The `NameTable` contract, checked on every storage directly (the registry over each is
//! checked by the conformance suite).

use std::sync::Arc;

use naming_strategies::runtime::{Ctx, ExitReason, Name, ProcessRef, Runtime};
use naming_strategies::{DashMapTable, FlurryTable, NameTable, PapayaTable, RwLockTable, SccTable};

fn idle(rt: &Runtime) -> ProcessRef {
    rt.spawn(|mut ctx: Ctx| async move {
        let _ = ctx.recv().await;
        ExitReason::Normal
    })
}

async fn contract<T: NameTable>() {
    let rt = Runtime::new();
    let table = T::with_capacity(16);
    let (a, b) = (idle(&rt), idle(&rt));
    let name = Name::text("worker");
    assert!(table.is_empty());
    assert!(table.get(&name).is_none());
    table.insert_new(name.clone(), a.clone()).unwrap();
    assert_eq!(
        table
            .insert_new(name.clone(), b.clone())
            .map_err(|p| p.pid()),
        Err(a.pid())
    );
    assert_eq!(table.get(&name).map(|p| p.pid()), Some(a.pid()));
    assert_eq!(
        table.remove_if_owner(&name, b.pid()).map(|p| p.pid()),
        Err(Some(a.pid()))
    );
    assert_eq!(table.len(), 1);
    assert_eq!(
        table.remove_if_owner(&name, a.pid()).map(|p| p.pid()),
        Ok(a.pid())
    );
    assert_eq!(
        table.remove_if_owner(&name, a.pid()).map(|p| p.pid()),
        Err(None)
    );
    assert!(table.is_empty());
}

/// Many threads insert and remove disjoint and shared names; counts add up.
async fn concurrent<T: NameTable>() {
    let rt = Runtime::new();
    let table = Arc::new(T::with_capacity(0));
    let procs: Vec<_> = (0..4).map(|_| idle(&rt)).collect();
    let threads: Vec<_> = procs
        .iter()
        .cloned()
        .enumerate()
        .map(|(t, p)| {
            let table = table.clone();
            std::thread::spawn(move || {
                let mut won = 0;
                for i in 0..2_000u64 {
                    // Own names: always inserted and removed again every other round.
                    let own = Name::Id(t as u64 * 1_000_000 + i);
                    table.insert_new(own.clone(), p.clone()).unwrap();
                    if i % 2 == 0 {
                        table.remove_if_owner(&own, p.pid()).unwrap();
                    }
                    // Shared names: exactly one thread wins each.
                    if table
                        .insert_new(Name::tagged("shared", i), p.clone())
                        .is_ok()
                    {
                        won += 1;
                    }
                }
                won
            })
        })
        .collect();
    let won: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(won, 2_000);
    assert_eq!(table.len(), 4 * 1_000 + 2_000);
}

macro_rules! for_every_table {
    ($($m:ident => $ty:ty;)*) => {$(
        mod $m {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn contract() {
                super::contract::<$ty>().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent() {
                super::concurrent::<$ty>().await;
            }
        }
    )*};
}

for_every_table! {
    dashmap => super::DashMapTable;
    flurry => super::FlurryTable;
    scc => super::SccTable;
    rwlock => super::RwLockTable;
    papaya => super::PapayaTable;
}

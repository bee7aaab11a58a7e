//! The Elixir guide's `KV.Registry` (seed 002) on the [`MonitorRegistry`]: buckets (a
//! `GenServer` holding a map) created and found by name; a killed bucket's name is cleaned
//! up when the registry handles its `Down`, and the registry itself survives the crash
//! because it monitors buckets instead of linking to them.
//!
//! Run with `cargo run --example kv_registry`.

use std::collections::HashMap;
use std::error::Error;
use std::time::{Duration, Instant};

use naming_strategies::runtime::{Ctx, ExitReason, GenServer, Name, ProcessRef, Runtime};
use naming_strategies::{MonitorRegistry, Naming, NamingError, ReadPath};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

const T: Duration = Duration::from_secs(5);

/// `KV.Bucket`: a process holding a map.
#[derive(Default)]
struct Bucket(HashMap<String, String>);

enum BucketCall {
    Get(String),
    Put(String, String),
}

impl GenServer for Bucket {
    type Call = BucketCall;
    type Reply = Option<String>;
    type Cast = ();

    async fn handle_call(&mut self, request: BucketCall, _ctx: &mut Ctx) -> Option<String> {
        match request {
            BucketCall::Get(key) => self.0.get(&key).cloned(),
            BucketCall::Put(key, value) => self.0.insert(key, value),
        }
    }
}

/// `KV.Registry.create/2`: the bucket under `name`, started and registered if there is none.
///
/// The original starts the bucket inside the registry's `handle_cast`; here the caller starts
/// it and the registry arbitrates: a losing racer stops its own bucket and uses the winner's.
async fn create(rt: &Runtime, registry: &MonitorRegistry, name: &str) -> Res<ProcessRef> {
    let name = Name::text(name);
    loop {
        // A dead bucket whose Down the registry has not handled yet is no bucket.
        if let Some(bucket) = registry.lookup(&name).await? {
            if bucket.is_alive() {
                return Ok(bucket);
            }
        }
        let bucket = rt.start(Bucket::default()).await?.process().clone();
        match registry.register(name.clone(), &bucket).await {
            Ok(()) => return Ok(bucket),
            Err(NamingError::AlreadyRegistered(_)) => {
                bucket.exit(ExitReason::Shutdown);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// `KV.Registry.lookup/2` then a call to the bucket.
async fn put(registry: &MonitorRegistry, bucket: &str, key: &str, value: &str) -> Res<()> {
    let b = registry
        .lookup(&Name::text(bucket))
        .await?
        .ok_or("no such bucket")?;
    let _: Option<String> = b.call(BucketCall::Put(key.into(), value.into()), T).await?;
    Ok(())
}

async fn get(registry: &MonitorRegistry, bucket: &str, key: &str) -> Res<Option<String>> {
    let b = registry
        .lookup(&Name::text(bucket))
        .await?
        .ok_or("no such bucket")?;
    Ok(b.call(BucketCall::Get(key.into()), T).await?)
}

async fn demo(reads: ReadPath) -> Res<()> {
    let rt = Runtime::new();
    let registry = MonitorRegistry::start(&rt, reads).await?;
    let what = match reads {
        ReadPath::Call => "KV.Registry, lookups as calls to the registry process",
        ReadPath::Table => "KV.Registry, lookups from its protected ETS-like table",
    };
    println!("== {what} (registry {:?})", registry.process());

    let shopping = create(&rt, &registry, "shopping").await?;
    put(&registry, "shopping", "milk", "3").await?;
    println!(
        "created bucket \"shopping\" {shopping:?}; milk = {:?}",
        get(&registry, "shopping", "milk").await?
    );
    let again = create(&rt, &registry, "shopping").await?;
    assert_eq!(again.pid(), shopping.pid());
    println!("create(\"shopping\") again returns the same bucket {again:?}");

    // Kill the bucket. The registry hears of it as a Down message, handled in its turn.
    let t = Instant::now();
    let exited = shopping.exited();
    shopping.kill();
    let reason = exited.await;
    let right_after = registry.lookup(&Name::text("shopping")).await?;
    println!(
        "killed {shopping:?} ({reason}); a lookup right after the exit returns {:?}{}",
        right_after,
        match &right_after {
            Some(p) if !p.is_alive() => " (dead: the Down is not handled yet)",
            Some(_) => "",
            None => " (the Down was already handled)",
        }
    );
    while registry.lookup(&Name::text("shopping")).await?.is_some() {
        tokio::task::yield_now().await;
    }
    println!(
        "name \"shopping\" cleaned {:?} after the kill; names registered: {}",
        t.elapsed(),
        registry.count().await?
    );
    assert!(registry.process().is_alive());
    println!("the registry lives on (monitor, not link)");

    // Measure one stale window: kill a bucket and look it up back to back.
    let groceries = create(&rt, &registry, "groceries").await?;
    let w = registry
        .stale_window(&Name::text("groceries"), &groceries, ExitReason::Killed, T)
        .await?;
    println!(
        "stale window of \"groceries\": {:?}, {} of {} lookups returned the dead bucket",
        w.window, w.stale_lookups, w.lookups
    );
    println!(
        "stale lookups seen by this registry so far: {}",
        registry.stale_lookups()
    );

    // A new bucket under the old name, with a new pid and an empty map.
    let shopping2 = create(&rt, &registry, "shopping").await?;
    assert_ne!(shopping2.pid(), shopping.pid());
    println!(
        "created \"shopping\" again: {shopping2:?}; milk = {:?}",
        get(&registry, "shopping", "milk").await?
    );

    // Stopping the registry: typed errors, not hangs.
    registry.stop();
    registry.process().exited().await;
    match registry.lookup(&Name::text("shopping")).await {
        Err(NamingError::RegistryDown) => println!("registry stopped: lookups answer RegistryDown"),
        other => return Err(format!("expected RegistryDown, got {other:?}").into()),
    }
    println!();
    Ok(())
}

#[tokio::main]
async fn main() -> Res<()> {
    demo(ReadPath::Call).await?;
    demo(ReadPath::Table).await?;
    Ok(())
}

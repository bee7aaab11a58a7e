//! State that survives a crash (the source notes' counter demo of keeping state across a
//! restart): zero lost updates for (a) and (b) over many kill cycles, including kills that
//! land during a handover; (c) loses state.

use std::time::{Duration, Instant};

use naming_strategies::recovery::{
    run_recovery, Backup, CounterOpts, CounterService, RecoveryConfig, Table,
};
use naming_strategies::runtime::{ExitReason, Pid, Runtime};
use naming_strategies::{DashMapTable, Registry};

fn registry() -> Registry<DashMapTable> {
    Registry::new(1)
}

/// The source notes' `Demo.run`: three cycles of three increments, killing the worker between.
async fn demo(backup: Backup) -> Vec<u64> {
    let rt = Runtime::new();
    let service = CounterService::start(&rt, &registry(), backup, CounterOpts::default())
        .await
        .expect("service starts");
    let mut seen = Vec::new();
    for _ in 0..3 {
        for _ in 0..3 {
            seen.push(service.increment().await.expect("increment"));
        }
        let old = service.kill_worker().await.expect("a worker");
        assert_eq!(old.exited().await, ExitReason::Killed);
        service
            .await_new_worker(old.pid(), Duration::from_secs(5))
            .await
            .expect("restarted");
    }
    service.shutdown().await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_run_counts_1_to_9_with_a_backup_and_restarts_without() {
    let nine: Vec<u64> = (1..=9).collect();
    assert_eq!(demo(Backup::SupervisorTable).await, nine);
    assert_eq!(demo(Backup::KeeperHeir).await, nine);
    assert_eq!(demo(Backup::None).await, [1, 2, 3, 1, 2, 3, 1, 2, 3]);
}

fn stress(handover_delay: Duration) -> RecoveryConfig {
    RecoveryConfig {
        cycles: 200,
        callers: 3,
        increments_per_cycle: 3,
        // Every 4th cycle the restarted worker is killed again as soon as it is registered.
        handover_kill_every: 4,
        handover_delay,
        call_timeout: Duration::from_secs(2),
        serve_deadline: Duration::from_secs(10),
    }
}

async fn assert_no_lost_updates(backup: Backup, config: RecoveryConfig, id: u64) {
    let rt = Runtime::new();
    let run = run_recovery(&rt, &registry(), backup, &config, id)
        .await
        .expect("run completes");
    let acked = run.acked.len() as u64;
    eprintln!(
        "{} delay {:?}: {} kills, {acked} acked, {} failed calls, final {}, lost {}",
        backup.label(),
        config.handover_delay,
        run.kills,
        run.failed_calls,
        run.final_value,
        run.lost_updates()
    );
    assert_eq!(
        run.kills,
        config.cycles + config.cycles / config.handover_kill_every
    );
    assert_eq!(run.lost_updates(), 0, "{}", backup.label());
    // Nothing acknowledged is missing; increments applied but not acknowledged may add more.
    assert!(
        run.final_value >= acked,
        "final {} < acked {acked}",
        run.final_value
    );
    assert!(acked >= (config.cycles * config.increments_per_cycle) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_table_loses_nothing_over_200_kill_cycles() {
    assert_no_lost_updates(Backup::SupervisorTable, stress(Duration::ZERO), 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_heir_loses_nothing_over_200_kill_cycles() {
    assert_no_lost_updates(Backup::KeeperHeir, stress(Duration::ZERO), 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_heir_loses_nothing_when_kills_land_in_a_slow_handover() {
    // The keeper takes 1 ms between accepting a request and giving the table away, so every
    // 4th cycle's second kill lands while the table is being handed over.
    let config = RecoveryConfig {
        cycles: 60,
        ..stress(Duration::from_millis(1))
    };
    assert_no_lost_updates(Backup::KeeperHeir, config, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_backup_loses_state() {
    let config = RecoveryConfig {
        cycles: 20,
        ..stress(Duration::ZERO)
    };
    let rt = Runtime::new();
    let run = run_recovery(&rt, &registry(), Backup::None, &config, 4)
        .await
        .expect("run completes");
    eprintln!(
        "no-backup: {} acked, final {}, lost {}",
        run.acked.len(),
        run.final_value,
        run.lost_updates()
    );
    // Each restart starts from zero: at least the driver's own increments of every
    // earlier cycle are gone.
    assert!(run.lost_updates() >= ((config.cycles - 1) * config.increments_per_cycle) as u64);
    assert!(run.final_value < run.acked.len() as u64);
}

async fn owner_becomes(table: &Table, want: Pid) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while table.owner() != Some(want) {
        assert!(
            Instant::now() < deadline,
            "owner {:?}, want {want}",
            table.owner()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeper_gets_the_table_back_and_hands_it_over_even_if_the_taker_dies_mid_handover() {
    let rt = Runtime::new();
    let opts = CounterOpts {
        handover_delay: Duration::from_millis(100),
        ..CounterOpts::default()
    };
    let service = CounterService::start(&rt, &registry(), Backup::KeeperHeir, opts)
        .await
        .expect("service starts");
    let table = service.table().expect("the keeper's table");
    let keeper = service.keeper().await.expect("keeper").pid();
    let first = service.worker().await.expect("worker");
    // The worker owns the table while it serves; the keeper is its heir.
    assert_eq!(table.owner(), Some(first.pid()));
    assert_eq!(table.heir(), Some(keeper));
    for want in 1..=5 {
        assert_eq!(service.increment().await, Ok(want));
    }

    // Kill it: the Down brings the table back to the keeper (the worker can no longer write).
    first.kill();
    first.exited().await;
    let second = service
        .await_new_worker(first.pid(), Duration::from_secs(5))
        .await
        .expect("restarted");
    // The keeper is now inside the 100 ms handover to the second worker, holding the table.
    owner_becomes(&table, keeper).await;
    assert!(
        table.insert(first.pid(), "counter", 0).is_err(),
        "the dead worker cannot write"
    );
    assert!(
        table.insert(second.pid(), "counter", 0).is_err(),
        "not yet the new worker's"
    );

    // Kill the second worker during the handover: the table is given to a dead process,
    // comes back through the Down, and goes to the third worker.
    second.kill();
    second.exited().await;
    let third = service
        .await_new_worker(second.pid(), Duration::from_secs(5))
        .await
        .expect("restarted again");
    owner_becomes(&table, third.pid()).await;
    assert_eq!(service.get().await, Ok(5), "state survived both kills");
    assert_eq!(service.increment().await, Ok(6));
    assert_eq!(table.lookup("counter"), Some(6));
    // The keeper was never restarted: rest_for_one restarts only the worker after it.
    assert_eq!(service.keeper().await.map(|k| k.pid()), Some(keeper));
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_table_is_handed_to_each_new_worker() {
    let rt = Runtime::new();
    let opts = CounterOpts {
        handover_delay: Duration::from_millis(50),
        ..CounterOpts::default()
    };
    let service = CounterService::start(&rt, &registry(), Backup::SupervisorTable, opts)
        .await
        .expect("service starts");
    let table = service.table().expect("the supervisor's table");
    assert_eq!(service.increment().await, Ok(1));
    let first = service.kill_worker().await.expect("worker");
    first.exited().await;
    // Kill the next worker while it is still in init (50 ms), before it read the table.
    let second = service
        .await_new_worker(first.pid(), Duration::from_secs(5))
        .await
        .expect("restarted");
    second.kill();
    second.exited().await;
    service
        .await_serving(second.pid(), Duration::from_secs(5))
        .await
        .expect("serving again");
    assert_eq!(service.increment().await, Ok(2));
    assert_eq!(table.lookup("counter"), Some(2));
    service.shutdown().await;
}

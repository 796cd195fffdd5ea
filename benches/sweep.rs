//! Worst write latency while a sweep purges many expired records at once.
//!
//! Fills a store with `SWEEP_RECORDS` records (default 1,000,000) with a
//! one-hour TTL, moves a `ManualClock` two hours on so that every one of them
//! expires at the same moment, then runs `sweep_expired().blocking()` on one
//! thread while this thread does single saves in a loop, timing each. The
//! same saves with no sweep running, just before, are the baseline. A sweep
//! commits one transaction per chunk of 1,000 records, so a save waits at
//! most about one chunk's transaction: the figure this bench watches.
//!
//! Saves use the store's durability, `full` (an fsync per commit, the
//! default a user gets) unless `MCP_PERSIST_DURABILITY` says otherwise; with
//! `no-sync` the baseline drops to microseconds and what is left of a slow
//! save is the wait behind a sweep chunk alone.
//!
//! ```text
//! cargo bench -p mcp-persist-benches --bench sweep
//! SWEEP_RECORDS=20000 cargo bench -p mcp-persist-benches --bench sweep   # smoke run
//! MCP_PERSIST_DURABILITY=no-sync cargo bench -p mcp-persist-benches --bench sweep
//! ```
//! Under `cargo test` (no `--bench` argument) it runs with 2,000 records.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mcp_persist::{Durability, ManualClock, Store, persisted};

mod common;

/// A ~200-byte record that expires an hour after it is saved.
#[persisted(key = "session/{id}", ttl = "1h")]
#[derive(Debug, Clone)]
struct Session {
    id: u64,
    user: String,
    title: String,
    note: String,
}

fn session(id: u64) -> Session {
    Session {
        id,
        user: format!("user-{}", id % 1000),
        title: "The Dispossessed: An Ambiguous Utopia".into(),
        note: "A book about walls, and about the two sides of every wall, 1974.".into(),
    }
}

fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A count from environment variable `name`, else `default`.
fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number of records, not {v:?}")),
        Err(_) => default,
    }
}

/// Fills the store in `dir` with `n` expiring records, without fsync (the
/// fill is set-up, not what is measured), from a few threads so that group
/// commit batches them. The store is closed again on return.
fn fill(dir: &Path, clock: &ManualClock, n: u64) {
    let store = Store::builder()
        .durability(Durability::NoSync)
        .clock(clock.clone())
        .sweep_interval(None)
        .map_size(1 << 30)
        .open_at(dir)
        .expect("open the store to fill");
    const THREADS: u64 = 4;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let store = &store;
            s.spawn(move || {
                let mut i = t;
                while i < n {
                    session(i).save(store).blocking().expect("fill: save");
                    i += THREADS;
                }
            });
        }
    });
}

/// One save of a record without TTL, timed.
fn timed_save(store: &Store, i: u64) -> Duration {
    let record = common::record(i % 100);
    let start = Instant::now();
    record.save(store).blocking().expect("save");
    start.elapsed()
}

/// "p50 .. p99 .. max .." of `times`, sorted here.
fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        times[i]
    };
    format!(
        "p50 {:?}, p99 {:?}, max {:?} over {} saves",
        at(0.50),
        at(0.99),
        times[times.len() - 1],
        times.len()
    )
}

fn main() {
    let n = if benching() {
        setting("SWEEP_RECORDS", 1_000_000)
    } else {
        2_000
    };
    let baseline_saves = if benching() { 2_000 } else { 100 };
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new();

    let filling = Instant::now();
    fill(dir.path(), &clock, n);
    eprintln!(
        "sweep/{n}: filled {n} expiring records in {:?}",
        filling.elapsed()
    );

    // The store as a server runs it: durability from the environment, else full.
    let store = Store::builder()
        .clock(clock.clone())
        .sweep_interval(None)
        .open_at(dir.path())
        .expect("reopen the store");
    let durability = store.durability();

    let mut baseline: Vec<Duration> = (0..baseline_saves).map(|i| timed_save(&store, i)).collect();

    clock.advance(Duration::from_secs(2 * 3600));
    let swept = Arc::new(AtomicBool::new(false));
    let (purged, sweep_time, mut during) = std::thread::scope(|s| {
        let sweeper = s.spawn(|| {
            let start = Instant::now();
            let purged = store.sweep_expired().blocking().expect("sweep");
            let took = start.elapsed();
            swept.store(true, Ordering::Release);
            (purged, took)
        });
        let mut during = Vec::new();
        let mut i = 0;
        while !swept.load(Ordering::Acquire) {
            during.push(timed_save(&store, i));
            i += 1;
        }
        let (purged, took) = sweeper.join().expect("sweep thread");
        (purged, took, during)
    });
    assert_eq!(purged as u64, n, "the sweep purged every expired record");
    if during.is_empty() {
        during.push(timed_save(&store, 0));
    }

    eprintln!(
        "sweep/{n}: durability {durability}; sweep of {purged} expired records took {sweep_time:?}"
    );
    eprintln!(
        "sweep/{n}: saves, no sweep running: {}",
        summary(&mut baseline)
    );
    eprintln!(
        "sweep/{n}: saves during the sweep:  {}",
        summary(&mut during)
    );
}

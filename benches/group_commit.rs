//! Group commit against one fsync per write, interleaved: each round times
//! the raw baseline (heed, one durable transaction per write) and then the
//! store with 1, 16 and 64 concurrent writers, on the same disk a moment
//! apart, and reports each round's ratios (per write: baseline / ours).
//! The cost of an fsync on a shared virtual disk moves between runs and
//! within one; a ratio of two measures taken far apart moves with it.
//!
//! ```text
//! cargo bench -p mcp-persist-benches --bench group_commit            # 5 rounds
//! cargo bench -p mcp-persist-benches --bench group_commit -- 9       # 9 rounds
//! strace -f -e trace=fdatasync -o trace target/release/deps/group_commit-<hash> 1
//!     # fdatasyncs per thread: the writer thread's count is its commits
//! ```

use std::time::{Duration, Instant};

mod common;

use common::{concurrent_saves, raw_put_commit, record};
use mcp_persist::Store;

/// Writes of the raw baseline per round, and of the store per writer count.
const RAW_WRITES: u64 = 300;
const OUR_WRITES: u64 = 3_200;

fn main() {
    let (benching, rounds) = common::bench_args(5, 1);
    let (raw_writes, our_writes) = if benching {
        (RAW_WRITES, OUR_WRITES)
    } else {
        (16, 128)
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .map_size(1 << 30)
        .sweep_interval(None)
        .open_at(dir.path().join("ours"))
        .unwrap();
    let (env, db) = common::raw_env(
        &dir.path().join("raw"),
        heed::EnvOpenOptions::new(),
        1 << 30,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut i = 0u64;
    let mut ratios: [Vec<f64>; 3] = Default::default();
    println!("round  raw/write  1 task  16 tasks  64 tasks   (per write; ratio = raw / ours)");
    for round in 0..rounds {
        let start = Instant::now();
        for _ in 0..raw_writes {
            i += 1;
            raw_put_commit(&env, db, &record(i));
        }
        let raw = start.elapsed() / raw_writes as u32;
        let base = (round as u64 + 1) * 100_000_000;
        // Time per write of `writes` spread over `tasks` tasks.
        let per_write = |tasks: u64, writes: u64, base: u64| {
            let per_task = writes / tasks;
            concurrent_saves(&rt, &store, tasks, per_task, base) / (per_task * tasks) as u32
        };
        let one = per_write(1, raw_writes, base);
        let sixteen = per_write(16, our_writes, base + 10_000_000);
        let sixty_four = per_write(64, our_writes, base + 20_000_000);
        let ratio = |ours: Duration| raw.as_secs_f64() / ours.as_secs_f64();
        let r = [ratio(one), ratio(sixteen), ratio(sixty_four)];
        for (all, r) in ratios.iter_mut().zip(r) {
            all.push(r);
        }
        println!(
            "{round:>5}  {raw:>9.1?}  {:>5.2}x  {:>7.2}x  {:>7.2}x   ({one:.1?}, {sixteen:.1?}, {sixty_four:.1?})",
            r[0], r[1], r[2]
        );
    }
    let [one, sixteen, sixty_four] = &mut ratios;
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "median  1 task {:.2}x, 16 tasks {:.2}x (min {:.2}x), 64 tasks {:.2}x (min {:.2}x)",
        common::median(one),
        common::median(sixteen),
        min(sixteen),
        common::median(sixty_four),
        min(sixty_four)
    );
}

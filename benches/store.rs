//! Store benchmarks, each against a baseline measured in the same run:
//! raw heed (LMDB) with serde_json, doing the same work by hand.
//!
//! ```text
//! cargo bench -p mcp-persist-benches --bench store              # full
//! cargo bench -p mcp-persist-benches --bench store -- --quick   # a few minutes on 2 cores
//! ```
//! See BENCHMARKS.md for the figures and what they mean.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
mod common;

use common::{RawDb, RawRecord, Record, concurrent_saves, raw_put_commit, record};
use mcp_persist::Store;

fn raw_env(dir: &Path) -> (heed::Env, RawDb) {
    common::raw_env(dir, heed::EnvOpenOptions::new(), 1 << 30)
}

/// Like `raw_env`, with read transactions not tied to threads (`MDB_NOTLS`),
/// as the store opens its environment (read txns that any thread may own).
fn raw_env_notls(dir: &Path) -> (heed::Env<heed::WithoutTls>, RawDb) {
    common::raw_env(
        dir,
        heed::EnvOpenOptions::new().read_txn_without_tls(),
        1 << 30,
    )
}

fn store(dir: &Path) -> Store {
    Store::builder()
        .map_size(1 << 30)
        .sweep_interval(None)
        .open_at(dir)
        .expect("open store")
}

fn reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir.path().join("ours"));
    let raw_dir = dir.path().join("raw");
    let (env, db) = raw_env(&raw_dir);
    let mut wtxn = env.write_txn().unwrap();
    for i in 0..1000 {
        record(i).save(&store).blocking().unwrap();
        let json = serde_json::to_vec(&record(i)).unwrap();
        db.put(&mut wtxn, record(i).id.as_bytes(), &json).unwrap();
    }
    wtxn.commit().unwrap();

    let mut group = c.benchmark_group("read_200B");
    let mut i = 0u64;
    let ids: Vec<String> = (0..1000).map(|i| record(i).id).collect();
    group.bench_function("raw_heed_get_and_decode", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            let rtxn = env.read_txn().unwrap();
            let bytes = db.get(&rtxn, ids[i as usize].as_bytes()).unwrap().unwrap();
            black_box(serde_json::from_slice::<RawRecord>(bytes).unwrap())
        })
    });
    drop(env);
    let notls_dir = dir.path().join("raw-notls");
    let (env, db) = raw_env_notls(&notls_dir);
    let mut wtxn = env.write_txn().unwrap();
    for id in &ids {
        let json = serde_json::to_vec(&record(0)).unwrap();
        db.put(&mut wtxn, id.as_bytes(), &json).unwrap();
    }
    wtxn.commit().unwrap();
    group.bench_function("raw_heed_notls_get_and_decode", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            let rtxn = env.read_txn().unwrap();
            let bytes = db.get(&rtxn, ids[i as usize].as_bytes()).unwrap().unwrap();
            black_box(serde_json::from_slice::<RawRecord>(bytes).unwrap())
        })
    });
    group.bench_function("typed_load", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            black_box(
                Record::load(&store, &ids[i as usize])
                    .blocking()
                    .unwrap()
                    .unwrap(),
            )
        })
    });
    group.finish();
}

fn durable_writes(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir.path().join("ours"));
    let raw_dir = dir.path().join("raw");
    let (env, db) = raw_env(&raw_dir);
    let mut group = c.benchmark_group("durable_write_200B");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    let mut i = 0u64;
    group.bench_function("raw_heed_put_commit_fsync", |b| {
        b.iter(|| {
            i += 1;
            raw_put_commit(&env, db, &record(i % 1000));
        })
    });
    group.bench_function("save_blocking", |b| {
        b.iter(|| {
            i += 1;
            record(i % 1000).save(&store).blocking().unwrap();
        })
    });
    group.finish();
}

fn group_commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir.path().join("ours"));
    let raw_dir = dir.path().join("raw");
    let (env, db) = raw_env(&raw_dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("concurrent_durable_writes");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("raw_heed_one_txn_per_write", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            raw_put_commit(&env, db, &record(i));
        })
    });
    for tasks in [1u64, 4, 16, 64] {
        group.bench_with_input(
            BenchmarkId::new("save_tasks", tasks),
            &tasks,
            |b, &tasks| {
                b.iter_custom(|iters| {
                    concurrent_saves(&rt, &store, tasks, iters.max(tasks).div_ceil(tasks), 0)
                        / (iters.max(tasks) as u32)
                        * (iters as u32)
                })
            },
        );
    }
    group.finish();
}

fn updates(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir.path().join("ours"));
    record(0).save(&store).blocking().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let id = record(0).id;
    let mut group = c.benchmark_group("update_same_record");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    for tasks in [1u64, 16] {
        group.bench_with_input(BenchmarkId::new("tasks", tasks), &tasks, |b, &tasks| {
            b.iter_custom(|iters| {
                let n = iters.max(tasks);
                let store = store.clone();
                let id = id.clone();
                let elapsed = rt.block_on(async move {
                    let start = Instant::now();
                    let handles: Vec<_> = (0..tasks)
                        .map(|_| {
                            let store = store.clone();
                            let id = id.clone();
                            tokio::spawn(async move {
                                for _ in 0..n.div_ceil(tasks) {
                                    Record::update(&store, &id, |r| r.page += 1).await.unwrap();
                                }
                            })
                        })
                        .collect();
                    for h in handles {
                        h.await.unwrap();
                    }
                    start.elapsed()
                });
                elapsed / (n as u32) * (iters as u32)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, reads, durable_writes, group_commit, updates);
criterion_main!(benches);

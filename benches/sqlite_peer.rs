//! The peer row: what Rust MCP authors hand-write today, the same record
//! operations on SQLite through rusqlite (WAL; synchronous FULL and NORMAL),
//! in the same run as ours.
//!
//! ```text
//! cargo bench -p mcp-persist-benches --bench sqlite_peer -- --quick
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
mod common;

use common::{Record, raw_put_commit, record};
use mcp_persist::{Durability, Store};
use rusqlite::{Connection, OptionalExtension, params};

fn sqlite(path: &std::path::Path, synchronous: &str) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", synchronous)
        .unwrap();
    conn.execute(
        "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
        [],
    )
    .unwrap();
    conn
}

fn sqlite_save(conn: &Connection, r: &Record) {
    let json = serde_json::to_vec(r).unwrap();
    conn.prepare_cached("INSERT OR REPLACE INTO kv (key, value) VALUES (?1, ?2)")
        .unwrap()
        .execute(params![r.id, json])
        .unwrap();
}

fn sqlite_load(conn: &Connection, id: &str) -> Option<common::RawRecord> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT value FROM kv WHERE key = ?1")
        .unwrap()
        .query_row(params![id], |row| row.get(0))
        .optional()
        .unwrap();
    bytes.map(|b| serde_json::from_slice(&b).unwrap())
}

fn peer(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let full = sqlite(&dir.path().join("full.db"), "FULL");
    let normal = sqlite(&dir.path().join("normal.db"), "NORMAL");
    let ours = Store::builder()
        .sweep_interval(None)
        .open_at(dir.path().join("ours"))
        .unwrap();
    let ours_nosync = Store::builder()
        .durability(Durability::NoSync)
        .sweep_interval(None)
        .open_at(dir.path().join("ours-nosync"))
        .unwrap();
    let ours_no_meta_sync = Store::builder()
        .durability(Durability::NoMetaSync)
        .sweep_interval(None)
        .open_at(dir.path().join("ours-nometasync"))
        .unwrap();
    // Raw heed without fsync: the floor for `NoSync` (same process, no writer thread).
    let raw_dir = dir.path().join("raw-nosync");
    let mut options = heed::EnvOpenOptions::new();
    // SAFETY: a fresh directory used by this process only.
    unsafe { options.flags(heed::EnvFlags::NO_SYNC) };
    let (raw_env, raw_db) = common::raw_env(&raw_dir, options, 1 << 30);
    for i in 0..1000 {
        sqlite_save(&full, &record(i % 1000));
        sqlite_save(&normal, &record(i % 1000));
        record(i % 1000).save(&ours).blocking().unwrap();
    }

    let mut group = c.benchmark_group("write_200B");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    let mut i = 0u64;
    group.bench_function("sqlite_wal_synchronous_full", |b| {
        b.iter(|| {
            i += 1;
            sqlite_save(&full, &record(i % 1000))
        })
    });
    group.bench_function("sqlite_wal_synchronous_normal", |b| {
        b.iter(|| {
            i += 1;
            sqlite_save(&normal, &record(i % 1000))
        })
    });
    group.bench_function("mcp_persist_durability_full", |b| {
        b.iter(|| {
            i += 1;
            record(i % 1000).save(&ours).blocking().unwrap()
        })
    });
    group.bench_function("mcp_persist_durability_no_meta_sync", |b| {
        b.iter(|| {
            i += 1;
            record(i % 1000)
                .save(&ours_no_meta_sync)
                .blocking()
                .unwrap()
        })
    });
    group.bench_function("raw_heed_nosync_put_commit", |b| {
        b.iter(|| {
            i += 1;
            raw_put_commit(&raw_env, raw_db, &record(i % 1000));
        })
    });
    group.bench_function("mcp_persist_durability_nosync", |b| {
        b.iter(|| {
            i += 1;
            record(i % 1000).save(&ours_nosync).blocking().unwrap()
        })
    });
    group.finish();

    let ids: Vec<String> = (0..1000).map(|i| record(i).id).collect();
    let mut group = c.benchmark_group("read_200B");
    group.bench_function("sqlite_select_and_decode", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            black_box(sqlite_load(&full, &ids[i as usize]).unwrap())
        })
    });
    group.bench_function("mcp_persist_load", |b| {
        b.iter(|| {
            i = (i + 1) % 1000;
            black_box(
                Record::load(&ours, &ids[i as usize])
                    .blocking()
                    .unwrap()
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, peer);
criterion_main!(benches);

//! The record every benchmark stores, its plain-serde twin for baselines, and
//! the raw heed environment the baselines write to.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use heed::types::Bytes;
use mcp_persist::{Store, persisted};
use serde::{Deserialize, Serialize};

/// A ~200-byte record, as an MCP server would keep.
#[persisted(key = "bench/{id}")]
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub title: String,
    pub author: String,
    pub tags: Vec<String>,
    pub page: u32,
    pub percent: f32,
    pub note: String,
}

/// The same shape without `#[persisted]`, for raw baselines.
#[derive(Debug, Serialize, Deserialize)]
pub struct RawRecord {
    pub id: String,
    pub title: String,
    pub author: String,
    pub tags: Vec<String>,
    pub page: u32,
    pub percent: f32,
    pub note: String,
}

/// Record number `i`.
pub fn record(i: u64) -> Record {
    Record {
        id: format!("book-{i:08}"),
        title: "The Left Hand of Darkness".into(),
        author: "Ursula K. Le Guin".into(),
        tags: vec!["fiction".into(), "classic".into(), "sf".into()],
        page: 42,
        percent: 17.5,
        note: "Reread chapter 7; compare with the 1976 edition.".into(),
    }
}

/// The one database of a raw heed baseline: bare keys, bare JSON values.
pub type RawDb = heed::Database<'static, Bytes, Bytes>;

/// The raw baseline's write of `value`: encode, put, commit (one transaction).
pub fn raw_put_commit<T: heed::TlsUsage>(env: &heed::Env<T>, db: RawDb, value: &Record) {
    let json = serde_json::to_vec(value).expect("encode");
    let mut wtxn = env.write_txn().expect("write txn");
    db.put(&mut wtxn, value.id.as_bytes(), &json).expect("put");
    wtxn.commit().expect("commit");
}

/// A raw heed environment in the fresh directory `dir`, opened with `options`
/// (flags and TLS as the caller set them) and a map of `map_size` bytes.
pub fn raw_env<T: heed::TlsUsage + 'static>(
    dir: &Path,
    mut options: heed::EnvOpenOptions<T>,
    map_size: usize,
) -> (heed::Env<T>, RawDb) {
    std::fs::create_dir_all(dir).expect("create raw env dir");
    options.map_size(map_size).max_dbs(2);
    // SAFETY: a fresh directory used by this process only.
    let env = unsafe { options.open(dir) }.expect("open raw env");
    let wtxn = env.write_txn().expect("txn");
    let db = env
        .create_databases_and_commit(wtxn, |opener, wtxn| {
            let db = opener.create_database::<Bytes, Bytes>(wtxn, Some("raw"))?;
            Ok::<_, heed::Error>(heed::CommitOrAbort::<_, ()>::Commit(db))
        })
        .expect("create db")
        .unwrap_commit();
    (env, db)
}

/// `tasks` tokio tasks each doing `per_task` durable saves (of records
/// numbered from `base`, each task its own); returns the elapsed time.
pub fn concurrent_saves(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    tasks: u64,
    per_task: u64,
    base: u64,
) -> Duration {
    let store = Arc::new(store.clone());
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    for n in 0..per_task {
                        record(base + t * 1_000_000 + n).save(&store).await.unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        start.elapsed()
    })
}

/// Whether `cargo bench` runs this (it passes `--bench`; `cargo test
/// --all-targets` does not: a smoke run), and the count given as the first
/// free argument (`-- 9`), else `bench` when benching, `smoke` otherwise.
pub fn bench_args(bench: usize, smoke: usize) -> (bool, usize) {
    let benching = std::env::args().any(|a| a == "--bench");
    let count = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(if benching { bench } else { smoke });
    (benching, count)
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

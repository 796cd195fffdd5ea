//! Scale: `load` latency with 10k, 100k and 1M records stored, `list` of 10k
//! records under a prefix, and the data file before and after TTL expiry.
//!
//! ```text
//! cargo bench -p mcp-persist-benches --bench scale -- --quick
//! ```
//! Under `cargo test` (no `--bench` argument) it runs with tiny sizes.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mcp_persist::{Durability, ListOptions, ManualClock, Store, persisted};
mod common;

use common::RawDb;

/// A ~200-byte record.
#[persisted(key = "item/{shelf}/{id}", ttl = "1h")]
#[derive(Debug, Clone)]
struct Item {
    shelf: String,
    id: u64,
    title: String,
    author: String,
    note: String,
}

/// The same shape without `#[persisted]`, for the raw heed baseline.
#[derive(serde::Serialize, serde::Deserialize)]
struct RawItem {
    shelf: String,
    id: u64,
    title: String,
    author: String,
    note: String,
}

/// A raw heed environment holding the same `n` records (same keys, the bare
/// JSON value), filled in one transaction: the baseline at each size.
fn raw_fill(dir: &Path, n: u64) -> (heed::Env, RawDb) {
    let (env, db) = common::raw_env(dir, heed::EnvOpenOptions::new(), 4 << 30);
    let mut wtxn = env.write_txn().unwrap();
    for i in 0..n {
        let shelf = format!("s{}", i / 10_000);
        let Item {
            title,
            author,
            note,
            ..
        } = item(&shelf, i);
        let value = RawItem {
            shelf,
            id: i,
            title,
            author,
            note,
        };
        let key = raw_key(i);
        db.put(
            &mut wtxn,
            key.as_bytes(),
            &serde_json::to_vec(&value).unwrap(),
        )
        .unwrap();
    }
    wtxn.commit().unwrap();
    (env, db)
}

fn raw_key(i: u64) -> String {
    format!("item:item/s{}/{i}", i / 10_000)
}

fn item(shelf: &str, id: u64) -> Item {
    Item {
        shelf: shelf.into(),
        id,
        title: "The Dispossessed: An Ambiguous Utopia".into(),
        author: "Ursula K. Le Guin".into(),
        note: "A book about walls, and about the two sides of every wall, 1974.".into(),
    }
}

fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn sizes() -> Vec<u64> {
    if benching() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        vec![1_000]
    }
}

/// Fills `store` with `n` records spread over shelves of 10k, with many
/// concurrent writers so that group commit batches them.
fn fill(store: &Store, shelf_prefix: &str, n: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..64u64)
            .map(|t| {
                let store = store.clone();
                let prefix = shelf_prefix.to_owned();
                tokio::spawn(async move {
                    let mut i = t;
                    while i < n {
                        item(&format!("{prefix}{}", i / 10_000), i)
                            .save(&store)
                            .await
                            .unwrap();
                        i += 64;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}

fn open(dir: &Path, clock: &ManualClock) -> Store {
    Store::builder()
        .durability(Durability::NoSync)
        .clock(clock.clone())
        .sweep_interval(None)
        .open_at(dir)
        .unwrap()
}

fn scale(c: &mut Criterion) {
    let mut group = c.benchmark_group("scale");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for n in sizes() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new();
        let store = open(dir.path(), &clock);
        fill(&store, "s", n);
        let mut i = 0u64;
        group.bench_with_input(BenchmarkId::new("load", n), &n, |b, &n| {
            b.iter(|| {
                i = (i + 7919) % n;
                black_box(
                    Item::load(&store, format!("s{}", i / 10_000), i)
                        .blocking()
                        .unwrap()
                        .unwrap(),
                )
            })
        });
        if n >= 10_000 {
            let options = ListOptions {
                prefix: Some("s0".into()),
                limit: Some(10_000),
                cursor: None,
            };
            group.bench_with_input(BenchmarkId::new("list_10k_under_prefix", n), &n, |b, _| {
                b.iter(|| {
                    let page = Item::list_page(&store, options.clone()).blocking().unwrap();
                    assert_eq!(page.items.len(), 10_000);
                    black_box(page)
                })
            });
        }
        report_file_sizes(&store, dir.path(), &clock, n);
        drop(store);
        let raw_dir = tempfile::tempdir().unwrap();
        let (env, db) = raw_fill(raw_dir.path(), n);
        group.bench_with_input(
            BenchmarkId::new("raw_heed_get_and_decode", n),
            &n,
            |b, &n| {
                b.iter(|| {
                    i = (i + 7919) % n;
                    let rtxn = env.read_txn().unwrap();
                    let bytes = db.get(&rtxn, raw_key(i).as_bytes()).unwrap().unwrap();
                    black_box(serde_json::from_slice::<RawItem>(bytes).unwrap())
                })
            },
        );
    }
    group.finish();
}

/// Prints the data file's size after filling, after expiry + sweep, and after
/// filling again: LMDB reuses the freed pages instead of growing.
fn report_file_sizes(store: &Store, dir: &Path, clock: &ManualClock, n: u64) {
    let size = || std::fs::metadata(dir.join("data.mdb")).map_or(0, |m| m.len());
    let filled = size();
    clock.advance(Duration::from_secs(2 * 3600));
    let purged = store.sweep_expired().blocking().unwrap();
    let swept = size();
    fill(store, "t", n);
    let refilled = size();
    eprintln!(
        "scale/file_size/{n}: filled {} MiB; {purged} expired records swept: {} MiB; \
         filled again: {} MiB ({:.2}x the first fill)",
        filled >> 20,
        swept >> 20,
        refilled >> 20,
        refilled as f64 / filled.max(1) as f64
    );
}

criterion_group!(benches, scale);
criterion_main!(benches);

//! The read path in instructions, for `valgrind --tool=callgrind`: counts
//! that do not move with the load of a shared machine, unlike times.
//!
//! ```text
//! cargo bench -p mcp-persist-benches --bench read_path --no-run
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='read_path::measure_*' \
//!     target/release/deps/read_path-<hash> --bench
//! callgrind_annotate callgrind.out.<pid> | grep measure_
//! ```
//!
//! Each `measure_*` function reads the same 1,000 records `n` times over
//! (argument, default 20,000 reads); its inclusive count divided by `n` is
//! the cost of one read. `measure_raw` is the baseline of `benches/store.rs`
//! (`raw_heed_notls_get_and_decode`: a read txn, a get, a serde_json decode),
//! `measure_load` the typed `load`. Without valgrind it prints the times.

use std::hint::black_box;
use std::time::Instant;

mod common;

use common::{RawDb, RawRecord, Record, record};
use mcp_persist::Store;

#[inline(never)]
fn measure_raw(env: &heed::Env<heed::WithoutTls>, db: RawDb, ids: &[String], n: usize) {
    for i in 0..n {
        let rtxn = env.read_txn().unwrap();
        let bytes = db
            .get(&rtxn, ids[i % ids.len()].as_bytes())
            .unwrap()
            .unwrap();
        black_box(serde_json::from_slice::<RawRecord>(bytes).unwrap());
    }
}

#[inline(never)]
fn measure_load(store: &Store, ids: &[String], n: usize) {
    for i in 0..n {
        black_box(
            Record::load(store, &ids[i % ids.len()])
                .blocking()
                .unwrap()
                .unwrap(),
        );
    }
}

fn main() {
    let (_, n) = common::bench_args(20_000, 100);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .map_size(1 << 26)
        .sweep_interval(None)
        .open_at(dir.path().join("ours"))
        .unwrap();
    let (env, db) = common::raw_env(
        &dir.path().join("raw"),
        heed::EnvOpenOptions::new().read_txn_without_tls(),
        1 << 26,
    );
    let ids: Vec<String> = (0..1000).map(|i| record(i).id).collect();
    let mut wtxn = env.write_txn().unwrap();
    for i in 0..1000 {
        record(i).save(&store).blocking().unwrap();
        let json = serde_json::to_vec(&record(i)).unwrap();
        db.put(&mut wtxn, ids[i as usize].as_bytes(), &json)
            .unwrap();
    }
    wtxn.commit().unwrap();
    // Warm both up once, then measure.
    measure_raw(&env, db, &ids, 1000);
    measure_load(&store, &ids, 1000);
    let start = Instant::now();
    measure_raw(&env, db, &ids, n);
    let raw = start.elapsed();
    let start = Instant::now();
    measure_load(&store, &ids, n);
    let load = start.elapsed();
    println!(
        "raw {:?}/read, load {:?}/read, ratio {:.3}",
        raw / n as u32,
        load / n as u32,
        load.as_secs_f64() / raw.as_secs_f64()
    );
}

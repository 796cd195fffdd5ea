//! The Redis engine against hand-written code with the same client crate
//! (`redis`, synchronous connections), on a `redis-server` of its own
//! (loopback, `appendonly yes`, `appendfsync always`), interleaved in rounds
//! so that each ratio compares two measures taken a moment apart:
//!
//! - typed load vs `GET` + `serde_json` decode of the same record;
//! - durable save vs one `SET` (one round trip per write);
//! - 16 and 64 concurrent writers (tasks awaiting `save`) vs one `SET` per
//!   write in a row: what concurrency buys over a round trip per write;
//! - 16 tasks updating one record: time per update and lost transactions.
//!
//! ```text
//! cargo bench -p mcp-persist-benches --bench redis          # 5 rounds
//! cargo bench -p mcp-persist-benches --bench redis -- 9     # 9 rounds
//! ```
//!
//! Without `redis-server` (outside CI) it says so and measures nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use common::{RawRecord, Record, concurrent_saves, record};
use mcp_persist::{Store, persisted};

/// A counter that 16 tasks update at once.
#[persisted(key = "counter/{name}")]
#[derive(Debug, Clone)]
struct Counter {
    name: String,
    n: u64,
}

/// The raw baseline's key of record `i` (its own namespace on the server).
fn raw_key(i: u64) -> String {
    format!("raw:book-{i:08}")
}

fn main() {
    let (benching, rounds) = common::bench_args(5, 1);
    let (ops, writes, updates) = if benching {
        (2_000u64, 3_200u64, 50u64)
    } else {
        (20, 64, 4)
    };
    let Some(server) = redis_server::RedisServer::start() else {
        return;
    };
    let store = Store::builder()
        .sweep_interval(None)
        .connect(&server.url(), "bench")
        .expect("connect");
    let client = redis::Client::open(server.url()).expect("client");
    let mut con = client.get_connection().expect("connection");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    // The records both sides read.
    for i in 0..ops {
        record(i).save(&store).blocking().expect("save");
        let json = serde_json::to_vec(&record_raw(i)).expect("encode");
        redis::cmd("SET")
            .arg(raw_key(i))
            .arg(json)
            .exec(&mut con)
            .expect("SET");
    }

    let mut ratios: [Vec<f64>; 5] = Default::default();
    let mut retries = Vec::new();
    println!(
        "round  GET+decode  load   ratio | SET    save   ratio | 16 tasks  ratio | 64 tasks  ratio | update (16 tasks on 1 record)"
    );
    let mut next = 1_000_000u64;
    for round in 0..rounds {
        // Reads, then writes one at a time: each operation of ours right
        // after one of the baseline's, so that both meet the same machine
        // (a VM's vCPUs answer a loopback round trip in 8 us when busy and
        // 75 us when they had time to idle: measured, phase by phase, here).
        let (mut raw_get, mut load) = (Duration::ZERO, Duration::ZERO);
        for i in 0..ops {
            let start = Instant::now();
            let bytes: Vec<u8> = redis::cmd("GET")
                .arg(raw_key(i))
                .query(&mut con)
                .expect("GET");
            let value: RawRecord = serde_json::from_slice(&bytes).expect("decode");
            std::hint::black_box(value);
            let between = Instant::now();
            let value = Record::load(&store, format!("book-{i:08}")).blocking();
            std::hint::black_box(value.expect("load").expect("a record"));
            load += between.elapsed();
            raw_get += between - start;
        }
        let (raw_get, load) = (raw_get / ops as u32, load / ops as u32);
        let (mut raw_set, mut save) = (Duration::ZERO, Duration::ZERO);
        for i in 0..ops {
            let start = Instant::now();
            let json = serde_json::to_vec(&record_raw(next + i)).expect("encode");
            redis::cmd("SET")
                .arg(raw_key(next + i))
                .arg(json)
                .exec(&mut con)
                .expect("SET");
            let between = Instant::now();
            record(next + i).save(&store).blocking().expect("save");
            save += between.elapsed();
            raw_set += between - start;
        }
        let (raw_set, save) = (raw_set / ops as u32, save / ops as u32);
        next += ops;

        // Concurrent writers.
        let per_write = |tasks: u64, base: u64| {
            let per_task = writes / tasks;
            concurrent_saves(&rt, &store, tasks, per_task, base) / (per_task * tasks) as u32
        };
        let sixteen = per_write(16, next);
        let sixty_four = per_write(64, next + 10_000_000);
        next += 20_000_000;

        // Contention: 16 tasks, `updates` each, on one record.
        let name = format!("hot-{round}");
        let conflicts_before = store.write_conflicts();
        let started = Instant::now();
        rt.block_on(async {
            let store = Arc::new(store.clone());
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    let (store, name) = (Arc::clone(&store), name.clone());
                    tokio::spawn(async move {
                        let initial = Counter {
                            name: name.clone(),
                            n: 0,
                        };
                        for _ in 0..updates {
                            Counter::update_or_insert(&store, &initial, |c| c.n += 1)
                                .await
                                .expect("update");
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("task");
            }
        });
        let per_update = started.elapsed() / (16 * updates) as u32;
        let lost = store.write_conflicts() - conflicts_before;
        let total = Counter::load(&store, &name).blocking().expect("load");
        assert_eq!(
            total.map(|c| c.n),
            Some(16 * updates),
            "every update counted"
        );
        retries.push(lost as f64 / (16 * updates) as f64);

        let ratio = |base: Duration, ours: Duration| ours.as_secs_f64() / base.as_secs_f64();
        let speedup = |ours: Duration| raw_set.as_secs_f64() / ours.as_secs_f64();
        let r = [
            ratio(raw_get, load),
            ratio(raw_set, save),
            speedup(sixteen),
            speedup(sixty_four),
            per_update.as_secs_f64() * 1e6,
        ];
        for (all, r) in ratios.iter_mut().zip(r) {
            all.push(r);
        }
        println!(
            "{round:>5}  {raw_get:>10.1?}  {load:>6.1?} {:>5.2}x | {raw_set:>6.1?} {save:>6.1?} {:>5.2}x | {sixteen:>8.1?} {:>5.1}x | {sixty_four:>8.1?} {:>5.1}x | {per_update:.1?}/update, {lost} lost transactions ({:.2} per update)",
            r[0],
            r[1],
            r[2],
            r[3],
            lost as f64 / (16 * updates) as f64
        );
    }
    let [load, save, sixteen, sixty_four, update] = &mut ratios;
    println!(
        "median: load {:.2}x GET+decode, save {:.2}x SET, 16 writers {:.1}x and 64 writers {:.1}x the writes/s of one SET at a time, contended update {:.0} us ({:.2} lost transactions per update)",
        common::median(load),
        common::median(save),
        common::median(sixteen),
        common::median(sixty_four),
        common::median(update),
        common::median(&mut retries)
    );
}

/// Record `i` as the raw baseline stores it.
fn record_raw(i: u64) -> RawRecord {
    let r = record(i);
    RawRecord {
        id: r.id,
        title: r.title,
        author: r.author,
        tags: r.tags,
        page: r.page,
        percent: r.percent,
        note: r.note,
    }
}

//! The change feed (issue 16), each figure against a baseline of the same
//! run:
//!
//! - **write path**: a durable `save` (which now also appends to the change
//!   log in its transaction) against raw heed `put` + `commit` of the same
//!   JSON, interleaved per operation, in rounds;
//! - **latency in process**: from a save's return to a watcher (waiting in
//!   another task) holding the change;
//! - **latency across processes**: a child process (this binary again)
//!   saves records stamped with the wall clock just before each save; the
//!   parent's watcher loads each one as it arrives: from the start of the
//!   save (its fsync included) to the notification. Then the same across
//!   two processes on one `redis-server` (skipped without one).
//!
//! ```text
//! cargo bench -p mcp-persist-benches --bench watch          # 5 rounds
//! ```

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;
#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use common::{raw_put_commit, record};
use mcp_persist::{Store, Watched, persisted};

/// A record stamped with when its save started.
#[persisted(key = "stamp/{id}")]
#[derive(Debug, Clone, PartialEq)]
struct Stamp {
    id: u64,
    sent_ns: u64,
}

const ROLE: &str = "MCP_PERSIST_BENCH_ROLE";
const DIR: &str = "MCP_PERSIST_BENCH_DIR";
const COUNT: &str = "MCP_PERSIST_BENCH_COUNT";
const URL: &str = "MCP_PERSIST_BENCH_URL";

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn open(dir: &Path) -> Store {
    Store::builder()
        .sweep_interval(None)
        .map_size(1 << 30)
        .open_at(dir)
        .expect("open")
}

/// The child: `count` stamped saves, 2 ms apart (a steady writer, not a
/// burst), on the store in `dir` or on the Redis server at `url`.
fn child(dir: Option<String>, url: Option<String>, count: u64) {
    let store = match (dir, url) {
        (Some(dir), _) => open(Path::new(&dir)),
        (_, Some(url)) => Store::builder()
            .sweep_interval(None)
            .connect(&url, "bench")
            .expect("connect"),
        _ => panic!("no store for the child"),
    };
    for id in 0..count {
        let stamp = Stamp {
            id,
            sent_ns: now_ns(),
        };
        stamp.save(&store).blocking().expect("save");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn percentiles(mut us: Vec<f64>) -> (f64, f64) {
    us.sort_by(f64::total_cmp);
    let at = |p: f64| us[((us.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.99))
}

fn main() {
    if let Ok(count) = std::env::var(COUNT)
        && std::env::var(ROLE).is_ok_and(|r| r == "writer")
    {
        let count = count.parse().expect("a count");
        child(std::env::var(DIR).ok(), std::env::var(URL).ok(), count);
        return;
    }
    let (benching, rounds) = common::bench_args(5, 1);
    let (saves, pings) = if benching { (300u64, 500u64) } else { (5, 20) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    // 1. The write path.
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir.path().join("store"));
    let raw_dir = dir.path().join("raw");
    std::fs::create_dir_all(&raw_dir).expect("dir");
    let (env, db) = common::raw_env(&raw_dir, heed::EnvOpenOptions::new(), 1 << 30);
    let mut ratios = Vec::new();
    println!("round  raw put+commit  durable save (logged)  ratio");
    let mut next = 0u64;
    for round in 0..rounds {
        let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
        for i in 0..saves {
            let r = record(next + i);
            let start = Instant::now();
            raw_put_commit(&env, db, &r);
            let between = Instant::now();
            r.save(&store).blocking().expect("save");
            b += between.elapsed();
            a += between - start;
        }
        next += saves;
        let (raw, ours) = (a / saves as u32, b / saves as u32);
        let ratio = ours.as_secs_f64() / raw.as_secs_f64();
        ratios.push(ratio);
        println!("{round:>5}  {raw:>14.1?}  {ours:>21.1?}  {ratio:.3}x");
    }
    println!(
        "median: durable save with the change log {:.3}x raw heed put+commit",
        common::median(&mut ratios)
    );

    // 2. Latency in process: the watcher waits in another task.
    let latencies = runtime.block_on(async {
        let mut watcher = store.watch("stamp:").expect("watch");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        let receiver = tokio::spawn(async move {
            let mut at = Vec::new();
            while at.len() < pings as usize {
                if let Watched::Change(_) = watcher.next().await.expect("next") {
                    at.push(Instant::now());
                }
            }
            at
        });
        let mut acked = Vec::new();
        for id in 0..pings {
            Stamp { id, sent_ns: 0 }.save(&store).await.expect("save");
            acked.push(Instant::now());
            tx.send(Instant::now()).ok();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        rx.close();
        let got = receiver.await.expect("receiver");
        acked
            .iter()
            .zip(&got)
            .map(|(a, g)| g.saturating_duration_since(*a).as_secs_f64() * 1e6)
            .collect::<Vec<_>>()
    });
    let (p50, p99) = percentiles(latencies);
    println!("in process: save returned -> watcher has it: p50 {p50:.0} us, p99 {p99:.0} us");

    // 3. Latency across processes, on LMDB, then on Redis.
    drop(store);
    let shared = dir.path().join("shared");
    let store = open(&shared);
    let (p50, p99) =
        percentiles(runtime.block_on(across(&store, (DIR, shared.as_os_str()), pings)));
    println!(
        "across processes (LMDB): save started in B -> watcher in A has it: p50 {p50:.0} us, p99 {p99:.0} us"
    );
    let Some(server) = redis_server::RedisServer::start() else {
        return;
    };
    let url = server.url();
    let store = Store::builder()
        .sweep_interval(None)
        .connect(&url, "bench")
        .expect("connect");
    let (p50, p99) = percentiles(runtime.block_on(across(&store, (URL, url.as_ref()), pings)));
    println!(
        "across processes (Redis): save started in B -> watcher in A has it: p50 {p50:.0} us, p99 {p99:.0} us"
    );
}

/// Latencies (us) of `pings` stamped saves by a child process on the store
/// it finds in the environment variable `place`, as `store`'s watcher sees them.
async fn across(store: &Store, place: (&str, &std::ffi::OsStr), pings: u64) -> Vec<f64> {
    let mut watcher = store.watch("stamp:").expect("watch");
    let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env(ROLE, "writer")
        .env(place.0, place.1)
        .env(COUNT, pings.to_string())
        .spawn()
        .expect("child");
    let mut us = Vec::new();
    while us.len() < pings as usize {
        let item = tokio::time::timeout(Duration::from_secs(10), watcher.next())
            .await
            .expect("a change within 10 s")
            .expect("next");
        let got = now_ns();
        if let Watched::Change(change) = item {
            let id: u64 = change
                .key
                .rsplit('/')
                .next()
                .and_then(|s| s.parse().ok())
                .expect("an id");
            let stamp = Stamp::load(store, id).await.expect("load").expect("there");
            us.push(got.saturating_sub(stamp.sent_ns) as f64 / 1e3);
        }
    }
    assert!(child.wait().expect("child").success());
    us
}

//! Real processes: SIGKILL in the middle of writes, several processes on one
//! store, and the map grown by another process.
//!
//! Children are this test binary run again with `--exact child_role` and the
//! role in an environment variable (the same trick as `restart.rs`).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{Counter, Keep, Progress, progress};
use mcp_persist::{Durability, Store};

const ROLE: &str = "MCP_PERSIST_TEST_ROLE";
const DIR: &str = "MCP_PERSIST_TEST_DIR";
const START: &str = "MCP_PERSIST_TEST_START";

fn small_map_store(dir: &Path) -> Store {
    Store::builder()
        .map_size(256 * 1024)
        .sweep_interval(None)
        .open_at(dir)
        .unwrap()
}

/// Does nothing unless run as a child by a test below.
#[test]
fn child_role() {
    let (Ok(role), Ok(dir)) = (std::env::var(ROLE), std::env::var(DIR)) else {
        return;
    };
    if role == "durability" {
        // What the store opened with, whatever MCP_PERSIST_DURABILITY says.
        match Store::open_at(&dir) {
            Ok(store) => println!("DURABILITY {}", store.durability()),
            Err(err) => println!("ERROR {err}"),
        }
        let explicit = Store::builder()
            .durability(Durability::NoMetaSync)
            .open_at(Path::new(&dir).join("explicit"))
            .unwrap();
        println!("EXPLICIT {}", explicit.durability());
        return;
    }
    if role == "lock-holder" {
        // Takes the store's write lock and keeps it (the parent stops us).
        let store = Store::builder().sweep_interval(None).open_at(&dir).unwrap();
        let initial = Counter {
            name: "holder".into(),
            n: 0,
        };
        Counter::update_or_insert(&store, &initial, |c| {
            println!("HOLDING");
            std::io::stdout().flush().unwrap();
            std::thread::sleep(std::time::Duration::from_secs(120));
            c.n += 1;
        })
        .blocking()
        .unwrap();
        return;
    }
    // A Redis server when the parent passed one, through the variable a
    // deployment would set.
    let store = if std::env::var_os(mcp_persist::settings::URL_ENV_VAR).is_some() {
        Store::builder().sweep_interval(None).open("tests").unwrap()
    } else {
        small_map_store(Path::new(&dir))
    };
    match role.as_str() {
        "ack-writer" => {
            let start: u32 = std::env::var(START).unwrap().parse().unwrap();
            let mut out = std::io::stdout().lock();
            for i in start..start + 100_000 {
                progress(&format!("k{i:06}"), i)
                    .save(&store)
                    .blocking()
                    .unwrap();
                // Acknowledged only once durable.
                writeln!(out, "ACK {i}").unwrap();
                out.flush().unwrap();
            }
        }
        "incrementer" => {
            for _ in 0..500 {
                let initial = Counter {
                    name: "shared".into(),
                    n: 0,
                };
                Counter::update_or_insert(&store, &initial, |c| c.n += 1)
                    .blocking()
                    .unwrap();
            }
        }
        "reader" => {
            for _ in 0..500 {
                if let Some(c) = Counter::load(&store, "shared").blocking().unwrap() {
                    assert!(c.n <= 2000);
                }
            }
        }
        "grower" => {
            let data = "g".repeat(1 << 20);
            for id in 0..8 {
                Blob {
                    id,
                    data: data.clone(),
                }
                .save(&store)
                .blocking()
                .unwrap();
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn child(role: &str, dir: &Path, start: u32) -> Child {
    child_command(role, dir, start)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn child_command(role: &str, dir: &Path, start: u32) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(DIR, dir)
        .env(START, start.to_string())
        .env_remove(mcp_persist::settings::URL_ENV_VAR);
    cmd
}

/// A child on the store `keep` keeps: its directory, or its Redis server.
fn child_on(role: &str, keep: &Keep) -> Child {
    let mut cmd = match keep {
        Keep::Dir(dir) => child_command(role, dir.path(), 0),
        Keep::Redis(server) => {
            let mut cmd = child_command(role, Path::new("-"), 0);
            cmd.env(mcp_persist::settings::URL_ENV_VAR, server.url());
            cmd
        }
    };
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// What a child process's store opens with under `MCP_PERSIST_DURABILITY=value`.
fn durability_under(value: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = child_command("durability", dir.path(), 0);
    cmd.env_remove(mcp_persist::settings::DURABILITY_ENV_VAR);
    if let Some(value) = value {
        cmd.env(mcp_persist::settings::DURABILITY_ENV_VAR, value);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        // libtest prints "test child_role ... " in front of the first line.
        .filter_map(|l| {
            ["DURABILITY ", "ERROR ", "EXPLICIT "]
                .iter()
                .find_map(|m| l.find(m).map(|i| &l[i..]))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn durability_follows_the_environment_unless_the_code_chooses() {
    assert_eq!(
        durability_under(None),
        "DURABILITY full\nEXPLICIT no-meta-sync"
    );
    assert_eq!(
        durability_under(Some("")),
        "DURABILITY full\nEXPLICIT no-meta-sync"
    );
    assert_eq!(
        durability_under(Some("no-sync")),
        "DURABILITY no-sync\nEXPLICIT no-meta-sync"
    );
    assert_eq!(
        durability_under(Some("NO_META_SYNC")),
        "DURABILITY no-meta-sync\nEXPLICIT no-meta-sync"
    );
    // A value it cannot take is an error naming the variable, not a silent default.
    let out = durability_under(Some("fast"));
    assert!(
        out.starts_with("ERROR MCP_PERSIST_DURABILITY=\"fast\" is not a valid setting"),
        "{out}"
    );
    assert!(out.contains("no-meta-sync"), "{out}");
}

/// A small deterministic pseudo-random sequence (no dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = Lcg(seed);
    let mut next = 0u32;
    for round in 0..20 {
        let mut writer = child("ack-writer", dir.path(), next);
        let stdout = writer.stdout.take().unwrap();
        let mut acked = None;
        let kill_after = 1 + rng.next(40);
        // Keep the pipe open until the kill: the child must die writing, not on EPIPE.
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let Some(n) = line.strip_prefix("ACK ") else {
                continue;
            };
            acked = Some(n.parse::<u32>().unwrap());
            if acked.is_some_and(|a| u64::from(a - next) + 1 >= kill_after) {
                break;
            }
        }
        // Let it get some way into the next writes, then kill it mid-flight.
        std::thread::sleep(std::time::Duration::from_micros(rng.next(3000)));
        writer.kill().unwrap();
        let status = writer.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the writer ended by itself: {status}"
        );
        drop(lines);

        let acked =
            acked.unwrap_or_else(|| panic!("round {round}: the writer acknowledged nothing"));
        let store = Store::open_at(dir.path()).unwrap();
        for i in 0..=acked {
            let got = Progress::load(&store, format!("k{i:06}"))
                .blocking()
                .unwrap();
            assert_eq!(
                got.map(|p| p.page),
                Some(i),
                "round {round} (seed {seed}): acknowledged write {i} is missing"
            );
        }
        drop(store);
        next = acked + 1;
    }
}

on_each_backend! {
    #[test]
    fn four_processes_of_500_updates_end_at_2000_while_others_read() {
        let (keep, store, _clock) = disk_store();
        let mut children: Vec<Child> = (0..4).map(|_| child_on("incrementer", &keep)).collect();
        children.extend((0..2).map(|_| child_on("reader", &keep)));
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let counter = Counter::load(&store, "shared").blocking().unwrap();
        assert_eq!(counter.map(|c| c.n), Some(2000));
    }
}

#[test]
fn a_map_grown_by_another_process_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let store = small_map_store(dir.path());
    progress("mine", 1).save(&store).blocking().unwrap();
    let mut grower = child("grower", dir.path(), 0);
    assert!(grower.wait().unwrap().success());
    // This process still has the small map; the file is now much larger.
    assert!(
        std::fs::metadata(dir.path().join("data.mdb"))
            .unwrap()
            .len()
            > 8 << 20
    );
    progress("mine", 2).save(&store).blocking().unwrap();
    assert_eq!(
        Progress::load(&store, "mine")
            .blocking()
            .unwrap()
            .unwrap()
            .page,
        2
    );
    assert_eq!(
        Blob::load(&store, 7)
            .blocking()
            .unwrap()
            .map(|b| b.data.len()),
        Some(1 << 20)
    );
}

/// A large value, for map growth.
#[mcp_persist::persisted(key = "blob/{id}")]
struct Blob {
    id: u32,
    data: String,
}

#[test]
fn a_tiny_map_grows_to_hold_over_200_mb() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .map_size(64 * 1024)
        .durability(Durability::NoSync)
        .sweep_interval(None)
        .open_at(dir.path())
        .unwrap();
    let data = "m".repeat(1 << 20);
    for id in 0..210 {
        Blob {
            id,
            data: data.clone(),
        }
        .save(&store)
        .blocking()
        .unwrap();
    }
    let stored: usize = Blob::list(&store)
        .blocking()
        .unwrap()
        .iter()
        .map(|b| b.data.len())
        .sum();
    assert_eq!(stored, 210 << 20);
    drop(store);
    let size = std::fs::metadata(dir.path().join("data.mdb"))
        .unwrap()
        .len();
    assert!(size >= 200 << 20, "data.mdb is {size} bytes");
    // And it opens again, map and all.
    let store = Store::open_at(dir.path()).unwrap();
    assert_eq!(
        Blob::load(&store, 209)
            .blocking()
            .unwrap()
            .map(|b| b.data.len()),
        Some(1 << 20)
    );
}

/// Issue 11, item 13: a server on the same store stopped (SIGSTOP) while it
/// holds the write lock used to hang every write of the others and their
/// shutdown, forever. A write now fails with `Error::Busy` once the write
/// timeout has passed and is never applied later; closing the store leaves
/// within a second even with a write stuck behind the lock; once the holder
/// dies, writes go through again.
#[test]
fn a_stopped_peer_holding_the_write_lock_times_writes_out() {
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    // The store exists before the holder takes its lock.
    drop(
        Store::builder()
            .sweep_interval(None)
            .open_at(dir.path())
            .unwrap(),
    );
    let mut holder = child("lock-holder", dir.path(), 0);
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.contains("HOLDING"))),
        "the holder never took the lock"
    );
    let pid = holder.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );

    let (tx, rx) = std::sync::mpsc::channel();
    let path = dir.path().to_owned();
    std::thread::spawn(move || {
        let timeout = Duration::from_millis(500);
        // Opening an existing store does not need the write lock.
        let store = Store::builder()
            .sweep_interval(None)
            .write_timeout(timeout)
            .open_at(&path)
            .unwrap();
        let started = Instant::now();
        let blocking = progress("busy-blocking", 1).save(&store).blocking();
        let waited = started.elapsed();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let started = Instant::now();
        let not_async = rt.block_on(progress("busy-async", 1).save(&store).into_future());
        let waited_async = started.elapsed();
        drop(store);

        // A store with the default 30 s timeout and a write stuck behind
        // the lock (its caller gave up): closing does not wait for it.
        let store = Store::builder()
            .sweep_interval(None)
            .open_at(&path)
            .unwrap();
        let gave_up = rt.block_on(async {
            tokio::time::timeout(
                Duration::from_millis(100),
                progress("queued", 1).save(&store),
            )
            .await
        });
        let started = Instant::now();
        drop(store);
        let closing = started.elapsed();
        let _ = tx.send((
            blocking,
            waited,
            not_async,
            waited_async,
            gave_up.is_err(),
            closing,
        ));
    });
    let outcome = rx.recv_timeout(Duration::from_secs(20));
    let resume = |signal: &str| {
        let _ = Command::new("kill").args([signal, &pid]).status();
    };
    let Ok((blocking, waited, not_async, waited_async, gave_up, closing)) = outcome else {
        resume("-KILL");
        panic!("a write or a close hung behind the stopped peer");
    };
    assert!(
        matches!(blocking, Err(mcp_persist::Error::Busy { .. })),
        "{blocking:?}"
    );
    assert!(
        matches!(not_async, Err(mcp_persist::Error::Busy { .. })),
        "{not_async:?}"
    );
    let message = blocking.unwrap_err().to_string();
    assert!(message.contains("write lock"), "{message}");
    for waited in [waited, waited_async] {
        assert!(
            waited >= Duration::from_millis(450) && waited < Duration::from_secs(5),
            "waited {waited:?} for a 500 ms timeout"
        );
    }
    assert!(
        gave_up,
        "the queued write answered although the lock is held"
    );
    assert!(
        closing < Duration::from_millis(1500),
        "closing took {closing:?}"
    );

    // A dead holder frees the lock at once: writes go through again, the
    // queued write (not timed out) lands, the timed-out ones never do.
    resume("-KILL");
    let _ = holder.wait();
    let deadline = Instant::now() + Duration::from_secs(40);
    let store = loop {
        match Store::builder().sweep_interval(None).open_at(dir.path()) {
            Ok(store) => break store,
            // The abandoned writer of the closed store still has it open.
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(err) => panic!("the store never closed: {err}"),
        }
    };
    progress("after", 2).save(&store).blocking().unwrap();
    assert_eq!(
        Progress::load(&store, "after")
            .blocking()
            .unwrap()
            .map(|p| p.page),
        Some(2)
    );
    assert_eq!(
        Progress::load(&store, "queued")
            .blocking()
            .unwrap()
            .map(|p| p.page),
        Some(1)
    );
    assert_eq!(
        Progress::load(&store, "busy-blocking").blocking().unwrap(),
        None
    );
    assert_eq!(
        Progress::load(&store, "busy-async").blocking().unwrap(),
        None
    );
    assert_eq!(
        Counter::load(&store, "holder").blocking().unwrap(),
        None,
        "the holder's write was not committed"
    );
}

//! The writer's lifecycle under hostile closures: the last `Store` handle
//! dropped by a write's closure, a sweep in flight at that moment, panicking
//! drops, a batch with one write too big for the map, sweeps that let other
//! writes through, and a second open asking for other settings.
//!
//! Panics on the store's own threads do not fail a test by themselves: a
//! panic hook records them, and each test asserts there were none.

mod common;

use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::Counter;
use mcp_persist::{Durability, Error, ManualClock, Store, Ttl, persisted};

/// Panics seen on threads of the store (named `mcp-persist-*`).
fn store_thread_panics() -> &'static Mutex<Vec<String>> {
    static PANICS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    PANICS.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let planted = info.to_string().contains(PLANTED);
            if !planted && thread.name().is_some_and(|n| n.starts_with("mcp-persist")) {
                let mut seen = store_thread_panics()
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                seen.push(format!("{:?}: {info}", thread.name()));
            }
            previous(info);
        }));
        Mutex::new(Vec::new())
    })
}

/// The message of the panics the tests plant (contained by the store).
const PLANTED: &str = "a captured value panicked in its drop";

fn assert_no_store_thread_panic() {
    let seen = store_thread_panics()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert!(seen.is_empty(), "a store thread panicked: {seen:?}");
}

/// Blocks in its drop until `release` is signalled (at most `max`).
struct DropWaits {
    release: Receiver<()>,
    max: Duration,
}

impl Drop for DropWaits {
    fn drop(&mut self) {
        let _ = self.release.recv_timeout(self.max);
    }
}

/// Panics in its drop (not while already unwinding).
struct DropPanics;

impl Drop for DropPanics {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{PLANTED}");
        }
    }
}

/// Runs `f` on a thread; fails the test if it does not finish within `limit`.
fn within<R: Send + 'static>(limit: Duration, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}: a hang"))
}

/// A blocking update of the counter `name` that leads the store's writes
/// until the returned sender is signalled: writes made meanwhile queue up.
#[allow(clippy::type_complexity)]
fn hold_the_lead(
    store: &Store,
    name: &'static str,
) -> (
    std::thread::JoinHandle<mcp_persist::Result<Option<Counter>>>,
    std::sync::mpsc::Sender<()>,
) {
    let (entered_tx, entered) = channel();
    let (go_tx, go) = channel::<()>();
    let store = store.clone();
    let leader = std::thread::spawn(move || {
        Counter::update(&store, name, move |c| {
            let _ = entered_tx.send(());
            let _ = go.recv_timeout(Duration::from_secs(10));
            c.n += 1;
        })
        .blocking()
    });
    entered.recv().unwrap();
    (leader, go_tx)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn counter(name: &str, n: u64) -> Counter {
    Counter {
        name: name.into(),
        n,
    }
}

/// Issue 11, items 1 and 2. The last handle of a store lives in a queued
/// write's closure (its caller gave up waiting and dropped its own handle),
/// and a sweep is waiting for the writer when that closure is dropped. It
/// used to panic the writer thread ("failed to join thread: Resource deadlock
/// avoided") or deadlock with the sweeper; the environment stayed open.
#[test]
fn the_last_handle_dropped_by_a_closure_on_the_writer_thread() {
    store_thread_panics();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    within(Duration::from_secs(30), move || {
        let store = Store::builder()
            .sweep_interval(Some(Duration::from_millis(1)))
            .open_at(&path)
            .unwrap();
        counter("a", 0).save(&store).blocking().unwrap();

        // A blocking write holds the lead while the async one is queued.
        let (leader, go_tx) = hold_the_lead(&store, "a");

        let (release_tx, release) = channel();
        let captured = (
            store.clone(),
            DropWaits {
                release,
                max: Duration::from_secs(5),
            },
        );
        let rt = runtime();
        let gave_up = rt.block_on(async {
            let update = Counter::update(&store, "a", move |c| {
                let _ = &captured;
                c.n += 10;
            });
            tokio::time::timeout(Duration::from_millis(50), update).await
        });
        assert!(
            gave_up.is_err(),
            "the update answered while another write led"
        );
        drop(store); // the queued closure now holds the last handle
        go_tx.send(()).unwrap();
        assert_eq!(leader.join().unwrap().unwrap().map(|c| c.n), Some(1));
        // The closure's drop (on the writer thread) may go on: it drops the
        // last handle while a sweep waits for the writer.
        release_tx.send(()).unwrap();

        // The store closes by itself; the directory opens again.
        let deadline = Instant::now() + Duration::from_secs(10);
        let reopened = loop {
            match Store::builder().sweep_interval(None).open_at(&path) {
                Ok(store) => break store,
                Err(err) if Instant::now() < deadline => {
                    eprintln!("not yet closed: {err}");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(err) => panic!("the store never closed: {err}"),
            }
        };
        assert_eq!(
            Counter::load(&reopened, "a")
                .blocking()
                .unwrap()
                .map(|c| c.n),
            Some(11)
        );
    });
    assert_no_store_thread_panic();
}

/// Issue 11, item 1: the closure is dropped before its caller hears back, so
/// a handle it captured is gone when the write returns.
#[test]
fn a_closure_is_dropped_before_its_caller_is_answered() {
    store_thread_panics();
    let (_dir, store, _clock) = common::disk_store();
    counter("b", 0).save(&store).blocking().unwrap();
    let witness = Arc::new(());
    let captured = Arc::clone(&witness);
    let rt = runtime();
    rt.block_on(
        Counter::update(&store, "b", move |c| {
            let _ = &captured;
            c.n += 1;
        })
        .into_future(),
    )
    .unwrap();
    assert_eq!(
        Arc::strong_count(&witness),
        1,
        "the closure outlived its answer"
    );
    assert_no_store_thread_panic();
}

/// Issue 11, item 3: a panic outside the closure's own run (the drop of a
/// captured value) used to kill the writer thread; every later async write
/// then hung forever. The write it belonged to was committed: it answers Ok.
#[test]
fn a_panicking_drop_neither_kills_the_writer_nor_changes_the_answer() {
    store_thread_panics();
    let (_dir, store, _clock) = common::disk_store();
    counter("c", 0).save(&store).blocking().unwrap();
    let rt = runtime();
    rt.block_on(async {
        let bomb = DropPanics;
        let first = Counter::update(&store, "c", move |c| {
            let _ = &bomb;
            c.n += 1;
        })
        .await;
        assert_eq!(
            first.unwrap().map(|c| c.n),
            Some(1),
            "a committed write must answer Ok"
        );
        for i in 2..5 {
            let next = tokio::time::timeout(
                Duration::from_secs(10),
                Counter::update(&store, "c", |c| c.n += 1),
            )
            .await
            .expect("a write after the panic hung");
            assert_eq!(next.unwrap().map(|c| c.n), Some(i));
        }
    });
    // The panic was contained, not propagated: no store thread died of it.
    assert_no_store_thread_panic();
}

#[persisted(key = "blob/{id}")]
#[derive(Debug, Clone, PartialEq)]
struct Blob {
    id: u32,
    data: String,
}

/// Issue 11, item 4: with the map at its ceiling, a batch of three small
/// writes and one too big for the map failed whole (the small ones with
/// `StoreFull`, the big one with `BatchFailed`). The big one fails alone.
#[test]
fn a_write_too_big_for_the_map_fails_alone_in_its_batch() {
    store_thread_panics();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .map_size(1 << 20)
        .max_map_size(1 << 20)
        .sweep_interval(None)
        .open_at(dir.path())
        .unwrap();
    counter("gate", 0).save(&store).blocking().unwrap();
    let (leader, go_tx) = hold_the_lead(&store, "gate");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let blob = |id: u32, len: usize| Blob {
        id,
        data: "x".repeat(len),
    };
    let writes: Vec<_> = [blob(1, 100), blob(2, 4 << 20), blob(3, 100), blob(4, 100)]
        .into_iter()
        .map(|b| {
            let store = store.clone();
            rt.spawn(async move { b.save(&store).await })
        })
        .collect();
    // All four wait behind the leader: they are committed as one batch.
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.pending_writes() < 4 {
        assert!(Instant::now() < deadline, "the writes were never queued");
        std::thread::yield_now();
    }
    go_tx.send(()).unwrap();
    assert!(leader.join().unwrap().is_ok());
    let results: Vec<_> = writes
        .into_iter()
        .map(|w| rt.block_on(w).unwrap())
        .collect();
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        matches!(results[1], Err(Error::StoreFull { .. })),
        "the big write must be the one told the store is full: {:?}",
        results[1]
    );
    assert!(results[2].is_ok() && results[3].is_ok(), "{results:?}");
    for id in [1, 3, 4] {
        assert_eq!(
            Blob::load(&store, id)
                .blocking()
                .unwrap()
                .map(|b| b.data.len()),
            Some(100)
        );
    }
    assert_eq!(Blob::load(&store, 2).blocking().unwrap(), None);
    assert_no_store_thread_panic();
}

#[persisted(key = "temp/{id}", ttl = "1m")]
#[derive(Debug, Clone, PartialEq)]
struct Temp {
    id: u32,
}

/// Issue 11, item 7: a sweep was one transaction over every expired record,
/// holding the write lock of every process to the end. Each chunk of 1,000
/// is its own transaction now: a write made after the first chunk landed
/// commits while most of the sweep is still to come.
#[test]
fn a_sweep_lets_other_writes_through_between_chunks() {
    store_thread_panics();
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let store = Store::builder()
        .clock(clock.clone())
        .durability(Durability::NoSync)
        .sweep_interval(None)
        .open_at(dir.path())
        .unwrap();
    const EXPIRED: u32 = 40_000;
    for id in 0..EXPIRED {
        Temp { id }.save(&store).blocking().unwrap();
    }
    clock.advance(Duration::from_secs(120));
    assert_eq!(store.expired_pending().unwrap(), EXPIRED as usize);

    let sweeper = {
        let store = store.clone();
        std::thread::spawn(move || store.sweep_expired().blocking())
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.expired_pending().unwrap() == EXPIRED as usize {
        assert!(
            Instant::now() < deadline,
            "the sweep never committed a chunk"
        );
        std::thread::yield_now();
    }
    counter("during-sweep", 1).save(&store).blocking().unwrap();
    let left = store.expired_pending().unwrap();
    assert!(
        left > 0,
        "the write waited for the whole sweep: it must get through between two chunks"
    );
    assert_eq!(sweeper.join().unwrap().unwrap(), EXPIRED as usize);
    assert_eq!(store.expired_pending().unwrap(), 0);
    assert_no_store_thread_panic();
}

/// Issue 11, item 6: a second open of an open store used to ignore its
/// builder's settings silently. Explicit settings must match.
#[test]
fn a_second_open_with_other_settings_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::builder()
        .durability(Durability::NoMetaSync)
        .sweep_interval(None)
        .write_timeout(Duration::from_secs(3))
        .open_at(dir.path())
        .unwrap();
    // Unspecified settings, or the same ones: the same store.
    let same = Store::builder()
        .durability(Durability::NoMetaSync)
        .sweep_interval(None)
        .map_size(1 << 30)
        .open_at(dir.path())
        .unwrap();
    assert_eq!(same.durability(), Durability::NoMetaSync);
    assert!(Store::open_at(dir.path()).is_ok());
    for (setting, builder) in [
        ("durability", Store::builder().durability(Durability::Full)),
        ("clock", Store::builder().clock(ManualClock::new())),
        (
            "sweep_interval",
            Store::builder().sweep_interval(Some(Duration::from_secs(1))),
        ),
        ("max_map_size", Store::builder().max_map_size(1 << 30)),
        (
            "write_timeout",
            Store::builder().write_timeout(Duration::from_secs(1)),
        ),
        ("max_readers", Store::builder().max_readers(16)),
    ] {
        let err = builder.open_at(dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, Error::Open { .. }) && text.contains(setting),
            "{setting}: {text}"
        );
    }
    drop((first, same));
}

/// Issue 11, item 5: `update` kept nothing of a record's own expiry policy:
/// a record saved to never expire got the type's TTL back.
#[test]
fn an_update_keeps_the_expiry_policy_of_the_record() {
    let (_dir, store, clock) = common::disk_store();
    let t0 = std::time::UNIX_EPOCH + Duration::from_millis(clock.now_ms());
    // Never expires, although the type's TTL is one minute.
    Temp { id: 1 }
        .save(&store)
        .ttl(Ttl::Never)
        .blocking()
        .unwrap();
    Temp::update(&store, 1, |_| {}).blocking().unwrap();
    let meta = Temp::load_with_meta(&store, 1)
        .blocking()
        .unwrap()
        .unwrap()
        .meta;
    assert_eq!(
        meta.expires_at, None,
        "an update gave a Never record the type's TTL"
    );
    // Its own TTL, re-armed from each write like the type's.
    Temp { id: 2 }
        .save(&store)
        .ttl(Ttl::After(Duration::from_secs(3600)))
        .blocking()
        .unwrap();
    clock.advance(Duration::from_secs(600));
    Temp::update(&store, 2, |_| {}).blocking().unwrap();
    let meta = Temp::load_with_meta(&store, 2)
        .blocking()
        .unwrap()
        .unwrap()
        .meta;
    assert_eq!(
        meta.expires_at,
        Some(t0 + Duration::from_secs(600 + 3600)),
        "an update must re-arm the record's own TTL"
    );
    // The type's TTL, re-armed by each write (as before).
    Temp { id: 3 }.save(&store).blocking().unwrap();
    clock.advance(Duration::from_secs(30));
    Temp::update(&store, 3, |_| {}).blocking().unwrap();
    let meta = Temp::load_with_meta(&store, 3)
        .blocking()
        .unwrap()
        .unwrap()
        .meta;
    assert_eq!(
        meta.expires_at,
        Some(t0 + Duration::from_secs(600 + 30 + 60))
    );
    // A later save chooses the policy again.
    Temp { id: 1 }.save(&store).blocking().unwrap();
    Temp::update(&store, 1, |_| {}).blocking().unwrap();
    let meta = Temp::load_with_meta(&store, 1)
        .blocking()
        .unwrap()
        .unwrap()
        .meta;
    assert_eq!(meta.expires_at, Some(t0 + Duration::from_secs(630 + 60)));
}

/// Issue 11, item 11: what every update accessor now documents, shown: the
/// closure runs again when the write is retried after the map grew, each
/// time on the stored value (never on its own earlier result).
#[test]
fn an_update_closure_may_run_again_on_the_same_stored_value() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .map_size(64 * 1024)
        .sweep_interval(None)
        .open_at(dir.path())
        .unwrap();
    Blob {
        id: 9,
        data: "a".into(),
    }
    .save(&store)
    .blocking()
    .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let updated = Blob::update(&store, 9, move |b| {
        counted.fetch_add(1, Ordering::SeqCst);
        b.data.push_str(&"y".repeat(1 << 20));
    })
    .blocking()
    .unwrap()
    .unwrap();
    assert!(
        runs.load(Ordering::SeqCst) >= 2,
        "the map had to grow: a retry"
    );
    assert_eq!(
        updated.data.len(),
        1 + (1 << 20),
        "each run starts from the stored value"
    );
    assert_eq!(Blob::load(&store, 9).blocking().unwrap(), Some(updated));
}

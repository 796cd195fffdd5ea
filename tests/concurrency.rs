//! No lost updates: atomic read-modify-write from many threads and tasks.

mod common;

use common::{Counter, disk_store};
use mcp_persist::{Durability, Error, Store};

fn counter(name: &str) -> Counter {
    Counter {
        name: name.into(),
        n: 0,
    }
}

/// Blocking callers lead batches on their own threads while async tasks are
/// served by the writer thread (durable store) or lead themselves (no fsync):
/// every increment lands once, under both.
#[test]
fn blocking_threads_and_async_tasks_share_the_write_path() {
    for durability in [Durability::Full, Durability::NoSync] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::builder()
            .durability(durability)
            .sweep_interval(None)
            .open_at(dir.path())
            .unwrap();
        counter("c").save(&store).blocking().unwrap();
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        Counter::update(&store, "c", |c| c.n += 1)
                            .blocking()
                            .unwrap();
                    }
                })
            })
            .collect();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        for _ in 0..50 {
                            Counter::update(&store, "c", |c| c.n += 1).await.unwrap();
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        for t in threads {
            t.join().unwrap();
        }
        let n = Counter::load(&store, "c").blocking().unwrap().unwrap().n;
        assert_eq!(n, 3 * 200 + 8 * 50, "{durability}");
    }
}

/// A read inside an update closure (its thread holds the store's resize gate
/// for the batch) takes the gate again without waiting.
#[test]
fn a_read_inside_an_update_works() {
    for store in [disk_store().1, Store::memory().unwrap()] {
        counter("outer").save(&store).blocking().unwrap();
        Counter {
            n: 7,
            ..counter("other")
        }
        .save(&store)
        .blocking()
        .unwrap();
        let inner = store.clone();
        let seen = Counter::update(&store, "outer", move |c| {
            let other = Counter::load(&inner, "other").blocking().unwrap().unwrap();
            let outer = Counter::load(&inner, "outer").blocking().unwrap().unwrap();
            c.n = other.n * 10 + outer.n;
        })
        .blocking()
        .unwrap()
        .unwrap();
        assert_eq!(seen.n, 70);
        assert_eq!(
            Counter::load(&store, "outer")
                .blocking()
                .unwrap()
                .unwrap()
                .n,
            70
        );
    }
}

/// A write started inside an update closure would wait for itself: it is an
/// error, and the update it was in changes nothing.
#[test]
fn a_write_inside_an_update_is_an_error_not_a_deadlock() {
    for store in [disk_store().1, Store::memory().unwrap()] {
        counter("outer").save(&store).blocking().unwrap();
        let inner = store.clone();
        let err = Counter::update(&store, "outer", move |c| {
            c.n = 99;
            let nested = counter("inner").save(&inner).blocking();
            assert!(matches!(nested, Err(Error::WriteInsideWrite)), "{nested:?}");
            // Propagate it the only way a closure can: by failing the update.
            panic!("{}", nested.unwrap_err());
        })
        .blocking()
        .unwrap_err();
        assert!(
            err.to_string().contains("inside an update closure"),
            "{err}"
        );
        assert_eq!(
            Counter::load(&store, "outer")
                .blocking()
                .unwrap()
                .unwrap()
                .n,
            0
        );
        assert_eq!(Counter::load(&store, "inner").blocking().unwrap(), None);
        // The store still writes afterwards.
        Counter::update(&store, "outer", |c| c.n += 1)
            .blocking()
            .unwrap();
        assert_eq!(
            Counter::load(&store, "outer")
                .blocking()
                .unwrap()
                .unwrap()
                .n,
            1
        );
    }
}

/// The rule for reads inside an update closure: they see the last committed
/// state of the store, not the writes that ran before in the same batch (one
/// write transaction commits a batch; a read opens its own transaction).
/// Here a save of `a` and an update of `b` that reads `a` are queued behind
/// a held write, so they run as one batch, the save first: the update reads
/// the `a` committed before the batch.
#[test]
fn a_read_inside_an_update_sees_the_last_commit_not_its_own_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .durability(Durability::Full)
        .sweep_interval(None)
        .open_at(dir.path())
        .unwrap();
    for name in ["a", "b", "gate"] {
        counter(name).save(&store).blocking().unwrap();
    }
    // A write that holds the writer until told to go.
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (go_tx, go) = std::sync::mpsc::channel::<()>();
    let leader = {
        let store = store.clone();
        std::thread::spawn(move || {
            Counter::update(&store, "gate", move |c| {
                let _ = entered_tx.send(());
                let _ = go.recv_timeout(std::time::Duration::from_secs(10));
                c.n += 1;
            })
            .blocking()
        })
    };
    entered.recv().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let wait_for_queue = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.pending_writes() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "the writes were never queued"
            );
            std::thread::yield_now();
        }
    };
    let save = {
        let store = store.clone();
        rt.spawn(async move {
            Counter {
                n: 5,
                ..counter("a")
            }
            .save(&store)
            .await
        })
    };
    wait_for_queue(1);
    let update = {
        let store = store.clone();
        let reader = store.clone();
        rt.spawn(async move {
            Counter::update(&store, "b", move |b| {
                b.n = Counter::load(&reader, "a").blocking().unwrap().unwrap().n;
            })
            .await
        })
    };
    wait_for_queue(2);
    go_tx.send(()).unwrap();
    assert!(leader.join().unwrap().is_ok());
    rt.block_on(save).unwrap().unwrap();
    let b = rt.block_on(update).unwrap().unwrap().unwrap();
    assert_eq!(b.n, 0, "the update read `a` as committed before its batch");
    assert_eq!(Counter::load(&store, "a").blocking().unwrap().unwrap().n, 5);
    assert_eq!(Counter::load(&store, "b").blocking().unwrap().unwrap().n, 0);
    // In a batch of its own, the same update reads the committed save.
    let reader = store.clone();
    let b = Counter::update(&store, "b", move |b| {
        b.n = Counter::load(&reader, "a").blocking().unwrap().unwrap().n;
    })
    .blocking()
    .unwrap()
    .unwrap();
    assert_eq!(b.n, 5);
}

on_each_backend! {
    #[test]
    fn two_threads_of_1000_updates_end_at_2000() {
        let (_dir, store, _clock) = disk_store();
        counter("c").save(&store).blocking().unwrap();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        Counter::update(&store, "c", |c| c.n += 1)
                            .blocking()
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(
            Counter::load(&store, "c").blocking().unwrap().unwrap().n,
            2000
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sixteen_tasks_mixing_reads_and_writes() {
        let (_dir, store, _clock) = disk_store();
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..100 {
                        Counter::update_or_insert(&store, &counter("shared"), |c| c.n += 1)
                            .await
                            .unwrap();
                        let own = format!("own-{t}");
                        Counter {
                            name: own.clone(),
                            n: i,
                        }
                        .save(&store)
                        .await
                        .unwrap();
                        assert_eq!(
                            Counter::load(&store, &own).blocking().unwrap().unwrap().n,
                            i
                        );
                        let _ = Counter::list(&store).blocking().unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            Counter::load(&store, "shared")
                .blocking()
                .unwrap()
                .unwrap()
                .n,
            1600
        );
        assert_eq!(Counter::list(&store).blocking().unwrap().len(), 17);
    }
}

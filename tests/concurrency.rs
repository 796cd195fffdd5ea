//! No lost updates: atomic read-modify-write from many threads and tasks.

mod common;

use common::{Counter, disk_store};

fn counter(name: &str) -> Counter {
    Counter {
        name: name.into(),
        n: 0,
    }
}

#[test]
fn two_threads_of_1000_updates_end_at_2000() {
    let (_dir, store, _clock) = disk_store();
    counter("c").save_blocking(&store).unwrap();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    Counter::update_blocking(&store, "c", |c| c.n += 1).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(Counter::load(&store, "c").unwrap().unwrap().n, 2000);
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
                    assert_eq!(Counter::load(&store, &own).unwrap().unwrap().n, i);
                    let _ = Counter::list(&store).unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(Counter::load(&store, "shared").unwrap().unwrap().n, 1600);
    assert_eq!(Counter::list(&store).unwrap().len(), 17);
}

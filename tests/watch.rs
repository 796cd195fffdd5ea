//! The change feed (`Store::watch`), on both engines: puts, deletes and
//! expiries in commit order, by prefix, resumable, a clear lag past the
//! log's bound, nothing logged for a failed write, and changes of another
//! process.
//!
//! Children are this test binary run again with `--exact child_role` and the
//! role in an environment variable (as in `processes.rs`).

mod common;

use std::process::Command;
use std::time::Duration;

use mcp_persist::{ChangeKind, Store, Watched, Watcher, persisted};

/// A cached answer: expires after an hour.
#[persisted(key = "cache/{name}", ttl = "1h")]
#[derive(Debug, Clone, PartialEq)]
struct Cached {
    name: String,
    answer: u32,
}

/// A note that stays.
#[persisted(key = "notes/{title}")]
#[derive(Debug, Clone, PartialEq)]
struct Note {
    title: String,
    text: String,
}

fn note(title: &str) -> Note {
    Note {
        title: title.into(),
        text: format!("text of {title}"),
    }
}

/// Runs `f` on a runtime of its own (the suites below are plain tests).
fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// The next item, or a failure after 10 s (never a hang).
async fn next(watcher: &mut Watcher) -> Watched {
    tokio::time::timeout(Duration::from_secs(10), watcher.next())
        .await
        .expect("a change within 10 s")
        .expect("the log reads")
}

/// The next item as (kind, key).
async fn next_change(watcher: &mut Watcher) -> (ChangeKind, String) {
    match next(watcher).await {
        Watched::Change(c) => (c.kind, c.key),
        lag => panic!("expected a change, got {lag:?}"),
    }
}

const ROLE: &str = "MCP_PERSIST_TEST_ROLE";
const DIR: &str = "MCP_PERSIST_TEST_DIR";
const URL: &str = "MCP_PERSIST_TEST_URL";
const CHILD_WRITES: usize = 200;

/// Does nothing unless run as a child by a test below: saves
/// [`CHILD_WRITES`] notes in the store of `DIR` or `URL`.
#[test]
fn child_role() {
    if std::env::var(ROLE).as_deref() != Ok("writer") {
        return;
    }
    let builder = Store::builder().sweep_interval(None);
    let store = match (std::env::var(DIR), std::env::var(URL)) {
        (Ok(dir), _) => builder.open_at(dir).unwrap(),
        (_, Ok(url)) => builder.connect(&url, "tests").unwrap(),
        _ => panic!("no store for the child"),
    };
    for i in 0..CHILD_WRITES {
        note(&format!("c{i:03}")).save(&store).blocking().unwrap();
    }
}

mod backends {
    use super::*;

    on_each_backend! {
        #[test]
        fn puts_deletes_and_expiries_arrive_in_order_under_the_prefix() {
            let (_keep, store, clock) = disk_store();
            run(async {
                note("before").save(&store).await.unwrap();
                let mut all = store.watch("").unwrap();
                let mut notes = store.watch("note:").unwrap();
                assert!(notes.try_next().unwrap().is_none(), "nothing from before");
                note("a").save(&store).await.unwrap();
                Cached { name: "q".into(), answer: 42 }.save(&store).await.unwrap();
                assert!(Note::delete(&store, "a").await.unwrap());
                clock.advance(Duration::from_secs(7200));
                assert_eq!(store.sweep_expired().await.unwrap(), 1);

                assert_eq!(next_change(&mut notes).await, (ChangeKind::Put, "note:notes/a".into()));
                assert_eq!(next_change(&mut notes).await, (ChangeKind::Delete, "note:notes/a".into()));
                assert!(notes.try_next().unwrap().is_none(), "the cache is not a note");

                let mut seen = Vec::new();
                for _ in 0..4 {
                    match next(&mut all).await {
                        Watched::Change(c) => seen.push((c.seq, c.kind, c.key, c.meta)),
                        lag => panic!("{lag:?}"),
                    }
                }
                let kinds: Vec<_> = seen.iter().map(|(_, k, key, _)| (*k, key.as_str())).collect();
                assert_eq!(
                    kinds,
                    [
                        (ChangeKind::Put, "note:notes/a"),
                        (ChangeKind::Put, "cached:cache/q"),
                        (ChangeKind::Delete, "note:notes/a"),
                        (ChangeKind::Expire, "cached:cache/q"),
                    ]
                );
                assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "increasing seq");
                // A put carries the record's metadata, its expiry included.
                assert!(seen[1].3.as_ref().expect("a put has meta").expires_at.is_some());
                assert!(seen[2].3.is_none());

                // Resuming after a position gives what followed it, and only that.
                let mut resumed = store.watch_from("", seen[1].0).unwrap();
                assert_eq!(next_change(&mut resumed).await, (ChangeKind::Delete, "note:notes/a".into()));
                assert_eq!(resumed.position(), seen[2].0);
            });
        }

        #[test]
        fn a_watcher_waits_for_the_next_commit_and_a_failed_write_logs_nothing() {
            let (_keep, store, _clock) = disk_store();
            run(async {
                note("a").save(&store).await.unwrap();
                let mut watcher = store.watch("").unwrap();
                // A job that fails changes nothing, so tells nothing.
                let failed = Note::update(&store, "a", |_| panic!("refused")).await;
                assert!(failed.is_err());
                assert!(watcher.try_next().unwrap().is_none());
                // The watcher waits; a write from another task wakes it.
                let writer = store.clone();
                let waiting = tokio::spawn(async move { next_change(&mut watcher).await });
                tokio::task::yield_now().await;
                note("b").save(&writer).await.unwrap();
                assert_eq!(waiting.await.unwrap(), (ChangeKind::Put, "note:notes/b".into()));
            });
        }

        #[test]
        fn a_watcher_behind_the_log_bound_is_told_it_lagged() {
            let (keep, store, _clock) = disk_store();
            drop(store);
            let store = keep.open(Store::builder().sweep_interval(None).change_log(100));
            run(async {
                let mut slow = store.watch("").unwrap();
                for i in 0..500 {
                    note(&format!("n{i:03}")).save(&store).await.unwrap();
                }
                let Watched::Lagged { resume_at, missed } = next(&mut slow).await else {
                    panic!("expected a lag");
                };
                // Redis trims whole nodes of entries (`MAXLEN ~`): it keeps more.
                assert!((300..500).contains(&missed), "{resume_at} {missed}");
                // Then every change from there on, in order, to the last one,
                // the first of them at `resume_at`.
                let mut got = Vec::new();
                while let Some(item) = slow.try_next().unwrap() {
                    match item {
                        Watched::Change(c) => got.push((c.seq, c.key)),
                        lag => panic!("a second lag: {lag:?}"),
                    }
                }
                assert_eq!(got.len() as u64, 500 - missed);
                assert_eq!(got[0].0, resume_at);
                assert_eq!(got.last().map(|(_, k)| k.as_str()), Some("note:notes/n499"));
                assert_eq!(slow.position(), got.last().map_or(0, |(s, _)| *s));
            });
        }

        #[test]
        fn a_put_says_whether_it_created_the_record() {
            let (_keep, store, _clock) = disk_store();
            run(async {
                let mut watcher = store.watch("note:").unwrap();
                note("a").save(&store).await.unwrap();
                note("a").save(&store).await.unwrap();
                assert!(Note::delete(&store, "a").await.unwrap());
                note("a").save(&store).await.unwrap();
                let mut created = Vec::new();
                for _ in 0..4 {
                    match next(&mut watcher).await {
                        Watched::Change(c) => created.push((c.kind, c.created)),
                        lag => panic!("{lag:?}"),
                    }
                }
                assert_eq!(
                    created,
                    [
                        (ChangeKind::Put, true),
                        (ChangeKind::Put, false),
                        (ChangeKind::Delete, false),
                        (ChangeKind::Put, true),
                    ]
                );
            });
        }

        #[test]
        fn a_narrow_watch_finds_its_change_behind_many_others() {
            let (_keep, store, _clock) = disk_store();
            run(async {
                let mut narrow = store.watch("cached:").unwrap();
                for i in 0..600 {
                    note(&format!("n{i:03}")).save(&store).await.unwrap();
                }
                Cached { name: "q".into(), answer: 1 }.save(&store).await.unwrap();
                // Committed, so there without waiting, past 600 other entries.
                let Some(Watched::Change(change)) = narrow.try_next().unwrap() else {
                    panic!("the change is committed");
                };
                assert_eq!(change.key, "cached:cache/q");
            });
        }

        #[test]
        fn changes_of_another_process_reach_a_watcher_in_order() {
            let (keep, store, _clock) = disk_store();
            run(async {
                let mut watcher = store.watch("note:").unwrap();
                let mut child = Command::new(std::env::current_exe().unwrap());
                child
                    .args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
                    .env(ROLE, "writer");
                match &keep {
                    common::Keep::Dir(dir) => child.env(DIR, dir.path()),
                    common::Keep::Redis(server) => child.env(URL, server.url()),
                };
                let mut child = child.spawn().unwrap();
                for i in 0..CHILD_WRITES {
                    assert_eq!(
                        next_change(&mut watcher).await,
                        (ChangeKind::Put, format!("note:notes/c{i:03}"))
                    );
                }
                assert!(child.wait().unwrap().success());
                assert!(watcher.try_next().unwrap().is_none());
            });
        }
    }
}

/// One user's progress.
#[persisted(key = "progress/{book}", scope = "user")]
#[derive(Debug, Clone, PartialEq)]
struct Progress {
    book: String,
    page: u32,
}

/// `T::watch` sees the type's records only, and for a per-user type the
/// records of the scope it was given only.
#[tokio::test(flavor = "current_thread")]
async fn a_typed_watch_sees_its_type_and_its_scope_only() {
    let (_dir, store, _clock) = common::disk_store();
    let (alice, bob) = (
        store.scoped(&mcp_persist::Scope::new("alice").unwrap()),
        store.scoped(&mcp_persist::Scope::new("alice2").unwrap()),
    );
    let mut notes = Note::watch(&store).unwrap();
    let mut alices = Progress::watch(&alice).unwrap();
    let book = |page| Progress {
        book: "dune".into(),
        page,
    };
    book(1).save(&bob).await.unwrap();
    book(2).save(&alice).await.unwrap();
    note("n").save(&store).await.unwrap();
    assert_eq!(
        next_change(&mut alices).await,
        (ChangeKind::Put, "@alice/progress:progress/dune".into())
    );
    assert_eq!(
        next_change(&mut notes).await,
        (ChangeKind::Put, "note:notes/n".into())
    );
    assert!(alices.try_next().unwrap().is_none(), "nothing of alice2's");
    assert!(notes.try_next().unwrap().is_none());
}

/// The watcher as a `Stream`.
#[tokio::test(flavor = "current_thread")]
async fn a_watcher_is_a_stream() {
    use futures_util::StreamExt;
    let (_dir, store, _clock) = common::disk_store();
    let stream = Note::watch(&store).unwrap().into_stream();
    note("x").save(&store).await.unwrap();
    note("y").save(&store).await.unwrap();
    let keys: Vec<String> = stream
        .take(2)
        .map(|item| match item.unwrap() {
            Watched::Change(c) => c.key,
            lag => panic!("{lag:?}"),
        })
        .collect()
        .await;
    assert_eq!(keys, ["note:notes/x", "note:notes/y"]);
}

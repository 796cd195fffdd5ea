//! The change feed (`Store::watch`): puts, deletes and expiries in commit
//! order, by prefix, resumable, a clear lag past the log's bound, nothing
//! logged for a failed write, and changes of another process.
//!
//! Children are this test binary run again with `--exact child_role` and the
//! role in an environment variable (as in `processes.rs`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mcp_persist::{ChangeKind, ManualClock, Store, Watched, Watcher, persisted};

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

#[tokio::test(flavor = "current_thread")]
async fn puts_deletes_and_expiries_arrive_in_order_under_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let store = Store::builder()
        .sweep_interval(None)
        .clock(clock.clone())
        .open_at(dir.path())
        .unwrap();
    note("before").save(&store).await.unwrap();
    let mut all = store.watch("").unwrap();
    let mut notes = store.watch("note:").unwrap();
    assert!(notes.try_next().unwrap().is_none(), "nothing from before");
    note("a").save(&store).await.unwrap();
    Cached {
        name: "q".into(),
        answer: 42,
    }
    .save(&store)
    .await
    .unwrap();
    assert!(Note::delete(&store, "a").await.unwrap());
    clock.advance(Duration::from_secs(7200));
    assert_eq!(store.sweep_expired().await.unwrap(), 1);

    assert_eq!(
        next_change(&mut notes).await,
        (ChangeKind::Put, "note:notes/a".into())
    );
    assert_eq!(
        next_change(&mut notes).await,
        (ChangeKind::Delete, "note:notes/a".into())
    );
    assert!(
        notes.try_next().unwrap().is_none(),
        "the cache is not a note"
    );

    let mut seen = Vec::new();
    for _ in 0..4 {
        match next(&mut all).await {
            Watched::Change(c) => seen.push((c.seq, c.kind, c.key, c.meta)),
            lag => panic!("{lag:?}"),
        }
    }
    let kinds: Vec<_> = seen
        .iter()
        .map(|(_, k, key, _)| (*k, key.as_str()))
        .collect();
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
    // A put carries the record's metadata; its expiry is the one stored.
    let put_meta = seen[1].3.as_ref().expect("a put has meta");
    assert!(put_meta.expires_at.is_some());
    assert!(seen[2].3.is_none());

    // Resuming after a position gives what followed it, and only that.
    let mut resumed = store.watch_from("", seen[1].0).unwrap();
    assert_eq!(
        next_change(&mut resumed).await,
        (ChangeKind::Delete, "note:notes/a".into())
    );
    assert_eq!(resumed.position(), seen[2].0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_watcher_waits_for_the_next_commit_and_a_failed_write_logs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .sweep_interval(None)
        .open_at(dir.path())
        .unwrap();
    note("a").save(&store).await.unwrap();
    let mut watcher = store.watch("").unwrap();
    // A failed update changes nothing, so tells nothing.
    let failed = Note::update(&store, "missing", |n| n.text.clear()).await;
    assert!(failed.is_err() || failed.as_ref().is_ok_and(Option::is_none));
    assert!(watcher.try_next().unwrap().is_none());
    // The watcher waits; a write from another task wakes it.
    let writer = store.clone();
    let waiting = tokio::spawn(async move { next_change(&mut watcher).await });
    tokio::task::yield_now().await;
    note("b").save(&writer).await.unwrap();
    assert_eq!(
        waiting.await.unwrap(),
        (ChangeKind::Put, "note:notes/b".into())
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_watcher_behind_the_log_bound_is_told_it_lagged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .sweep_interval(None)
        .change_log(100)
        .open_at(dir.path())
        .unwrap();
    let mut slow = store.watch("").unwrap();
    for i in 0..500 {
        note(&format!("n{i:03}")).save(&store).await.unwrap();
    }
    let Watched::Lagged { resume_at, missed } = next(&mut slow).await else {
        panic!("expected a lag");
    };
    assert!(
        missed >= 300 && resume_at == missed + 1,
        "{resume_at} {missed}"
    );
    // Then every change from there on, in order, to the last one.
    let mut last = None;
    while let Some(item) = slow.try_next().unwrap() {
        match item {
            Watched::Change(c) => last = Some(c.key),
            lag => panic!("a second lag: {lag:?}"),
        }
    }
    assert_eq!(last.as_deref(), Some("note:notes/n499"));
    assert_eq!(slow.position(), 500);
}

const ROLE: &str = "MCP_PERSIST_TEST_ROLE";
const DIR: &str = "MCP_PERSIST_TEST_DIR";
const CHILD_WRITES: usize = 200;

/// Does nothing unless run as a child by a test below.
#[test]
fn child_role() {
    let (Ok(role), Ok(dir)) = (std::env::var(ROLE), std::env::var(DIR)) else {
        return;
    };
    assert_eq!(role, "writer");
    let store = Store::builder()
        .sweep_interval(None)
        .open_at(Path::new(&dir))
        .unwrap();
    for i in 0..CHILD_WRITES {
        note(&format!("c{i:03}")).save(&store).blocking().unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn changes_of_another_process_reach_a_watcher_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .sweep_interval(None)
        .open_at(dir.path())
        .unwrap();
    let mut watcher = store.watch("note:").unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
        .env(ROLE, "writer")
        .env(DIR, dir.path())
        .spawn()
        .unwrap();
    for i in 0..CHILD_WRITES {
        assert_eq!(
            next_change(&mut watcher).await,
            (ChangeKind::Put, format!("note:notes/c{i:03}"))
        );
    }
    assert!(child.wait().unwrap().success());
    assert!(watcher.try_next().unwrap().is_none());
}

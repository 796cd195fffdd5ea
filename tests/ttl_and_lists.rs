//! Expiry (with a manual clock: no sleeps), the background purge, and bounded lists.

mod common;

use std::time::Duration;

use common::{LibraryStats, Progress, Search, progress};
use mcp_persist::Ttl;

fn stats(library: &str, books: u64) -> LibraryStats {
    LibraryStats {
        library: library.into(),
        books,
    }
}

#[test]
fn background_sweeper_purges_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    let clock = mcp_persist::ManualClock::new();
    let store = mcp_persist::Store::builder()
        .clock(clock.clone())
        .sweep_interval(Some(Duration::from_millis(20)))
        .open_at(dir.path())
        .unwrap();
    stats("x", 1).save(&store).blocking().unwrap();
    clock.advance(Duration::from_secs(7200));
    // The record is invisible at once; the sweeper reclaims it on its own schedule.
    assert!(
        LibraryStats::load(&store, "x")
            .blocking()
            .unwrap()
            .is_none()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.expired_pending().unwrap() != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper never ran"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn search(q: &str) -> Search {
    Search { query: q.into() }
}

on_each_backend! {
    #[test]
    fn records_expire_after_their_ttl() {
        let (_dir, store, clock) = disk_store();
        stats("main", 10).save(&store).blocking().unwrap();
        let meta = LibraryStats::load_with_meta(&store, "main")
            .blocking()
            .unwrap()
            .unwrap()
            .meta;
        assert_eq!(
            meta.expires_at
                .unwrap()
                .duration_since(meta.updated_at)
                .unwrap(),
            Duration::from_secs(3600)
        );

        clock.advance(Duration::from_secs(3599));
        assert!(
            LibraryStats::load(&store, "main")
                .blocking()
                .unwrap()
                .is_some()
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(LibraryStats::load(&store, "main").blocking().unwrap(), None);
        assert!(!LibraryStats::exists(&store, "main").blocking().unwrap());
        assert!(LibraryStats::list(&store).blocking().unwrap().is_empty());
        // An expired record is absent for updates too: nothing is written.
        assert_eq!(
            LibraryStats::update(&store, "main", |s| s.books += 1)
                .blocking()
                .unwrap(),
            None
        );
    }

    #[test]
    fn each_write_restarts_the_ttl() {
        let (_dir, store, clock) = disk_store();
        stats("main", 1).save(&store).blocking().unwrap();
        clock.advance(Duration::from_secs(3000));
        LibraryStats::update(&store, "main", |s| s.books = 2)
            .blocking()
            .unwrap();
        clock.advance(Duration::from_secs(3000));
        assert_eq!(
            LibraryStats::load(&store, "main")
                .blocking()
                .unwrap()
                .unwrap()
                .books,
            2
        );
    }

    #[test]
    fn a_write_can_override_the_ttl() {
        let (_dir, store, clock) = disk_store();
        stats("forever", 1)
            .save(&store)
            .ttl(Ttl::Never)
            .blocking()
            .unwrap();
        stats("short", 1)
            .save(&store)
            .ttl(Ttl::After(Duration::from_secs(10)))
            .blocking()
            .unwrap();
        progress("p", 1)
            .save(&store)
            .ttl(Ttl::After(Duration::from_secs(10)))
            .blocking()
            .unwrap();
        clock.advance(Duration::from_secs(11));
        assert!(
            LibraryStats::load(&store, "forever")
                .blocking()
                .unwrap()
                .is_some()
        );
        assert!(
            LibraryStats::load(&store, "short")
                .blocking()
                .unwrap()
                .is_none()
        );
        assert!(Progress::load(&store, "p").blocking().unwrap().is_none());
        clock.advance(Duration::from_secs(86_400 * 365));
        assert!(
            LibraryStats::load(&store, "forever")
                .blocking()
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn sweep_purges_exactly_the_expired_records() {
        let (_dir, store, clock) = disk_store();
        for i in 0..100 {
            stats(&format!("lib{i}"), i)
                .save(&store)
                .blocking()
                .unwrap();
        }
        clock.advance(Duration::from_secs(1800));
        for i in 0..10 {
            // Rewritten: expires 30 minutes later than the others.
            stats(&format!("lib{i}"), i)
                .save(&store)
                .blocking()
                .unwrap();
        }
        progress("kept", 1).save(&store).blocking().unwrap();
        assert_eq!(store.sweep_expired().blocking().unwrap(), 0);

        clock.advance(Duration::from_secs(1800));
        assert_eq!(store.expired_pending().unwrap(), 90);
        assert_eq!(store.sweep_expired().blocking().unwrap(), 90);
        assert_eq!(store.expired_pending().unwrap(), 0);
        assert_eq!(store.sweep_expired().blocking().unwrap(), 0);
        assert_eq!(LibraryStats::list(&store).blocking().unwrap().len(), 10);

        clock.advance(Duration::from_secs(1800));
        assert_eq!(store.sweep_expired().blocking().unwrap(), 10);
        assert!(Progress::load(&store, "kept").blocking().unwrap().is_some());
    }

    /// The same sweep, awaited: it purges what expired and counts it.
    #[tokio::test]
    async fn an_awaited_sweep_purges_expired_records() {
        let (_dir, store, clock) = disk_store();
        for i in 0..1_500 {
            stats(&format!("lib{i}"), i).save(&store).await.unwrap();
        }
        progress("kept", 1).save(&store).await.unwrap();
        let sweep = store.sweep_expired();
        clock.advance(Duration::from_secs(7200));
        // Built before the records expired, run after: it runs when awaited.
        assert_eq!(sweep.await.unwrap(), 1_500);
        assert_eq!(store.expired_pending().unwrap(), 0);
        assert_eq!(store.sweep_expired().await.unwrap(), 0);
        assert!(Progress::load(&store, "kept").await.unwrap().is_some());
    }

    #[test]
    fn saving_without_ttl_removes_the_old_expiry() {
        let (_dir, store, clock) = disk_store();
        stats("x", 1).save(&store).blocking().unwrap();
        stats("x", 2)
            .save(&store)
            .ttl(Ttl::Never)
            .blocking()
            .unwrap();
        clock.advance(Duration::from_secs(7200));
        assert_eq!(store.sweep_expired().blocking().unwrap(), 0);
        assert_eq!(
            LibraryStats::load(&store, "x")
                .blocking()
                .unwrap()
                .unwrap()
                .books,
            2
        );
    }

    #[test]
    fn lists_are_newest_first_and_bounded() {
        let (_dir, store, _clock) = disk_store();
        assert!(Search::recent(&store, 10).blocking().unwrap().is_empty());
        for i in 0..8 {
            search(&format!("q{i}")).push(&store).blocking().unwrap();
        }
        let queries: Vec<String> = Search::recent(&store, 10)
            .blocking()
            .unwrap()
            .into_iter()
            .map(|s| s.query)
            .collect();
        assert_eq!(queries, ["q7", "q6", "q5", "q4", "q3"]);
        assert_eq!(Search::recent(&store, 2).blocking().unwrap().len(), 2);
        assert_eq!(Search::clear(&store).blocking().unwrap(), 5);
        assert!(Search::recent(&store, 10).blocking().unwrap().is_empty());
        // Sequence numbers keep growing after a clear: order stays right.
        search("after").push(&store).blocking().unwrap();
        search("later").push(&store).blocking().unwrap();
        let queries: Vec<String> = Search::recent(&store, 10)
            .blocking()
            .unwrap()
            .into_iter()
            .map(|s| s.query)
            .collect();
        assert_eq!(queries, ["later", "after"]);
    }

    #[tokio::test]
    async fn concurrent_pushes_keep_the_bound() {
        let (_dir, store, _clock) = disk_store();
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { search(&format!("q{i}")).push(&store).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(Search::recent(&store, 100).blocking().unwrap().len(), 5);
    }
}

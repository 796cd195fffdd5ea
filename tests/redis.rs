//! What only a store on a Redis server does: survive a crash of the server
//! with every acknowledged write, fail clearly and in bounded time when the
//! server is down or stopped, reconnect when it is back, expire natively,
//! keep applications apart. (Everything both engines do is in the
//! behaviour suites, run on both by `on_each_backend!`.)

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use common::redis_server::RedisServer;
use common::{LibraryStats, Progress, progress, redis_store};
use mcp_persist::{Error, ListOptions, Store};

/// A store on `server` with a short network timeout.
fn connect(server: &RedisServer, timeout: Duration) -> Store {
    Store::builder()
        .sweep_interval(None)
        .network_timeout(timeout)
        .connect(&server.url(), "tests")
        .expect("connect")
}

fn signal(server: &RedisServer, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn every_acknowledged_write_survives_a_sigkill_of_the_server() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let mut next = 0u32;
    for round in 0..4 {
        let store = connect(&server, Duration::from_secs(2));
        let acked = Arc::new(AtomicI64::new(-1));
        let writer = {
            let (store, acked) = (store.clone(), Arc::clone(&acked));
            std::thread::spawn(move || {
                for i in next.. {
                    match progress(&format!("k{i:06}"), i).save(&store).blocking() {
                        Ok(()) => acked.store(i64::from(i), Ordering::SeqCst),
                        Err(err) => return err,
                    }
                }
                unreachable!()
            })
        };
        // Kill the server in the middle of writes, some way in.
        while acked.load(Ordering::SeqCst) < i64::from(next) + 50 + i64::from(round) * 37 {
            std::thread::yield_now();
        }
        server.kill();
        let err = writer.join().expect("the writer thread");
        assert!(
            matches!(err, Error::Backend { .. }),
            "round {round}: {err:?}"
        );
        let acked = u32::try_from(acked.load(Ordering::SeqCst)).expect("some writes");
        server.restart();
        // The same store handle reconnects by itself.
        for i in 0..=acked {
            let got = Progress::load(&store, format!("k{i:06}")).blocking();
            assert_eq!(
                got.expect("read after restart").map(|p| p.page),
                Some(i),
                "round {round}: acknowledged write {i} is missing"
            );
        }
        next = acked + 1;
    }
}

#[test]
fn a_server_that_is_down_is_a_clear_error_in_bounded_time_and_the_store_reconnects() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server, Duration::from_millis(500));
    progress("kept", 7).save(&store).blocking().unwrap();
    server.kill();
    let started = Instant::now();
    let read = Progress::load(&store, "kept").blocking();
    let write = progress("lost", 1).save(&store).blocking();
    let list = Progress::list(&store).blocking();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    for err in [read.err(), write.err(), list.err()] {
        let err = err.expect("an error while the server is down");
        assert!(matches!(err, Error::Backend { .. }), "{err:?}");
        assert!(err.to_string().contains(&server.url()), "{err}");
    }
    // Opening a store on a server that is down fails the same way.
    let refused = Store::builder()
        .network_timeout(Duration::from_millis(500))
        .connect(&server.url(), "tests");
    assert!(matches!(refused, Err(Error::Backend { .. })), "{refused:?}");

    server.restart();
    let page = Progress::load(&store, "kept").blocking().unwrap();
    assert_eq!(page.map(|p| p.page), Some(7));
    assert_eq!(Progress::load(&store, "lost").blocking().unwrap(), None);
    progress("after", 2).save(&store).blocking().unwrap();
}

/// Writes batched together on a server that stopped answering each fail
/// with the URL named once (the batch's error used to be wrapped again for
/// every job after the first: "redis at URL: redis at URL: ..."). While
/// the first write waits out its timeout, the others queue up and then run
/// as one batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_fail_together_name_the_server_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server, Duration::from_millis(300));
    progress("a", 1).save(&store).await.unwrap();
    signal(&server, "-STOP");
    let saves: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { progress(&format!("b{i}"), i).save(&store).await })
        })
        .collect();
    let mut failed = 0;
    for save in saves {
        let err = save.await.unwrap().expect_err("the server is down");
        let text = err.to_string();
        assert_eq!(text.matches(&server.url()).count(), 1, "{text}");
        assert_eq!(text.matches("redis at").count(), 1, "{text}");
        failed += 1;
    }
    signal(&server, "-CONT");
    assert_eq!(failed, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_times_out_instead_of_hanging() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server, Duration::from_millis(300));
    progress("a", 1).save(&store).await.unwrap();
    signal(&server, "-STOP");
    let started = Instant::now();
    let read = Progress::load(&store, "a").await;
    let write = progress("b", 2).save(&store).await;
    let waited = started.elapsed();
    signal(&server, "-CONT");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    for err in [read.err(), write.err()] {
        let err = err.expect("an error while the server is stopped");
        assert!(err.to_string().contains("network timeout"), "{err}");
    }
    // Once it runs again, so does the store.
    assert_eq!(
        Progress::load(&store, "a").await.unwrap().map(|p| p.page),
        Some(1)
    );
}

#[test]
fn records_with_a_ttl_expire_natively_and_without_one_do_not() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server, Duration::from_secs(2));
    let stats = LibraryStats {
        library: "main".into(),
        books: 3,
    };
    stats.save(&store).blocking().unwrap();
    progress("p", 1).save(&store).blocking().unwrap();
    let pttl = |key: &str| -> i64 {
        let reply = server.command(&["PTTL", &format!("mcp-persist:{{tests}}:r:{key}")]);
        reply.trim_start_matches(':').parse().unwrap()
    };
    let ttl = pttl("library_stats:stats/main");
    assert!(ttl > 3_500_000 && ttl <= 3_600_000, "{ttl}");
    assert_eq!(pttl("progress:progress/p"), -1, "no expiry without a ttl");
    // Saving without the TTL (Ttl::Never) removes the native expiry too.
    stats
        .save(&store)
        .ttl(mcp_persist::Ttl::Never)
        .blocking()
        .unwrap();
    assert_eq!(pttl("library_stats:stats/main"), -1);
}

#[test]
fn a_record_the_server_expired_is_skipped_and_swept_from_the_index() {
    let Some((keep, store, clock)) = redis_store() else {
        return;
    };
    let common::Keep::Redis(server) = &keep else {
        unreachable!()
    };
    for (library, books) in [("a", 1), ("b", 2), ("c", 3)] {
        LibraryStats {
            library: library.into(),
            books,
        }
        .save(&store)
        .blocking()
        .unwrap();
    }
    // What Redis does when a native expiry passes: the record is gone.
    assert_eq!(
        server.command(&["DEL", "mcp-persist:{tests}:r:library_stats:stats/b"]),
        ":1"
    );
    let listed: Vec<String> = LibraryStats::list(&store)
        .blocking()
        .unwrap()
        .into_iter()
        .map(|s| s.library)
        .collect();
    assert_eq!(listed, ["a", "c"]);
    let options = ListOptions {
        limit: Some(1),
        ..ListOptions::default()
    };
    let page = LibraryStats::list_page(&store, options).blocking().unwrap();
    assert_eq!(page.items.len(), 1);
    let next = ListOptions {
        cursor: page.next_cursor.clone(),
        ..ListOptions::default()
    };
    let rest = LibraryStats::list_page(&store, next).blocking().unwrap();
    assert_eq!(
        rest.items.len(),
        1,
        "the gone record is skipped by the cursor too"
    );
    clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(store.expired_pending().unwrap(), 3);
    assert_eq!(store.sweep_expired().blocking().unwrap(), 3);
    assert_eq!(server.command(&["ZCARD", "mcp-persist:{tests}:keys"]), ":0");
    assert_eq!(
        server.command(&["ZCARD", "mcp-persist:{tests}:expiry"]),
        ":0"
    );
}

#[test]
fn applications_on_one_server_are_apart() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let notes = Store::connect(&server.url(), "notes").unwrap();
    let books = Store::connect(&server.url(), "books").unwrap();
    progress("x", 1).save(&notes).blocking().unwrap();
    assert_eq!(Progress::load(&books, "x").blocking().unwrap(), None);
    assert!(Progress::list(&books).blocking().unwrap().is_empty());
    assert_eq!(
        server.command(&["EXISTS", "mcp-persist:{notes}:r:progress:progress/x"]),
        ":1"
    );
    // An app name that could break out of its hash tag is refused.
    let bad = Store::connect(&server.url(), "a}b");
    assert!(matches!(bad, Err(Error::InvalidAppName { .. })), "{bad:?}");
}

#[test]
fn a_password_never_shows_in_errors() {
    let port = common::redis_server::free_port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/0");
    let err = Store::builder()
        .network_timeout(Duration::from_millis(200))
        .connect(&url, "tests")
        .unwrap_err();
    let shown = err.to_string();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
}

#[test]
fn listings_page_through_the_index_never_the_keyspace() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server, Duration::from_secs(2));
    for i in 0..600 {
        progress(&format!("b{i:04}"), i)
            .save(&store)
            .blocking()
            .unwrap();
    }
    // Another application's keys, which a scan of the keyspace would walk.
    let other = Store::connect(&server.url(), "other").unwrap();
    for i in 0..50 {
        progress(&format!("x{i}"), i)
            .save(&other)
            .blocking()
            .unwrap();
    }
    let all = Progress::list(&store).blocking().unwrap();
    assert_eq!(all.len(), 600);
    assert!(
        all.windows(2).all(|w| w[0].book_id < w[1].book_id),
        "key order"
    );
    let mut seen = 0;
    let mut cursor = None;
    loop {
        let options = ListOptions {
            limit: Some(128),
            cursor,
            ..ListOptions::default()
        };
        let page = Progress::list_page(&store, options).blocking().unwrap();
        seen += page.items.len();
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, 600);
    assert_eq!(store.admin().raw_keys("progress:").unwrap().len(), 600);
    let stats = server.command(&["INFO", "commandstats"]);
    assert!(stats.contains("cmdstat_zrangebylex"), "{stats}");
    for walk in ["cmdstat_keys:", "cmdstat_scan:"] {
        assert!(!stats.contains(walk), "{walk} was used: {stats}");
    }
}

#[test]
fn a_password_in_the_url_opens_a_protected_server_and_a_wrong_one_is_named_not_shown() {
    let Some(server) = RedisServer::start_with(&["--requirepass", "s3cret-pass"]) else {
        return;
    };
    let port = server.port();
    let good = format!("redis://:s3cret-pass@127.0.0.1:{port}/0");
    let store = Store::connect(&good, "tests").unwrap();
    assert_eq!(
        store.url(),
        Some(server.url().as_str()),
        "no password in url()"
    );
    assert!(!format!("{store:?}").contains("s3cret"));
    progress("p", 3).save(&store).blocking().unwrap();
    assert_eq!(
        Progress::load(&store, "p")
            .blocking()
            .unwrap()
            .map(|p| p.page),
        Some(3)
    );
    for url in [
        format!("redis://:wrong-pass@127.0.0.1:{port}/0"),
        server.url(),
    ] {
        let err = Store::connect(&url, "tests").unwrap_err();
        let shown = err.to_string();
        assert!(matches!(err, Error::Backend { .. }), "{err:?}");
        assert!(
            !shown.contains("wrong-pass") && !shown.contains("s3cret"),
            "{shown}"
        );
        assert!(shown.contains(&server.url()), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_reads_shares_a_bounded_number_of_connections() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = Store::builder()
        .sweep_interval(None)
        .max_connections(3)
        .connect(&server.url(), "tests")
        .unwrap();
    progress("p", 1).save(&store).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..20 {
                    let got = Progress::load(&store, "p").await.unwrap();
                    assert_eq!(got.map(|p| p.page), Some(1));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let info = server.command(&["INFO", "clients"]);
    let connected: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("connected_clients");
    // Ours (at most 3) and the one asking.
    assert!(connected <= 4, "{connected} connections: {info}");
}

/// A watcher waiting for changes when the server goes down gets an error
/// in bounded time (never waits forever), and one made after the restart
/// sees the changes of other writers through the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_hears_of_a_server_that_is_down_in_bounded_time() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server, Duration::from_millis(500));
    let mut watcher = store.watch("").unwrap();
    progress("a", 1).save(&store).await.unwrap();
    assert!(matches!(
        watcher.next().await,
        Ok(mcp_persist::Watched::Change(_))
    ));
    server.kill();
    let started = Instant::now();
    let got = tokio::time::timeout(Duration::from_secs(10), watcher.next())
        .await
        .expect("an answer within 10 s, not a wait forever");
    let err = got.expect_err("an error while the server is down");
    assert!(matches!(err, Error::Backend { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    server.restart();
    // A writer on another store handle (another replica, as far as the
    // stream knows) wakes a watcher through the server.
    let other = connect(&server, Duration::from_millis(500));
    let mut watcher = store.watch("progress:").unwrap();
    progress("b", 2).save(&other).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), watcher.next())
        .await
        .expect("a change within 10 s")
        .unwrap();
    let mcp_persist::Watched::Change(change) = got else {
        panic!("{got:?}")
    };
    assert_eq!(change.key, "progress:progress/b");
}

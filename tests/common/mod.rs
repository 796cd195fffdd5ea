//! Shared test types and helpers.
#![allow(dead_code)]

use mcp_persist::{ManualClock, Store, persisted};

/// User preferences: a singleton.
#[persisted(key = "preferences")]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Preferences {
    pub default_limit: u32,
    pub sort_order: String,
    pub show_metadata: bool,
}

/// Reading progress for one book: keyed records.
#[persisted(key = "progress/{book_id}")]
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub book_id: String,
    pub page: u32,
    pub percent: f32,
}

/// Cached statistics: expire an hour after each write.
#[persisted(key = "stats/{library}", ttl = "1h")]
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryStats {
    pub library: String,
    pub books: u64,
}

/// Search history: newest first, at most 5.
#[persisted(key = "searches", list, max_len = 5)]
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub query: String,
}

/// A counter for concurrency tests.
#[persisted(key = "counter/{name}")]
#[derive(Debug, Clone, PartialEq)]
pub struct Counter {
    pub name: String,
    pub n: u64,
}

pub fn progress(book: &str, page: u32) -> Progress {
    Progress {
        book_id: book.into(),
        page,
        percent: page as f32 / 10.0,
    }
}

/// A store on disk in a fresh temp dir, with a manual clock.
pub fn disk_store() -> (tempfile::TempDir, Store, ManualClock) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new();
    let store = Store::builder()
        .clock(clock.clone())
        .sweep_interval(None)
        .open_at(dir.path())
        .expect("open store");
    (dir, store, clock)
}

pub mod redis_server;

/// What keeps a test's store alive: its temp dir, or its Redis server.
pub enum Keep {
    Dir(tempfile::TempDir),
    Redis(redis_server::RedisServer),
}

impl Keep {
    /// Another store on the same data, as another process would open it
    /// (on LMDB, in this process, the same store).
    pub fn open(&self, builder: mcp_persist::StoreBuilder) -> Store {
        match self {
            Keep::Dir(dir) => builder.open_at(dir.path()).expect("open store"),
            Keep::Redis(server) => builder.connect(&server.url(), "tests").expect("connect"),
        }
    }
}

/// A store on its own Redis server, with a manual clock; `None` where the
/// server is missing outside CI (see `redis_server::redis_available`).
pub fn redis_store() -> Option<(Keep, Store, ManualClock)> {
    let server = redis_server::RedisServer::start()?;
    let clock = ManualClock::new();
    let store = Store::builder()
        .clock(clock.clone())
        .sweep_interval(None)
        .connect(&server.url(), "tests")
        .expect("connect to redis");
    assert_eq!(store.url(), Some(server.url().as_str()));
    Some((Keep::Redis(server), store, clock))
}

/// The same tests on each backend, from one source: `mod lmdb` and
/// `mod redis`, in each of which `disk_store()` gives that backend's store
/// (with a manual clock, no background sweep). The Redis tests are skipped
/// with a printed reason where `redis-server` is missing outside CI.
#[macro_export]
macro_rules! on_each_backend {
    ($($tests:tt)*) => {
        mod lmdb {
            #![allow(unused_imports)]
            use super::*;
            fn disk_store() -> ($crate::common::Keep, ::mcp_persist::Store, ::mcp_persist::ManualClock) {
                let (dir, store, clock) = $crate::common::disk_store();
                ($crate::common::Keep::Dir(dir), store, clock)
            }
            fn available() -> bool {
                true
            }
            $crate::each_test! { $($tests)* }
        }
        mod redis {
            #![allow(unused_imports)]
            use super::*;
            fn disk_store() -> ($crate::common::Keep, ::mcp_persist::Store, ::mcp_persist::ManualClock) {
                $crate::common::redis_store().expect("checked by available()")
            }
            fn available() -> bool {
                $crate::common::redis_server::redis_available()
            }
            $crate::each_test! { $($tests)* }
        }
    };
}

/// Each test of [`on_each_backend`], run only where `available()`.
#[macro_export]
macro_rules! each_test {
    () => {};
    ($(#[doc = $doc:literal])* #[test] fn $name:ident() $body:block $($rest:tt)*) => {
        $(#[doc = $doc])*
        #[test]
        fn $name() {
            if !available() {
                return;
            }
            $body
        }
        $crate::each_test! { $($rest)* }
    };
    ($(#[doc = $doc:literal])* #[tokio::test $($args:tt)*] async fn $name:ident() $body:block $($rest:tt)*) => {
        $(#[doc = $doc])*
        #[tokio::test $($args)*]
        async fn $name() {
            if !available() {
                return;
            }
            $body
        }
        $crate::each_test! { $($rest)* }
    };
}

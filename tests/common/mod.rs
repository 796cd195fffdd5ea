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

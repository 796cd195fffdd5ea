//! The [`Store`]: a handle on one store (an LMDB environment in a
//! directory, or one application on a Redis server), its writer thread and
//! its sweeper. The bottom layer of the crate: it imports only `error`,
//! `clock`, `envelope`, `crypt` and its own children.
//!
//! - [`engine`]: the engine seam, with the contract every engine keeps;
//!   [`lmdb`] and `redis` (feature `redis`) each hold all of their engine.
//! - [`reads`] and [`txn`]: the engine-agnostic halves of a read and of a
//!   write job (opening and sealing values); [`writer`]: the write queue and
//!   group commit; [`sweeper`]: the background sweep of expired records;
//!   [`changes`]: the change log's entries and wake-ups.
//! - [`builder`] opens a store; [`settings`]: durability and the environment
//!   variables; [`paths`]: where a store lives on disk.
//!
//! The typed code above (`records`, `list`, `admin`, `tools`) names no heed
//! or Redis type: it reads through `read_record`/`scan_records` and writes
//! jobs (`WriteFn`) against a [`txn::WriteCtx`].

mod builder;
pub(crate) mod changes;
pub(crate) mod engine;
mod lmdb;
mod paths;
mod reads;
#[cfg(feature = "redis")]
mod redis;
mod settings;
mod sweeper;
mod txn;
mod writer;

use std::path::Path;
use std::sync::Arc;

pub use builder::{DEFAULT_CHANGE_LOG, StoreBuilder};
pub(crate) use engine::{KeyRange, Order};
pub(crate) use paths::create_private_dir;
pub use paths::{DIR_ENV_VAR, resolve_dir};
pub use settings::{DURABILITY_ENV_VAR, Durability, URL_ENV_VAR};
pub(crate) use writer::WriteFn;

use crate::crypt::Keyring;
use crate::error::Result;
use builder::Settings;
use changes::{Cursor, Read};
use engine::{Engine, on_engine};
use sweeper::Sweeper;
use writer::Writer;

/// A durable key-value store for `#[persisted]` types.
///
/// A cheap `Clone + Send + Sync` handle: clone it into every task and tool.
/// Opening the same directory twice in a process returns the same store.
///
/// ```
/// # fn main() -> Result<(), persist_runtime::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let store = persist_runtime::Store::open_at(dir.path())?;
/// assert_eq!(store.path(), Some(dir.path().canonicalize().unwrap().as_path()));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    sweeper: Option<Sweeper>,
    /// Every write of this process, batched, whatever the engine.
    writer: Arc<Writer>,
    engine: Engine,
    durability: Durability,
    /// What the store was opened with, to check later opens against.
    settings: Settings,
    /// The directory, or the redacted URL and app: what logs show.
    location: String,
    /// Removed when the store closes (memory stores only). Declared last: dropped last.
    _temp: Option<tempfile::TempDir>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The sweeper holds the writer; stop it first so the writer can stop.
        drop(self.sweeper.take());
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.inner.location)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store of application `app`: on the Redis server named by
    /// the environment variable `MCP_PERSIST_URL` when it is set (see
    /// [`Store::connect`]), else in its data directory (see
    /// [`resolve_dir`]), created owner-only if needed. So one server binary
    /// runs embedded on a laptop and shared by replicas in production.
    pub fn open(app: &str) -> Result<Self> {
        StoreBuilder::new().open(app)
    }

    /// Uses the Redis (or Valkey) server at `url` as the store of
    /// application `app`; every process connected with the same URL and app
    /// shares the records, with the guarantees of an embedded store: atomic
    /// updates (optimistic transactions, retried), expiry, bounded lists,
    /// listings in key order. Needs the `redis` feature; see
    /// [`StoreBuilder::connect`] for errors and settings.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), persist_runtime::Error> {
    /// let store = persist_runtime::Store::connect("redis://127.0.0.1:6379/0", "notes")?;
    /// assert_eq!(store.url(), Some("redis://127.0.0.1:6379/0"));
    /// # Ok(()) }
    /// ```
    pub fn connect(url: &str, app: &str) -> Result<Self> {
        StoreBuilder::new().connect(url, app)
    }

    /// Opens the store in directory `path`, creating it owner-only if needed.
    pub fn open_at(path: impl AsRef<Path>) -> Result<Self> {
        StoreBuilder::new().open_at(path)
    }

    /// Opens the store of `app` or, if that fails, an in-memory store, saying
    /// so loudly (a `tracing` error naming the cause). For servers that prefer
    /// running without persistence to not running at all; check
    /// [`Store::is_memory`] to tell the user.
    pub fn open_or_memory(app: &str) -> Result<Self> {
        match Self::open(app) {
            Ok(store) => Ok(store),
            Err(err) => {
                tracing::error!(%err, app, "cannot open the store: running WITHOUT persistence (in memory)");
                Self::memory()
            }
        }
    }

    /// An ephemeral store with the same semantics, in a temporary directory
    /// removed when the last handle is dropped. For tests and for servers that
    /// chose to run without persistence.
    pub fn memory() -> Result<Self> {
        StoreBuilder::new().memory()
    }

    /// A builder for map size, durability, clock and sweeping.
    pub fn builder() -> StoreBuilder {
        StoreBuilder::new()
    }

    /// The change log's newest position (where [`Store::watch`] starts).
    pub(crate) fn changes_now(&self) -> Result<Cursor> {
        on_engine!(&self.inner.engine, e => e.changes_now())
    }

    /// Up to `limit` logged changes under `prefix` after `cursor`.
    pub(crate) fn read_changes(&self, cursor: Cursor, prefix: &[u8], limit: usize) -> Result<Read> {
        on_engine!(&self.inner.engine, e => e.read_changes(cursor, prefix, limit))
    }

    /// Wakes up whenever something may have been logged (by any process).
    pub(crate) fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        on_engine!(&self.inner.engine, e => e.subscribe_changes())
    }

    /// The directory of an embedded (LMDB) store; `None` for a store on a
    /// server ([`Store::connect`]).
    pub fn path(&self) -> Option<&Path> {
        on_engine!(&self.inner.engine, e => e.path())
    }

    /// Whether values are written sealed (the store was opened with keys:
    /// [`StoreBuilder::encryption`] or `MCP_PERSIST_KEY_FILE`).
    pub fn is_encrypted(&self) -> bool {
        self.keyring().is_some()
    }

    /// The keys values are sealed with, if any.
    pub(crate) fn keyring(&self) -> Option<&Keyring> {
        on_engine!(&self.inner.engine, e => e.keys())
    }

    /// Where the store lives, for logs and messages: its directory, or the
    /// server's URL (without password) and the application's name.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The URL (without password) of a store on a Redis server; `None` for
    /// an embedded store.
    pub fn url(&self) -> Option<&str> {
        on_engine!(&self.inner.engine, e => e.url())
    }

    /// How this store's commits are flushed (chosen in code, else by
    /// `MCP_PERSIST_DURABILITY`, else [`Durability::Full`]). A store on a
    /// Redis server reports `Full`: a write is acknowledged once the server
    /// answered, and how durable that is is the server's `appendfsync`.
    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// Whether this store is ephemeral ([`Store::memory`]).
    pub fn is_memory(&self) -> bool {
        self.inner._temp.is_some()
    }

    /// [`Store::sweep_expired`], run on this thread.
    pub(crate) fn sweep_blocking(&self) -> Result<usize> {
        sweeper::sweep_all(|job| self.write_blocking(job), || true)
    }

    /// [`Store::sweep_expired`], awaited.
    pub(crate) fn sweep_async(&self) -> impl Future<Output = Result<usize>> + Send + use<'_> {
        sweeper::sweep_all_async(self)
    }

    /// How many records have expired but are not purged yet (they are never
    /// returned by reads; a sweep reclaims their space).
    pub fn expired_pending(&self) -> Result<usize> {
        self.count_expired()
    }

    /// How many writes of this process wait for their turn (queued, not
    /// yet running): a gauge for monitoring, and a hook for tests that need
    /// writes to be batched together.
    pub fn pending_writes(&self) -> usize {
        self.inner.writer.queued()
    }

    /// How many optimistic transactions writes of this process lost to
    /// concurrent writers and redid (Redis; always 0 on LMDB, where writers
    /// take turns): a gauge of contention on the same records.
    pub fn write_conflicts(&self) -> u64 {
        on_engine!(&self.inner.engine, e => e.conflicts())
    }

    /// Whether a read waits for a server (async reads then leave the
    /// runtime's threads) rather than taking microseconds in memory.
    pub(crate) fn reads_wait_on_network(&self) -> bool {
        on_engine!(&self.inner.engine, e => e.waits_on_network())
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.inner.settings.clock.now_ms()
    }

    /// The size of the memory map, in bytes (it grows as the store does);
    /// `None` on a server.
    pub(crate) fn map_bytes(&self) -> Option<u64> {
        on_engine!(&self.inner.engine, e => e.map_bytes())
    }

    /// Writes a compacted copy of the store's file to `target` (which must
    /// not exist), consistent as of one moment, while writes go on.
    pub(crate) fn copy_compacted_to(&self, target: &Path) -> Result<()> {
        on_engine!(&self.inner.engine, e => e.backup_to(target))
    }

    pub(crate) fn write_detached(&self, what: &'static str, f: WriteFn<()>) {
        self.inner.writer.write_detached(what, f);
    }

    pub(crate) fn write_blocking<R: Send + 'static>(&self, f: WriteFn<R>) -> Result<R> {
        self.inner.writer.write_blocking(f)
    }

    /// Sends a job (or the error of building it) to the writer. The future
    /// borrows nothing but the store, so it is `Send` whatever built the job.
    pub(crate) async fn submit<R: Send + 'static>(&self, job: Result<WriteFn<R>>) -> Result<R> {
        self.inner.writer.write(job?).await
    }
}

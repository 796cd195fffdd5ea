//! The [`Store`]: a handle on one LMDB environment (or one application on a
//! Redis server), its writer thread and its sweeper.
//!
//! # The storage boundary
//!
//! This module owns the layout on disk (a `records` database of key ->
//! envelope, an `expiry` index of `expires_ms ++ key`); the typed code
//! (`records`, `list`, `admin`, `tools`) names no heed type and no database
//! handle. It speaks to one internal interface:
//!
//! - reads, each in one short read transaction ([`reads`]):
//!   `Store::read_record(key, |Option<&[u8]>| ..)` (zero-copy),
//!   `Store::scan_records(KeyRange { prefix, after }, Order, |key, bytes| ..)`
//!   (key order or reversed, resumable after a cursor, stopped by the
//!   closure), `Store::count_expired()`;
//! - writes, as jobs (`WriteFn`) run by the writer ([`writer`]: batching and
//!   group commit) against a [`txn::WriteCtx`]: `get`, `header`,
//!   `header_to_replace`, `put` (keeps the expiry index), `remove`,
//!   `scan_headers`, `last_key_under`, `take_due_expiries`, `now_ms`;
//! - whole-store operations: `copy_compacted_to`, `map_bytes`.
//!
//! [`reads`] and [`txn`] document what each guarantees (what a read sees,
//! that a job is atomic and may run more than once) in terms a networked
//! engine (Redis: GET/SCAN, a sorted set for expiry, WATCH/MULTI jobs
//! retried on conflict) can implement.
//!
//! **Two engines, one enum.** The interface is inherent methods on `Store`
//! and `WriteCtx` that match on the engine: LMDB, or Redis ([`redis`],
//! feature `redis`). Measured before choosing (`benches/read_path.rs` under
//! callgrind): the same `read_record` behind a trait object costs 10,785
//! instructions per `load`, the concrete one 10,786, so the dispatch costs
//! nothing on the read path; `records`, `list` and `admin` did not change.
//! The write path is shared whole: the writer's queue, leader, group commit
//! and timeouts run batches through [`writer::Batches`], which each engine
//! implements (an LMDB write transaction, a Redis `MULTI`/`EXEC`).

pub(crate) mod changes;
mod gate;
mod lmdb;
mod paths;
mod reads;
#[cfg(feature = "redis")]
mod redis;
mod sweeper;
mod txn;
mod write_lock;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::Duration;

pub(crate) use paths::create_private_dir;
pub use paths::{DIR_ENV_VAR, resolve_dir};
pub(crate) use reads::{KeyRange, Order};
pub(crate) use writer::WriteFn;

use crate::clock::{Clock, SystemClock};
use crate::crypt::Keyring;
use crate::error::{Error, Result};
use crate::watch::Watcher;
use lmdb::{EnvOptions, Shared};
use sweeper::Sweeper;
use writer::Writer;

/// How hard a commit works to survive a crash of the operating system.
///
/// A crash of the *process* loses nothing committed under any setting. Set it
/// in code with [`StoreBuilder::durability`], or per deployment with the
/// environment variable `MCP_PERSIST_DURABILITY` (`full`, `no-meta-sync`,
/// `no-sync`), which applies when the code does not choose.
///
/// ```
/// use persist_runtime::Durability;
///
/// assert_eq!("no-sync".parse::<Durability>(), Ok(Durability::NoSync));
/// assert_eq!(Durability::NoMetaSync.to_string(), "no-meta-sync");
/// assert!("fast".parse::<Durability>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync on every commit: an acknowledged write survives power loss. The default.
    #[default]
    Full,
    /// Skip the fsync of the meta page: integrity is kept, but an OS crash may
    /// undo the last commit.
    NoMetaSync,
    /// No fsync: integrity is kept on ext4 (no `WRITE_MAP`), but an OS crash
    /// may lose recent commits. Suits caches.
    NoSync,
}

/// The environment variable naming the server [`Store::open`] connects to
/// (e.g. `redis://127.0.0.1:6379/0`) instead of opening a directory.
pub const URL_ENV_VAR: &str = "MCP_PERSIST_URL";

/// The URL schemes of a store on a server (Redis, or Valkey by its names).
const SERVER_SCHEMES: [&str; 7] = [
    "redis://",
    "rediss://",
    "redis+unix://",
    "unix://",
    "valkey://",
    "valkeys://",
    "valkey+unix://",
];

/// The URL in `MCP_PERSIST_URL`, if it is set (and not empty).
fn url_from_env() -> Result<Option<String>> {
    let Some(value) = std::env::var_os(URL_ENV_VAR).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match value.to_str() {
        Some(url) if SERVER_SCHEMES.iter().any(|s| url.starts_with(s)) => Ok(Some(url.to_owned())),
        _ => Err(Error::InvalidSetting {
            name: URL_ENV_VAR,
            value: redis_free_redacted(&value.to_string_lossy()),
            expected: "a redis://, rediss://, redis+unix:// (or valkey...) URL",
        }),
    }
}

/// `url` with anything between `://` and `@` (a password) cut out.
fn redis_free_redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The environment variable that sets [`Durability`] when the code does not.
pub const DURABILITY_ENV_VAR: &str = "MCP_PERSIST_DURABILITY";

impl Durability {
    const NAMES: [(&'static str, Durability); 3] = [
        ("full", Durability::Full),
        ("no-meta-sync", Durability::NoMetaSync),
        ("no-sync", Durability::NoSync),
    ];

    /// The setting's name, as `MCP_PERSIST_DURABILITY` takes it.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, d)| *d == self)
            .map_or("full", |(name, _)| name)
    }

    /// The durability `MCP_PERSIST_DURABILITY` asks for, if it is set (and
    /// not empty); an error naming the variable if it holds anything else.
    pub fn from_env() -> Result<Option<Self>> {
        let Some(value) = std::env::var_os(DURABILITY_ENV_VAR).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        value
            .to_str()
            .and_then(|v| v.parse().ok())
            .map(Some)
            .ok_or_else(|| Error::InvalidSetting {
                name: DURABILITY_ENV_VAR,
                value: value.to_string_lossy().into_owned(),
                expected: "full, no-meta-sync or no-sync",
            })
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Durability {
    type Err = String;

    /// `full`, `no-meta-sync` or `no-sync` (case and `_` for `-` do not matter).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::NAMES
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, d)| *d)
            .ok_or_else(|| format!("unknown durability {s:?}: use full, no-meta-sync or no-sync"))
    }
}

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

/// The storage engine under a store.
enum Engine {
    /// LMDB in a directory.
    Lmdb { shared: Arc<Shared> },
    /// A Redis server shared with other processes and machines.
    #[cfg(feature = "redis")]
    Redis(Arc<redis::RedisEngine>),
}

impl Engine {
    /// The keys the engine seals values with (it needs them in its write
    /// jobs; reads take them from here too).
    fn keyring(&self) -> Option<&Keyring> {
        match self {
            Engine::Lmdb { shared } => shared.keys.as_deref(),
            #[cfg(feature = "redis")]
            Engine::Redis(redis) => redis.keys(),
        }
    }
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

/// Open stores of this process, by canonical path (LMDB forbids a second open).
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Inner>>>> = LazyLock::new(Default::default);

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

    /// Watches the changes committed from now on (by any process) to the
    /// records whose stored key starts with `prefix` (`""`: all; a
    /// namespace: `"notes:"`), on either engine. See [`crate::watch`].
    pub fn watch(&self, prefix: impl Into<String>) -> Result<Watcher> {
        let now = match &self.inner.engine {
            Engine::Lmdb { shared } => changes::Cursor {
                seq: shared.read(|rtxn| {
                    changes::last_seq(shared.changes, rtxn).map_err(|e| shared.lmdb(e))
                })?,
                index: None,
            },
            #[cfg(feature = "redis")]
            Engine::Redis(redis) => redis.changes_now()?,
        };
        Ok(self.watcher(prefix.into(), now))
    }

    /// [`Store::watch`] from the change after sequence number `after` (a
    /// [`Watcher::position`] kept from before; 0: from the log's start,
    /// which is a [`Watched::Lagged`](crate::Watched::Lagged) first once the
    /// log has been trimmed). A position of another store waits for
    /// changes past it.
    pub fn watch_from(&self, prefix: impl Into<String>, after: u64) -> Result<Watcher> {
        let cursor = changes::Cursor {
            seq: after,
            index: None,
        };
        Ok(self.watcher(prefix.into(), cursor))
    }

    fn watcher(&self, prefix: String, cursor: changes::Cursor) -> Watcher {
        let wake = match &self.inner.engine {
            Engine::Lmdb { shared } => {
                let file = shared.path.join("data.mdb");
                shared
                    .signal
                    .subscribe(move |signal| changes::follow_file(file, signal))
            }
            #[cfg(feature = "redis")]
            Engine::Redis(redis) => redis.subscribe_changes(),
        };
        Watcher::new(self.clone(), prefix, cursor, wake)
    }

    /// Up to `limit` logged changes under `prefix` after `cursor`.
    pub(crate) fn read_changes(
        &self,
        cursor: changes::Cursor,
        prefix: &[u8],
        limit: usize,
    ) -> Result<changes::Read> {
        match &self.inner.engine {
            Engine::Lmdb { shared } => shared.read(|rtxn| {
                changes::read_after(shared.changes, rtxn, cursor.seq, prefix, limit)
                    .map_err(|e| shared.lmdb(e))
            }),
            #[cfg(feature = "redis")]
            Engine::Redis(redis) => redis.read_changes(cursor, prefix, limit),
        }
    }

    /// The directory of an embedded (LMDB) store; `None` for a store on a
    /// server ([`Store::connect`]).
    pub fn path(&self) -> Option<&Path> {
        self.lmdb().map(|shared| shared.path.as_path())
    }

    /// Whether values are written sealed (the store was opened with keys:
    /// [`StoreBuilder::encryption`] or `MCP_PERSIST_KEY_FILE`).
    pub fn is_encrypted(&self) -> bool {
        self.keyring().is_some()
    }

    /// The keys values are sealed with, if any.
    pub(crate) fn keyring(&self) -> Option<&Keyring> {
        self.inner.engine.keyring()
    }

    /// Where the store lives, for logs and messages: its directory, or the
    /// server's URL (without password) and the application's name.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The URL (without password) of a store on a Redis server; `None` for
    /// an embedded store.
    pub fn url(&self) -> Option<&str> {
        match &self.inner.engine {
            Engine::Lmdb { .. } => None,
            #[cfg(feature = "redis")]
            Engine::Redis(redis) => Some(redis.url()),
        }
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

    /// Deletes every expired record now and returns how many there were:
    /// an operation, `.await` it or run it with `.blocking()`. The background
    /// sweeper does the same periodically. Each chunk of 1,000 records is its
    /// own transaction, so writers of this and other processes are not held
    /// up for the whole sweep.
    pub fn sweep_expired(&self) -> crate::op::Sweep<'_> {
        crate::op::Sweep::new(self)
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
        match &self.inner.engine {
            Engine::Lmdb { .. } => 0,
            #[cfg(feature = "redis")]
            Engine::Redis(redis) => redis.conflicts(),
        }
    }

    /// Whether a read waits for a server (async reads then leave the
    /// runtime's threads) rather than taking microseconds in memory.
    pub(crate) fn reads_wait_on_network(&self) -> bool {
        !matches!(self.inner.engine, Engine::Lmdb { .. })
    }

    /// The LMDB side of an embedded store.
    fn lmdb(&self) -> Option<&Shared> {
        match &self.inner.engine {
            Engine::Lmdb { shared, .. } => Some(shared),
            #[cfg(feature = "redis")]
            Engine::Redis(_) => None,
        }
    }

    /// The LMDB side, for what only an embedded store does (`what`).
    fn lmdb_for(&self, what: &str) -> Result<&Shared> {
        self.lmdb().ok_or_else(|| {
            Error::Unsupported(format!(
                "{what} is for an embedded (LMDB) store; this store is {}",
                self.location()
            ))
        })
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.inner.settings.clock.now_ms()
    }

    /// The size of the memory map, in bytes (it grows as the store does);
    /// `None` on a server.
    pub(crate) fn map_bytes(&self) -> Option<u64> {
        self.lmdb().map(|shared| shared.env.info().map_size as u64)
    }

    /// Writes a compacted copy of the store's file to `target` (which must
    /// not exist), consistent as of one moment, while writes go on.
    pub(crate) fn copy_compacted_to(&self, target: &Path) -> Result<()> {
        let shared =
            self.lmdb_for("a file backup (use the export command, or the server's own snapshots)")?;
        shared.read(|_txn| {
            shared
                .env
                .copy_to_path(target, heed::CompactionOption::Enabled)
                .map(drop)
                .map_err(|e| shared.lmdb(e))
        })
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

/// Runs `f` on tokio's blocking pool (on this thread outside a tokio
/// runtime): for calls that wait on a server.
pub(crate) async fn off_runtime<R: Send + 'static>(
    f: impl FnOnce() -> Result<R> + Send + 'static,
) -> Result<R> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(f)
            .await
            .map_err(|err| Error::Panicked(err.to_string()))?,
        Err(_) => f(),
    }
}

/// Options for opening a [`Store`].
///
/// A store is opened once per directory and process; a later open of the
/// same directory returns the same store. Settings given explicitly to that
/// later open must match what the store runs with (durability, clock, sweep
/// interval, maximum map size, write timeout, reader slots): a mismatch is an
/// [`Error::Open`] naming the setting, never silently ignored. The initial
/// [`map_size`](Self::map_size) is the one exception: the map of an open
/// store is already as large as it is.
///
/// ```
/// use std::time::Duration;
/// use persist_runtime::{Durability, Store};
///
/// # fn main() -> Result<(), persist_runtime::Error> {
/// let store = Store::builder()
///     .durability(Durability::NoMetaSync)
///     .map_size(16 << 20)
///     .sweep_interval(Some(Duration::from_secs(300)))
///     .write_timeout(Duration::from_secs(5))
///     .memory()?;
/// # drop(store); Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct StoreBuilder {
    map_size: Option<usize>,
    max_map_size: Option<usize>,
    /// `None`: `MCP_PERSIST_DURABILITY`, else full.
    durability: Option<Durability>,
    clock: Option<Arc<dyn Clock>>,
    sweep_interval: Option<Option<Duration>>,
    write_timeout: Option<Duration>,
    max_readers: Option<u32>,
    network_timeout: Option<Duration>,
    max_connections: Option<usize>,
    keys: Option<Keyring>,
    change_log: Option<usize>,
}

/// The settings a store runs with.
#[derive(Clone)]
struct Settings {
    max_map_size: usize,
    clock: Arc<dyn Clock>,
    sweep_interval: Option<Duration>,
    write_timeout: Duration,
    max_readers: u32,
}

const DEFAULT_MAP_SIZE: usize = 64 << 20;
const DEFAULT_MAX_MAP_SIZE: usize = 1 << 40;
const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// The most connections a store on a server opens at once.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
const DEFAULT_MAX_CONNECTIONS: usize = 32;
/// How long a store on a server waits to connect, and for each reply.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
const DEFAULT_NETWORK_TIMEOUT: Duration = Duration::from_secs(5);
/// LMDB's default is 126 slots for every process and thread on the store; a
/// read holds one for its few microseconds. 1022 fills the 64 KiB lock file.
const DEFAULT_MAX_READERS: u32 = 1022;
/// Entries the change log keeps (see [`crate::watch`]).
pub const DEFAULT_CHANGE_LOG: usize = 10_000;

impl StoreBuilder {
    /// Defaults: 64 MiB initial map (grows by doubling), 1 TiB ceiling, full
    /// durability (unless `MCP_PERSIST_DURABILITY` says otherwise), the system
    /// clock, a sweep of expired records every minute, a write timeout of 30
    /// seconds, 1022 reader slots.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many of the latest changes the change log keeps for watchers
    /// ([`Store::watch`]); a watcher further behind gets
    /// [`Watched::Lagged`](crate::Watched::Lagged). Default
    /// [`DEFAULT_CHANGE_LOG`] (10,000: about 0.6 MB for 40-byte keys). At
    /// least 1.
    pub fn change_log(mut self, entries: usize) -> Self {
        self.change_log = Some(entries.max(1));
        self
    }

    /// Initial size of the memory map in bytes. The map grows by itself when
    /// full; on Linux and macOS the file is sparse, so a large map costs no disk.
    pub fn map_size(mut self, bytes: usize) -> Self {
        self.map_size = Some(bytes);
        self
    }

    /// The most the map may grow to; writes beyond it fail with [`Error::StoreFull`].
    pub fn max_map_size(mut self, bytes: usize) -> Self {
        self.max_map_size = Some(bytes);
        self
    }

    /// How commits are flushed (see [`Durability`]). Chosen here, it wins
    /// over `MCP_PERSIST_DURABILITY`.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = Some(durability);
        self
    }

    /// The clock used for timestamps and expiry (tests use [`ManualClock`](crate::ManualClock)).
    /// A store already open in this process cannot take another clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// How often expired records are purged in the background; `None` turns
    /// the background sweep off (expired records are still never returned).
    pub fn sweep_interval(mut self, interval: Option<Duration>) -> Self {
        self.sweep_interval = Some(interval);
        self
    }

    /// How long a write may wait to start: for the write lock another
    /// process holds (a server on the same store that is stopped, suspended
    /// in a debugger or stuck), or behind this process's earlier writes. A
    /// write that cannot start in time fails with [`Error::Busy`] and is
    /// never applied later. Opening waits as long at most. Default: 30 s.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = Some(timeout);
        self
    }

    /// Reader slots shared by every process and thread reading the store at
    /// the same moment (each read holds one for its duration). Default 1022.
    /// It takes effect when the store's `lock.mdb` is created (the first
    /// open after every process closed it may recreate it); past it, reads
    /// fail with [`Error::ReadersFull`].
    pub fn max_readers(mut self, slots: u32) -> Self {
        self.max_readers = Some(slots.max(1));
        self
    }

    /// How long a store on a server ([`connect`](Self::connect)) waits to
    /// connect and for each answer before the operation fails with
    /// [`Error::Backend`]. Default: 5 s. (No effect on an embedded store.)
    pub fn network_timeout(mut self, timeout: Duration) -> Self {
        self.network_timeout = Some(timeout.max(Duration::from_millis(1)));
        self
    }

    /// Seals every value this store writes with the current key of `keys`
    /// (AES-256-GCM, bound to the record's key and header; see
    /// [`crate::crypt`]), and opens what any of them sealed. Given here, it
    /// wins over `MCP_PERSIST_KEY_FILE` (a key file the store reads when the
    /// code gives no keys).
    ///
    /// ```
    /// use persist_runtime::{EncryptionKey, Keyring, Store};
    ///
    /// # fn main() -> Result<(), persist_runtime::Error> {
    /// let keys = Keyring::new(EncryptionKey::generate("k1")?, [])?;
    /// let store = Store::builder().encryption(keys).memory()?;
    /// assert!(store.is_encrypted());
    /// # Ok(()) }
    /// ```
    pub fn encryption(mut self, keys: Keyring) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The keys asked for: in code, else from `MCP_PERSIST_KEY_FILE`.
    fn resolve_keys(&self) -> Result<Option<Arc<Keyring>>> {
        match &self.keys {
            Some(keys) => Ok(Some(Arc::new(keys.clone()))),
            None => Ok(Keyring::from_env()?.map(Arc::new)),
        }
    }

    /// The most connections a store on a server ([`connect`](Self::connect))
    /// opens at once: reads beyond it wait for one (at most the network
    /// timeout, then [`Error::Backend`]). Default: 32. (No effect on an
    /// embedded store.)
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = Some(connections.max(1));
        self
    }

    /// Opens the store of application `app` (see [`Store::open`]): on the
    /// server `MCP_PERSIST_URL` names when it is set, else in its directory.
    pub fn open(self, app: &str) -> Result<Store> {
        if let Some(url) = url_from_env()? {
            return self.connect(&url, app);
        }
        let dir = resolve_dir(app)?;
        self.open_at(dir)
    }

    /// Connects to the Redis (or Valkey) server at `url`
    /// (`redis://[:password@]host[:port][/db]`) and uses it as the store
    /// of application `app`: every process connected with the same URL and
    /// app shares its records (see [`Store::connect`]).
    ///
    /// Of the settings, the clock, the sweep interval, the write timeout
    /// (how long a write may keep losing its transaction to concurrent
    /// writers) and the [network timeout](Self::network_timeout) apply.
    /// Fails with [`Error::Backend`] naming the URL (never its password)
    /// when the server cannot be reached within the network timeout, and
    /// with [`Error::Unsupported`] in a build without the `redis` feature.
    pub fn connect(self, url: &str, app: &str) -> Result<Store> {
        #[cfg(feature = "redis")]
        {
            self.connect_redis(url, app)
        }
        #[cfg(not(feature = "redis"))]
        {
            let _ = (self, app);
            Err(Error::Unsupported(format!(
                "{} is a Redis URL, and this program was built without mcp-persist's `redis` \
                 feature",
                redis_free_redacted(url)
            )))
        }
    }

    #[cfg(feature = "redis")]
    fn connect_redis(self, url: &str, app: &str) -> Result<Store> {
        let settings = self.settings();
        let keys = self.resolve_keys()?;
        let options = redis::RedisOptions {
            keys,
            change_log: self.change_log.unwrap_or(DEFAULT_CHANGE_LOG) as u64,
            network_timeout: self.network_timeout.unwrap_or(DEFAULT_NETWORK_TIMEOUT),
            max_connections: self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
            write_timeout: settings.write_timeout,
            clock: Arc::clone(&settings.clock),
            native_expiry: self.clock.is_none(),
        };
        let engine = Arc::new(redis::RedisEngine::connect(url, app, options)?);
        let location = format!("{} (app {app})", engine.url());
        let batches = Arc::clone(&engine) as Arc<dyn writer::Batches>;
        let running = Running {
            engine: Engine::Redis(engine),
            durability: Durability::Full,
            settings,
            location,
            temp: None,
        };
        // Async writes never lead on the runtime's threads: they wait on
        // the network.
        running.start(batches, false)
    }

    /// Opens the store in directory `path` (see [`Store::open_at`]).
    pub fn open_at(self, path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        let dir_existed = path.exists();
        paths::create_private_dir(path)?;
        let canonical = path.canonicalize().map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(inner) = open.get(&canonical).and_then(Weak::upgrade) {
            self.check_matches(&inner, &canonical)?;
            tracing::debug!(path = %canonical.display(), "store already open in this process; sharing it");
            return Ok(Store { inner });
        }
        paths::check_private(&canonical)?;
        let new_store = !canonical.join("data.mdb").exists();
        let store = match self.start(&canonical, None) {
            Ok(store) => store,
            Err(err) => {
                if new_store {
                    // Leave nothing half-made behind (a full disk, say).
                    paths::remove_new_store(&canonical, !dir_existed);
                }
                return Err(err);
            }
        };
        open.retain(|_, weak| weak.strong_count() > 0);
        open.insert(canonical, Arc::downgrade(&store.inner));
        Ok(store)
    }

    /// Refuses to share an open store with an open that asks for other settings.
    fn check_matches(&self, inner: &Inner, path: &Path) -> Result<()> {
        let running = &inner.settings;
        let show = |d: Option<Duration>| d.map_or("off".to_owned(), |d| format!("{d:?}"));
        let differs = |setting, has: String, asked: Option<String>| {
            asked
                .filter(|asked| *asked != has)
                .map(|asked| (setting, has, asked))
        };
        let conflict = [
            differs(
                "durability",
                inner.durability.to_string(),
                self.durability.map(|d| d.to_string()),
            ),
            // Clocks cannot be compared: a running store keeps its own.
            self.clock
                .as_ref()
                .map(|_| ("clock", "its own clock".into(), "another clock".into())),
            differs(
                "sweep_interval",
                show(running.sweep_interval),
                self.sweep_interval.map(show),
            ),
            differs(
                "max_map_size",
                running.max_map_size.to_string(),
                self.max_map_size.map(|m| m.to_string()),
            ),
            differs(
                "write_timeout",
                show(Some(running.write_timeout)),
                self.write_timeout.map(|t| show(Some(t))),
            ),
            differs(
                "encryption keys",
                inner
                    .engine
                    .keyring()
                    .map_or("none".into(), |k| k.ids().join(",")),
                self.keys.as_ref().map(|k| k.ids().join(",")),
            ),
            differs(
                "max_readers",
                running.max_readers.to_string(),
                self.max_readers.map(|r| r.to_string()),
            ),
        ]
        .into_iter()
        .flatten()
        .next();
        match conflict {
            None => Ok(()),
            Some((setting, has, asked)) => Err(Error::Open {
                path: path.to_owned(),
                reason: format!(
                    "the store is already open in this process with {setting} {has}, and this \
                     open asks for {asked}; open it once and clone the Store (clones share \
                     it), or open it with the same {setting}"
                ),
            }),
        }
    }

    /// Opens an ephemeral store (see [`Store::memory`]). Durability is
    /// [`Durability::NoSync`]: there is nothing to keep after a crash.
    pub fn memory(self) -> Result<Store> {
        let temp = tempfile::Builder::new()
            .prefix("mcp-persist-memory-")
            .tempdir()
            .map_err(|source| Error::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        let path = temp.path().to_owned();
        self.durability(Durability::NoSync).start(&path, Some(temp))
    }

    /// The settings asked for, defaults filled in.
    fn settings(&self) -> Settings {
        Settings {
            max_map_size: self.max_map_size.unwrap_or(DEFAULT_MAX_MAP_SIZE),
            clock: self.clock.clone().unwrap_or_else(|| Arc::new(SystemClock)),
            sweep_interval: self.sweep_interval.unwrap_or(Some(DEFAULT_SWEEP_INTERVAL)),
            write_timeout: self.write_timeout.unwrap_or(DEFAULT_WRITE_TIMEOUT),
            max_readers: self.max_readers.unwrap_or(DEFAULT_MAX_READERS),
        }
    }

    fn start(self, path: &Path, temp: Option<tempfile::TempDir>) -> Result<Store> {
        let durability = match self.durability {
            Some(chosen) => chosen,
            None => match Durability::from_env()? {
                Some(from_env) => {
                    if from_env != Durability::Full {
                        tracing::warn!(
                            path = %path.display(),
                            durability = %from_env,
                            "{DURABILITY_ENV_VAR} is set: commits are not fsynced, an OS crash \
                             (not a process crash) may lose the latest writes"
                        );
                    }
                    from_env
                }
                None => Durability::Full,
            },
        };
        let settings = self.settings();
        let opts = EnvOptions {
            map_size: self
                .map_size
                .unwrap_or(DEFAULT_MAP_SIZE)
                .min(settings.max_map_size),
            max_map_size: settings.max_map_size,
            durability,
            max_readers: settings.max_readers,
            write_timeout: settings.write_timeout,
            change_log: self.change_log.unwrap_or(DEFAULT_CHANGE_LOG) as u64,
        };
        let keys = self.resolve_keys()?;
        let shared = Arc::new(Shared::open(
            path,
            &opts,
            Arc::clone(&settings.clock),
            keys,
        )?);
        let batches = Arc::clone(&shared) as Arc<dyn writer::Batches>;
        let running = Running {
            engine: Engine::Lmdb { shared },
            durability,
            settings,
            location: path.display().to_string(),
            temp,
        };
        // Without fsync a commit takes microseconds: async callers lead.
        running.start(batches, durability == Durability::NoSync)
    }
}

/// An engine ready to serve, with what it runs with.
struct Running {
    engine: Engine,
    durability: Durability,
    settings: Settings,
    location: String,
    temp: Option<tempfile::TempDir>,
}

impl Running {
    /// Starts the writer (running batches with `batches`) and the sweeper.
    fn start(self, batches: Arc<dyn writer::Batches>, async_inline: bool) -> Result<Store> {
        let writer = Arc::new(Writer::start(
            batches,
            PathBuf::from(&self.location),
            async_inline,
            self.settings.write_timeout,
        )?);
        let sweeper = match self.settings.sweep_interval {
            Some(every) => {
                let writer = Arc::clone(&writer);
                let sweep = move |job| writer.write_blocking(job);
                Some(Sweeper::start(sweep, every, &self.location)?)
            }
            None => None,
        };
        Ok(Store {
            inner: Arc::new(Inner {
                sweeper,
                writer,
                engine: self.engine,
                durability: self.durability,
                settings: self.settings,
                location: self.location,
                _temp: self.temp,
            }),
        })
    }
}

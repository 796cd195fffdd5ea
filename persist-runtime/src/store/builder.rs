//! Opening a store: [`StoreBuilder`], its defaults, and the registry of
//! stores open in this process (LMDB forbids opening one directory twice).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::Duration;

use super::engine::{Engine, on_engine};
use super::lmdb::{EnvOptions, LmdbEngine};
#[cfg(feature = "redis")]
use super::redis;
use super::settings::{DURABILITY_ENV_VAR, Durability, url_from_env};
use super::sweeper::Sweeper;
use super::writer::Writer;
use super::{Inner, Store, paths, resolve_dir};
use crate::clock::{Clock, SystemClock};
use crate::crypt::Keyring;
use crate::error::{Error, Result};

/// Open stores of this process, by canonical path (LMDB forbids a second open).
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Inner>>>> = LazyLock::new(Default::default);

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
pub(super) struct Settings {
    pub max_map_size: usize,
    pub clock: Arc<dyn Clock>,
    pub sweep_interval: Option<Duration>,
    pub write_timeout: Duration,
    pub max_readers: u32,
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
/// Entries the change log keeps (see [`Store::watch`]).
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
    /// [`Keyring`]), and opens what any of them sealed. Given here, it
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
                super::settings::redact_url(url)
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
        let engine = redis::RedisEngine::connect(url, app, options)?;
        let location = format!("{} (app {app})", engine.shown_url());
        let running = Running {
            engine: Engine::Redis(Arc::new(engine)),
            durability: Durability::Full,
            settings,
            location,
            temp: None,
        };
        running.start()
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
                on_engine!(&inner.engine, e => e.keys())
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
        let engine = LmdbEngine::open(path, &opts, Arc::clone(&settings.clock), keys)?;
        let running = Running {
            engine: Engine::Lmdb(Arc::new(engine)),
            durability,
            settings,
            location: path.display().to_string(),
            temp,
        };
        running.start()
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
    /// Starts the writer (running batches on the engine) and the sweeper.
    fn start(self) -> Result<Store> {
        let writer = Arc::new(Writer::start(
            self.engine.clone(),
            PathBuf::from(&self.location),
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

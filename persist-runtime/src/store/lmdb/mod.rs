//! The LMDB engine: a store in a directory, all of it in this folder.
//!
//! - this file: the environment (opening it, reading from it, growing its
//!   map) and the [`StorageEngine`] implementation;
//! - [`txn`]: a write job's transaction; [`batch`]: a batch of jobs in one
//!   write transaction (group commit, map growth); [`scan`]: scans;
//!   [`changes`]: the change log and its inotify follower;
//! - [`gate`]: the resize gate every transaction of this process holds
//!   (shared) while it is open, and a map resize takes exclusively;
//!   [`write_lock`]: the write lock of every process, with a deadline.
//!
//! The layout: databases `records` (stored key to envelope), `expiry`
//! (`expires_ms` big-endian ++ key, no value), `changes` (the change log),
//! `meta` (store-wide entries: the encryption mark).

mod batch;
pub(crate) mod changes;
mod gate;
mod scan;
mod txn;
mod write_lock;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use heed::types::{Bytes, Unit};
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, MdbError, RoTxn, WithoutTls};

use crate::clock::Clock;
use crate::crypt::Keyring;
use crate::error::{Error, LmdbError, Result};
use crate::store::Durability;
use crate::store::changes::{Cursor, Read, Signal};
use crate::store::engine::{KeyRange, Order, StorageEngine, Visit};
use crate::store::writer::Job;
use changes::ChangesDb;
use gate::{Gate, SharedHold};
pub(crate) use write_lock::WRITE_LOCK_FILE;
use write_lock::WriteLock;

/// Bytes to bytes: record key to envelope.
pub(crate) type RecordsDb = Database<'static, Bytes, Bytes>;
/// Expiry index: 8-byte big-endian expiry (ms) followed by the record key.
pub(crate) type ExpiryDb = Database<'static, Bytes, Unit>;
/// Facts about the store, by name.
pub(crate) type MetaDb = Database<'static, Bytes, Bytes>;

/// The meta entry that says the store encrypts: the id of the key that
/// sealed a value last. Written with the sealed value; a store without
/// keys then refuses to write values in clear ([`Error::KeysRequired`]).
pub(crate) const ENCRYPTED: &[u8] = b"encrypted";

/// What the reader side, the writer thread and the sweeper share.
pub(crate) struct LmdbEngine {
    pub env: Env<WithoutTls>,
    pub records: RecordsDb,
    pub expiry: ExpiryDb,
    /// The change log (see [`super::changes`]) and how many entries it keeps.
    pub changes: ChangesDb,
    /// What the store says of itself: [`ENCRYPTED`] once it sealed a value.
    pub meta: MetaDb,
    pub change_log: u64,
    /// Wakes this process's watchers.
    pub signal: Arc<Signal>,
    pub clock: Arc<dyn Clock>,
    pub path: PathBuf,
    pub max_map_size: usize,
    /// Taken before every write transaction (see [`super::write_lock`]).
    pub write_lock: WriteLock,
    /// The keys values are sealed with, if the store encrypts.
    pub keys: Option<Arc<Keyring>>,
    /// How commits are flushed.
    pub durability: Durability,
    gate: Gate,
}

/// Options that shape how the environment is opened.
pub(crate) struct EnvOptions {
    pub map_size: usize,
    pub max_map_size: usize,
    pub durability: Durability,
    pub max_readers: u32,
    /// How long opening may wait for another process's write lock.
    pub write_timeout: Duration,
    /// Entries the change log keeps.
    pub change_log: u64,
}

impl LmdbEngine {
    /// Opens (creating if needed) the environment in the directory `path`.
    /// Values are sealed with `keys`, if given (see [`crate::crypt`]).
    pub fn open(
        path: &Path,
        opts: &EnvOptions,
        clock: Arc<dyn Clock>,
        keys: Option<Arc<Keyring>>,
    ) -> Result<Self> {
        let write_lock = WriteLock::open(path)?;
        #[cfg(target_os = "linux")]
        allocate_lock_file(path, opts.max_readers)?;
        let env = open_env(path, opts)?;
        check_not_truncated(&env, path)?;
        let lmdb = |source| Error::Lmdb {
            path: path.to_owned(),
            source: LmdbError(source),
        };
        let stale = env.clear_stale_readers().map_err(lmdb)?;
        if stale > 0 {
            tracing::info!(path = %path.display(), stale, "cleared stale reader slots left by dead processes");
        }
        let (records, expiry, changes, meta) = match open_databases(&env).map_err(lmdb)? {
            Some(dbs) => dbs,
            // A new store: created under the write lock (which another
            // process may hold for a while: waited for with the timeout).
            None => {
                let _held = write_lock.acquire_within(path, opts.write_timeout)?;
                create_databases(&env).map_err(lmdb)?
            }
        };
        if keys.is_none() {
            let marked = env
                .read_txn()
                .and_then(|rtxn| Ok(meta.get(&rtxn, ENCRYPTED)?.map(<[u8]>::to_vec)))
                .map_err(lmdb)?;
            if let Some(key_id) = marked {
                tracing::warn!(
                    path = %path.display(),
                    key_id = %String::from_utf8_lossy(&key_id),
                    "this store is encrypted and was opened without keys: sealed records cannot be \
                     read and no value can be written (give the keys with {})",
                    crate::crypt::KEY_FILE_ENV_VAR
                );
            }
        }
        Ok(Self {
            env,
            records,
            expiry,
            changes,
            meta,
            change_log: opts.change_log.max(1),
            signal: Signal::new(),
            clock,
            path: path.to_owned(),
            max_map_size: opts.max_map_size,
            write_lock,
            keys,
            durability: opts.durability,
            gate: Gate::default(),
        })
    }

    /// Wraps a heed error with this store's path.
    pub fn lmdb(&self, source: heed::Error) -> Error {
        match source {
            heed::Error::Mdb(MdbError::ReadersFull) => Error::ReadersFull {
                path: self.path.clone(),
                max_readers: self.env.info().maximum_number_of_readers,
            },
            source => Error::Lmdb {
                path: self.path.clone(),
                source: LmdbError(source),
            },
        }
    }

    /// Holds the resize gate for the lifetime of a transaction.
    pub fn gate(&self) -> SharedHold<'_> {
        self.gate.shared()
    }

    /// Runs `f` in a short read transaction.
    pub fn read_txn<R>(&self, f: impl FnOnce(&RoTxn<'_>) -> Result<R>) -> Result<R> {
        let gate = self.gate();
        match self.env.read_txn() {
            Ok(txn) => {
                let out = f(&txn);
                drop(txn);
                drop(gate);
                out
            }
            // A read from inside a write job (its thread holds the gate for the
            // batch) cannot wait for the exclusive hold: it fails instead.
            Err(heed::Error::Mdb(MdbError::MapResized)) if !gate.is_nested() => {
                drop(gate);
                self.adopt_map_size()?;
                let _gate = self.gate();
                let txn = self.env.read_txn().map_err(|e| self.lmdb(e))?;
                f(&txn)
            }
            Err(e) => Err(self.lmdb(e)),
        }
    }

    /// Adopts the map size another process grew the file to.
    pub fn adopt_map_size(&self) -> Result<()> {
        let _exclusive = self.gate.exclusive();
        // SAFETY: the exclusive gate guarantees no transaction of this process is open.
        unsafe { self.env.resize(0) }.map_err(|e| self.lmdb(e))
    }

    /// Doubles the map (up to `max_map_size`), for a write that hit `MapFull`.
    pub fn grow(&self) -> Result<()> {
        let _exclusive = self.gate.exclusive();
        let current = self.env.info().map_size;
        if current >= self.max_map_size {
            return Err(Error::StoreFull {
                needed: format!("more than the current {current} bytes"),
                max_map_size: self.max_map_size,
            });
        }
        let next = round_to_page(current.saturating_mul(2).min(self.max_map_size));
        tracing::info!(path = %self.path.display(), from = current, to = next, "growing the store's map");
        // SAFETY: the exclusive gate guarantees no transaction of this process is open.
        unsafe { self.env.resize(next) }.map_err(|e| self.lmdb(e))
    }
}

/// Creates `lock.mdb` with its blocks allocated, if it does not exist yet.
#[cfg(target_os = "linux")]
///
/// LMDB sizes a new lock file with `ftruncate` and writes it through a memory
/// map: on a full disk the first write finds no block behind the page and the
/// process dies of SIGBUS. Written here first with ordinary writes, a full
/// disk is an error (ENOSPC) instead. The file is filled aside and linked
/// into place, so a process opening the store at the same moment never sees
/// a half-written lock file (LMDB initialises it, all zeros, either way).
fn allocate_lock_file(dir: &Path, max_readers: u32) -> Result<()> {
    use std::io::Write as _;

    let lock = dir.join("lock.mdb");
    if std::fs::symlink_metadata(&lock).is_ok() {
        return Ok(());
    }
    // LMDB's table on Linux: a header of three cache lines (64 bytes each;
    // the last holds the first reader slot), then a cache line per further
    // reader slot. A file of exactly that size is used as it is.
    let size = u64::from(max_readers) * 64 + 128;
    let aside = dir.join(format!("lock.mdb.{}.new", std::process::id()));
    let io = |source| Error::Open {
        path: dir.to_owned(),
        reason: format!("cannot create lock.mdb: {source}"),
    };
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&aside)?;
        let zeros = vec![0u8; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            file.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        file.sync_all()?;
        match std::fs::hard_link(&aside, &lock) {
            // Another process made it first: theirs is used.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            // A file system without hard links: moved into place instead.
            Err(_) if std::fs::symlink_metadata(&lock).is_err() => std::fs::rename(&aside, &lock),
            other => other,
        }
    })();
    let _ = std::fs::remove_file(&aside);
    written.map_err(io)
}

/// The store's databases, if they exist: opened in a read transaction, so
/// that opening an existing store never waits for a writer.
fn open_databases(env: &Env<WithoutTls>) -> heed::Result<Option<Databases>> {
    let rtxn = env.read_txn()?;
    env.open_databases_and_commit(rtxn, |opener, rtxn| {
        let records = opener.open_database::<Bytes, Bytes>(rtxn, Some("records"))?;
        let expiry = opener.open_database::<Bytes, Unit>(rtxn, Some("expiry"))?;
        let changes = opener.open_database::<Bytes, Bytes>(rtxn, Some("changes"))?;
        let meta = opener.open_database::<Bytes, Bytes>(rtxn, Some("meta"))?;
        Ok::<_, heed::Error>(match (records, expiry, changes, meta) {
            (Some(records), Some(expiry), Some(changes), Some(meta)) => {
                CommitOrAbort::Commit(Some((records, expiry, changes, meta)))
            }
            _ => CommitOrAbort::Abort(()),
        })
    })
    .map(|opened| match opened {
        CommitOrAbort::Commit(dbs) => dbs,
        CommitOrAbort::Abort(()) => None,
    })
}

/// The store's databases: records, expiry index, change log, meta.
type Databases = (RecordsDb, ExpiryDb, ChangesDb, MetaDb);

/// Creates the store's databases (or opens those that exist: a store made
/// before the change log gets its log here).
fn create_databases(env: &Env<WithoutTls>) -> heed::Result<Databases> {
    let wtxn = env.write_txn()?;
    let created = env.create_databases_and_commit(wtxn, |opener, wtxn| {
        let records = opener.create_database::<Bytes, Bytes>(wtxn, Some("records"))?;
        let expiry = opener.create_database::<Bytes, Unit>(wtxn, Some("expiry"))?;
        let changes = opener.create_database::<Bytes, Bytes>(wtxn, Some("changes"))?;
        let meta = opener.create_database::<Bytes, Bytes>(wtxn, Some("meta"))?;
        Ok::<_, heed::Error>(CommitOrAbort::<_, ()>::Commit((
            records, expiry, changes, meta,
        )))
    })?;
    Ok(created.unwrap_commit())
}

fn open_env(path: &Path, opts: &EnvOptions) -> Result<Env<WithoutTls>> {
    let mut options = EnvOpenOptions::new().read_txn_without_tls();
    options
        .map_size(round_to_page(opts.map_size))
        .max_dbs(4)
        .max_readers(opts.max_readers);
    let flags = match opts.durability {
        Durability::Full => EnvFlags::empty(),
        Durability::NoMetaSync => EnvFlags::NO_META_SYNC,
        Durability::NoSync => EnvFlags::NO_SYNC,
    };
    // SAFETY: the flags keep LMDB's own locking; we never open the same path twice in
    // one process (see the registry in `store`), and files are only changed through LMDB.
    unsafe { options.flags(flags) };
    let open = || unsafe { options.open(path) };
    match open() {
        Err(heed::Error::EnvAlreadyOpened) => {
            // The last handle of a previous store on this path is closing right now.
            if let Some(closing) = heed::env_closing_event(path) {
                closing.wait_timeout(Duration::from_secs(5));
            }
            open()
        }
        other => other,
    }
    .map_err(|source| open_error(path, source))
}

/// A `data.mdb` shorter than its own last page would crash the process
/// (SIGBUS) on the first read of a missing page: refuse it at open instead.
fn check_not_truncated(env: &Env<WithoutTls>, path: &Path) -> Result<()> {
    let page_size = u64::from(env.unnamed_database_stat().page_size);
    let needed = (env.info().last_page_number as u64 + 1) * page_size;
    let file = path.join("data.mdb");
    let actual = std::fs::metadata(&file)
        .map_err(|source| Error::Io { path: file, source })?
        .len();
    if actual < needed {
        return Err(Error::Open {
            path: path.to_owned(),
            reason: format!(
                "data.mdb is truncated: {actual} bytes where the store needs {needed}; \
                 restore a backup or move the directory aside"
            ),
        });
    }
    Ok(())
}

fn open_error(path: &Path, source: heed::Error) -> Error {
    let reason = match &source {
        heed::Error::Mdb(MdbError::Invalid) => {
            "the file is not an LMDB store (data.mdb is damaged or is something else); \
             restore a backup or move it aside"
                .to_owned()
        }
        heed::Error::Mdb(MdbError::VersionMismatch) => {
            "the store was written by an incompatible LMDB version".to_owned()
        }
        heed::Error::Mdb(MdbError::Corrupted) | heed::Error::Mdb(MdbError::PageNotFound) => {
            "the store's data file is corrupted; restore a backup".to_owned()
        }
        other => other.to_string(),
    };
    Error::Open {
        path: path.to_owned(),
        reason,
    }
}

fn round_to_page(size: usize) -> usize {
    const PAGE: usize = 64 * 1024; // a multiple of every platform's page size
    size.div_ceil(PAGE).max(1) * PAGE
}

/// The expiry index key of a record: `expires_ms` (8 bytes, big-endian)
/// then the record key, so the index is in expiry order.
fn index_key(expires_ms: u64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&expires_ms.to_be_bytes());
    out.extend_from_slice(key);
    out
}

impl StorageEngine for LmdbEngine {
    #[inline]
    fn read<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> Result<R>) -> Result<R> {
        self.read_txn(|txn| {
            let bytes = self.records.get(txn, key).map_err(|e| self.lmdb(e))?;
            f(bytes)
        })
    }

    fn scan(&self, range: KeyRange<'_>, order: Order, f: &mut Visit<'_>) -> Result<()> {
        self.read_txn(|txn| scan::scan_in(self, txn, range, order, f))
    }

    fn count_expired(&self) -> Result<usize> {
        let end = index_key(self.clock.now_ms().saturating_add(1), b"");
        self.read_txn(|txn| {
            let range = (Bound::Unbounded, Bound::Excluded(end.as_slice()));
            let iter = self.expiry.range(txn, &range).map_err(|e| self.lmdb(e))?;
            Ok(iter.count())
        })
    }

    fn execute(&self, batch: Vec<Box<dyn Job>>, timeout: Duration, answering: &mut dyn FnMut()) {
        batch::execute(self, batch, timeout, answering);
    }

    /// Without fsync a commit takes microseconds: async callers lead.
    fn commits_inline(&self) -> bool {
        self.durability == Durability::NoSync
    }

    fn changes_now(&self) -> Result<Cursor> {
        let seq =
            self.read_txn(|rtxn| changes::last_seq(self.changes, rtxn).map_err(|e| self.lmdb(e)))?;
        Ok(Cursor { seq, index: None })
    }

    fn read_changes(&self, cursor: Cursor, prefix: &[u8], limit: usize) -> Result<Read> {
        self.read_txn(|rtxn| {
            changes::read_after(self.changes, rtxn, cursor.seq, prefix, limit)
                .map_err(|e| self.lmdb(e))
        })
    }

    fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        let file = self.path.join("data.mdb");
        self.signal
            .subscribe(move |signal| changes::follow_file(file, signal))
    }

    fn keys(&self) -> Option<&Keyring> {
        self.keys.as_deref()
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn waits_on_network(&self) -> bool {
        false
    }

    fn map_bytes(&self) -> Option<u64> {
        Some(self.env.info().map_size as u64)
    }

    fn backup_to(&self, target: &Path) -> Result<()> {
        self.read_txn(|_txn| {
            self.env
                .copy_to_path(target, heed::CompactionOption::Enabled)
                .map(drop)
                .map_err(|e| self.lmdb(e))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::SystemClock;
    use crate::error::Error;
    use crate::store::Durability;
    use crate::store::txn::WriteCtx;
    use txn::LmdbTxn;

    fn test_engine(dir: &std::path::Path, max_readers: u32) -> LmdbEngine {
        let opts = EnvOptions {
            map_size: 1 << 20,
            max_map_size: 1 << 20,
            durability: Durability::NoSync,
            max_readers,
            write_timeout: Duration::from_secs(1),
            change_log: 100,
        };
        LmdbEngine::open(dir, &opts, Arc::new(SystemClock), None).unwrap()
    }

    /// Issue 11, item 8: every error used to be taken for a broken envelope.
    #[test]
    fn only_a_broken_envelope_is_tolerated_by_an_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let shared = test_engine(dir.path(), 16);
        let mut wtxn = shared.env.write_txn().unwrap();
        shared
            .records
            .put(&mut wtxn, b"ns:bad", b"garbage")
            .unwrap();
        let mut txn = LmdbTxn::new(&mut wtxn, &shared);
        let mut ctx = WriteCtx::new(&mut txn, None, 0);
        assert!(matches!(ctx.header_to_replace("ns:bad"), Ok(None)));
        // A key LMDB refuses (an empty one): its error must fail the write, not pass for "no record".
        let refused = ctx.header_to_replace("");
        assert!(matches!(refused, Err(Error::Lmdb { .. })), "{refused:?}");
    }

    /// Issue 11, item 9: reader slots are set, and running out of them is an
    /// error that says what to do.
    #[test]
    fn running_out_of_reader_slots_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let shared = test_engine(dir.path(), 1);
        assert_eq!(shared.env.info().maximum_number_of_readers, 1);
        let nested = shared.read_txn(|_| shared.read_txn(|_| Ok(())));
        let err = nested.unwrap_err();
        assert!(
            matches!(err, Error::ReadersFull { max_readers: 1, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("max_readers"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let default = crate::Store::open_at(dir.path()).unwrap();
        assert_eq!(
            match &default.inner.engine {
                crate::store::engine::Engine::Lmdb(e) => e.env.info().maximum_number_of_readers,
                #[cfg(feature = "redis")]
                _ => unreachable!("opened in a directory"),
            },
            1022,
            "LMDB's default of 126 slots is too few for a busy server"
        );
    }
}

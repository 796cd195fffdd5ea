//! The engine seam: everything a storage engine does for a [`Store`](super::Store),
//! in one place, with its contract.
//!
//! An engine is a folder of `store/` (`lmdb/`, `redis/`) holding all of
//! itself, and implements two traits: [`StorageEngine`] (reads, scans, a
//! batch of write jobs, the change log, the expiry index, whole-store
//! operations) and [`EngineTxn`] (what one write job does inside the
//! engine's transaction). Everything engine-agnostic stays above the seam:
//! sealing and opening values ([`crate::crypt`]), the envelope, the write
//! queue and group commit ([`super::writer`]), the sweeper.
//!
//! Dispatch is the [`Engine`] enum and the [`on_engine!`] macro: a third
//! engine is a new folder, a variant, and one line in that macro. The
//! dispatch is static (a `match`), so generic reads (`read` lends the stored
//! bytes to a closure) cost nothing over a direct call; measured before this
//! seam existed (`benches/read_path.rs` under callgrind) a trait object on
//! the read path cost nothing either.
//!
//! # The contract, once for every engine
//!
//! **Reads** ([`StorageEngine::read`], [`StorageEngine::scan`]):
//! - A read sees **committed** writes only, never a batch in progress, and
//!   every write acknowledged before the read began (by this process or
//!   another on the same store).
//! - `read` lends the stored bytes (sealed or not: opening them is above the
//!   seam) to a closure while they are borrowed from the engine (zero-copy on
//!   LMDB: a slice of the map). The closure runs once, must not write to the
//!   store (it would wait for itself) nor block.
//! - `scan` visits keys in byte order (or reversed) and stops when the
//!   closure says so. On LMDB the whole scan sees one snapshot. An engine
//!   without snapshots must still report every record that exists,
//!   unchanged, for the whole scan exactly once and in order; records
//!   written during the scan may be seen or not.
//!
//! **Writes** ([`StorageEngine::execute`] runs a batch of jobs, each given
//! an [`EngineTxn`] behind a [`WriteCtx`](super::txn::WriteCtx)):
//! - **One job is atomic.** Every change a job makes is applied together, or
//!   none is (a job that returns an error changes nothing). Jobs of a batch
//!   commit together, but each job's changes stand or fall alone.
//! - **Reads see the job's own writes** and, before them, the last committed
//!   state: nothing another writer (thread or process) commits while the job
//!   runs.
//! - **A job closure may run more than once** for one call (LMDB: the batch
//!   is retried after the map grew; Redis: an optimistic transaction lost a
//!   race). Only the last run's changes are applied.
//! - **The expiry index follows the records**: [`EngineTxn::put`] and
//!   [`EngineTxn::remove`] keep an entry `(expires_ms, key)` exactly for each
//!   record with an expiry, given the header they replace (`old`).
//! - **The change log follows the records**: every put, delete and expiry
//!   appends one entry ([`super::changes`]) in the same transaction.
//! - Every job is answered: `succeed` after the commit (so an `Ok` is
//!   durable), or `fail` with why; a job not started by its deadline fails
//!   with [`Error::Busy`](crate::Error::Busy) unrun and is never applied later.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::changes::{ChangeKind, Cursor, Read};
use super::writer::Job;
use crate::crypt::Keyring;
use crate::envelope::Header;
use crate::error::Result;

/// The engine under a store: one variant per engine folder.
#[derive(Clone)]
pub(crate) enum Engine {
    /// LMDB in a directory ([`super::lmdb`]).
    Lmdb(Arc<super::lmdb::LmdbEngine>),
    /// A Redis server shared with other processes and machines ([`super::redis`]).
    #[cfg(feature = "redis")]
    Redis(Arc<super::redis::RedisEngine>),
}

/// `on_engine!(engine, e => expr)`: `expr` with `e` bound to the engine
/// under `engine` (an `&Engine`), whichever it is. The one place that lists
/// the engines.
macro_rules! on_engine {
    ($engine:expr, $e:ident => $body:expr) => {{
        #[allow(unused_imports)]
        use $crate::store::engine::StorageEngine as _;
        match $engine {
            $crate::store::engine::Engine::Lmdb($e) => $body,
            #[cfg(feature = "redis")]
            $crate::store::engine::Engine::Redis($e) => $body,
        }
    }};
}
pub(crate) use on_engine;

/// The direction of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Ascending byte order of the keys.
    Forward,
    /// Descending byte order (a list's newest items first).
    Reverse,
}

/// Which keys a scan visits.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct KeyRange<'k> {
    /// Only keys starting with this (empty: every key).
    pub prefix: &'k [u8],
    /// Only keys after this one in the scan's direction (a page's cursor):
    /// greater for [`Order::Forward`], smaller for [`Order::Reverse`].
    pub after: Option<&'k [u8]>,
}

impl<'k> KeyRange<'k> {
    /// Every key starting with `prefix`.
    pub(crate) fn prefix(prefix: &'k [u8]) -> Self {
        Self {
            prefix,
            after: None,
        }
    }
}

/// What a scan's closure gets: a key and its stored bytes; it returns
/// whether to go on.
pub(crate) type Visit<'f> = dyn FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>> + 'f;

/// What a storage engine does for a store (see the [module](self) for the
/// contract every method keeps).
pub(crate) trait StorageEngine: Send + Sync + 'static {
    /// Calls `f` with the bytes stored at `key` (`None`: no record), in one
    /// short read; returns what `f` returns.
    fn read<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> Result<R>) -> Result<R>;

    /// Calls `f` with each record (key, stored bytes) of `range` in `order`
    /// until it breaks.
    fn scan(&self, range: KeyRange<'_>, order: Order, f: &mut Visit<'_>) -> Result<()>;

    /// How many entries of the expiry index are due by the store's clock.
    fn count_expired(&self) -> Result<usize>;

    /// Runs `batch` to its end: every job is answered (`succeed` or `fail`).
    /// `answering` is called once, just before the jobs that succeeded are
    /// answered. A job not started by `timeout` after it was queued may be
    /// failed with [`Error::Busy`](crate::Error::Busy) unrun.
    fn execute(&self, batch: Vec<Box<dyn Job>>, timeout: Duration, answering: &mut dyn FnMut());

    /// Whether an async caller may lead a batch on its own thread (a commit
    /// takes microseconds) rather than hand it to the writer thread.
    fn commits_inline(&self) -> bool;

    /// The change log's newest position (where a watcher starts "from now").
    fn changes_now(&self) -> Result<Cursor>;

    /// Up to `limit` logged changes under `prefix` after `cursor`.
    fn read_changes(&self, cursor: Cursor, prefix: &[u8], limit: usize) -> Result<Read>;

    /// A receiver that changes whenever something may have been logged, by
    /// this process or another.
    fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64>;

    /// The keys values are sealed with, if any.
    fn keys(&self) -> Option<&Keyring>;

    /// The directory of an embedded store.
    fn path(&self) -> Option<&Path> {
        None
    }

    /// The URL (without password) of a store on a server.
    fn url(&self) -> Option<&str> {
        None
    }

    /// Whether a read waits for a server (async reads then leave the
    /// runtime's threads) rather than taking microseconds in memory.
    fn waits_on_network(&self) -> bool;

    /// Optimistic transactions lost to concurrent writers and redone.
    fn conflicts(&self) -> u64 {
        0
    }

    /// The size of the memory map, in bytes, where there is one.
    fn map_bytes(&self) -> Option<u64> {
        None
    }

    /// Writes a compacted copy of the store to `target` (which must not
    /// exist), consistent as of one moment, while writes go on; an
    /// [`Error::Unsupported`](crate::Error::Unsupported) where the engine
    /// has no such copy.
    fn backup_to(&self, target: &Path) -> Result<()>;
}

/// What one write job does in its engine's transaction (see the
/// [module](self) for the contract). Engine-agnostic work (sealing, the
/// envelope, refusing to write in clear over sealed records) is done above,
/// in [`WriteCtx`](super::txn::WriteCtx), which delegates here.
pub(crate) trait EngineTxn {
    /// The bytes stored at `key` as the engine holds them (sealed or not),
    /// this job's own writes included.
    fn get(&mut self, key: &[u8]) -> Result<Option<&[u8]>>;

    /// Reads the records of `keys` ahead, for a job about to read them one
    /// by one (one round trip on a server instead of one per key).
    fn prefetch(&mut self, _keys: &[Vec<u8>]) -> Result<()> {
        Ok(())
    }

    /// Stores `bytes` at `key` under `header`, replacing a record whose
    /// header was `old` (`None`: no record, or one whose header is
    /// unknown); moves its expiry index entry and logs the change.
    fn put(
        &mut self,
        key: &[u8],
        old: Option<&Header>,
        header: &Header,
        bytes: Vec<u8>,
    ) -> Result<()>;

    /// Deletes the record at `key` whose header is `old` (and its expiry
    /// index entry), logging the change as `kind`. Returns whether a record
    /// was there.
    fn remove(&mut self, key: &[u8], old: Option<&Header>, kind: ChangeKind) -> Result<bool>;

    /// The keys and stored bytes' headers of every record under `prefix`,
    /// in key order (or reversed), collected first so the job may change them.
    fn scan_headers(&mut self, prefix: &str, rev: bool) -> Result<Vec<(String, Header)>>;

    /// The greatest key under `prefix`, if any.
    fn last_key_under(&mut self, prefix: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Takes up to `limit` entries due by `now_ms` out of the expiry index,
    /// oldest expiry first: `(expires_ms, record key)`.
    fn take_due_expiries(&mut self, now_ms: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>>;

    /// Notes, with this job's writes, that the store seals with `key_id`.
    fn mark_encrypted(&mut self, key_id: &str) -> Result<()>;

    /// The key id the store says it seals with, if it does.
    fn encrypted(&mut self) -> Result<Option<String>>;
}

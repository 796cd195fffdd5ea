//! The Redis engine: the same boundary as LMDB's (see [`crate::store`]) on a
//! Redis or Valkey server that several processes and machines share.
//!
//! # Layout
//!
//! Every key of an application starts with `mcp-persist:{app}:`; the braces
//! are a Redis Cluster hash tag, so that every key of one application lives
//! in one slot and the multi-key transactions below work on a cluster too.
//!
//! - `mcp-persist:{app}:r:<key>`: a record's envelope (the same bytes as on
//!   LMDB), with a native expiry (`PXAT`) when the record has one and the
//!   store runs on the system clock;
//! - `mcp-persist:{app}:keys`: a sorted set of every record key, all with
//!   score 0, so that Redis orders them by bytes like LMDB does: listings
//!   and cursors are `ZRANGEBYLEX` pages, never `KEYS` or `SCAN`;
//! - `mcp-persist:{app}:expiry`: a sorted set of the keys with an expiry,
//!   scored by it: what `expired_pending` counts and the sweeper walks to
//!   drop the entries of records Redis already expired.
//!
//! # Jobs
//!
//! A write job runs against a [`RedisTxn`]: what it reads is `WATCH`ed
//! first, what it writes is queued, and the queue is sent as one
//! `MULTI`/`EXEC` after the job returns. When another writer changed a
//! watched key in between, `EXEC` applies nothing and the job runs again
//! (the contract of [`super::txn`] allows it), until the store's write
//! timeout ([`Error::Contended`]). A write is acknowledged once `EXEC`
//! answered: how durable that is depends on the server's persistence
//! settings (README, "Running several replicas").
//!
//! # Connections
//!
//! Synchronous connections, each operation bounded by the network timeout,
//! kept in a small pool. An I/O error drops the connection (its next reply
//! is unknown), so the store reconnects by itself once Redis is back. Async
//! callers hand jobs to tokio's blocking pool. The synchronous client is a
//! choice: a job is a synchronous closure that reads (`WATCH` + `GET`) and
//! then decides what to write, which an async connection could serve only by
//! blocking on it anyway.

mod feed;
mod pool;
mod txn;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::{Connection, RedisError};

use pool::{Con, Pool};
pub(crate) use txn::RedisTxn;

use super::changes::{Cursor, Read, Signal};
use super::engine::{KeyRange, Order, StorageEngine, Visit};
use super::settings::redact_url;
use super::txn::WriteCtx;
use super::writer::{Job, panic_message};
use crate::clock::Clock;
use crate::crypt::Keyring;
use crate::error::{Error, Result};

/// How many keys one page of a scan reads (one `ZRANGEBYLEX` and one `MGET`).
const SCAN_PAGE: usize = 256;

/// The keys of one application on the server.
pub(crate) struct Keys {
    /// `mcp-persist:{app}:`.
    base: Vec<u8>,
    /// The sorted set of every record key.
    index: Vec<u8>,
    /// The sorted set of record keys by expiry.
    expiry: Vec<u8>,
    /// The change log: a stream, one entry per change (see `feed`).
    changes: Vec<u8>,
    /// Entries the change log keeps (about: trimmed with `MAXLEN ~`).
    change_log: u64,
    /// The key id of the store's sealed records, once any was written.
    encrypted: Vec<u8>,
    /// What `encrypted` held when the store connected.
    encrypted_as: std::sync::OnceLock<Option<String>>,
    /// The server's URL without its password, for errors.
    pub url: Arc<str>,
}

impl Keys {
    fn new(app: &str, url: Arc<str>, change_log: u64) -> Self {
        let base = format!("mcp-persist:{{{app}}}:").into_bytes();
        let with = |suffix: &str| [base.as_slice(), suffix.as_bytes()].concat();
        Self {
            index: with("keys"),
            expiry: with("expiry"),
            changes: with("changes"),
            change_log: change_log.max(1),
            encrypted: with("encrypted"),
            encrypted_as: std::sync::OnceLock::new(),
            base,
            url,
        }
    }

    /// The Redis key of the record at `key`.
    pub fn record(&self, key: &[u8]) -> Vec<u8> {
        [self.base.as_slice(), b"r:", key].concat()
    }

    /// The error for a failed Redis call.
    pub fn error(&self, err: &RedisError) -> Error {
        let reason = if err.is_timeout() {
            format!("no answer within the network timeout ({err})")
        } else if err.is_connection_refusal() {
            format!("cannot connect ({err}); is the server running?")
        } else {
            err.to_string()
        };
        Error::Backend {
            url: self.url.to_string(),
            reason,
        }
    }
}

/// The exclusive upper bound of the keys under `prefix`: keys are UTF-8,
/// which never holds the byte 0xFF.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    [prefix, &[0xFF]].concat()
}

/// A lexicographic bound of `ZRANGEBYLEX`: `[x` inclusive, `(x` exclusive.
fn lex(inclusive: bool, key: &[u8]) -> Vec<u8> {
    [if inclusive { b"[" } else { b"(" }, key].concat()
}

/// A store's connection to its Redis server.
pub(crate) struct RedisEngine {
    client: redis::Client,
    keys: Arc<Keys>,
    pool: Pool,
    /// Bound on connecting and on each reply.
    network_timeout: Duration,
    /// How long a job may keep losing its transaction.
    write_timeout: Duration,
    clock: Arc<dyn Clock>,
    /// Records with an expiry get a native one (`PXAT`): only on the system
    /// clock, since Redis expires by its own.
    native_expiry: bool,
    /// Transactions lost to concurrent writers (EXEC answered nil), for
    /// benchmarks and monitoring.
    conflicts: AtomicU64,
    /// The keys values are sealed with, if the store encrypts.
    keys_ring: Option<Arc<Keyring>>,
    /// Wakes this process's watchers.
    signal: Arc<Signal>,
}

/// How a [`RedisEngine`] is set up.
pub(crate) struct RedisOptions {
    pub keys: Option<Arc<Keyring>>,
    /// Entries the change log keeps.
    pub change_log: u64,
    pub network_timeout: Duration,
    pub max_connections: usize,
    pub write_timeout: Duration,
    pub clock: Arc<dyn Clock>,
    pub native_expiry: bool,
}

/// Whether `url` asks for TLS (`rediss://`, `valkeys://`).
fn is_tls(url: &str) -> bool {
    url.starts_with("rediss://") || url.starts_with("valkeys://")
}

/// Makes TLS usable: rustls needs a crypto provider for the process (ring,
/// unless the program installed one); an error without feature `redis-tls`.
#[cfg(feature = "redis-tls")]
fn tls_ready(_url: &str) -> Result<()> {
    // An error only says a provider is installed already: the program's own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(())
}

#[cfg(not(feature = "redis-tls"))]
fn tls_ready(url: &str) -> Result<()> {
    Err(Error::Unsupported(format!(
        "{url} asks for TLS, and this program was built without mcp-persist's `redis-tls` feature"
    )))
}

impl RedisEngine {
    /// Connects to `url` for application `app`, checking the server answers.
    pub fn connect(url: &str, app: &str, opts: RedisOptions) -> Result<Self> {
        super::paths::validate_app(app)?;
        let shown: Arc<str> = redact_url(url).into();
        if is_tls(url) {
            tls_ready(&shown)?;
        }
        let client = redis::Client::open(url).map_err(|err| Error::Backend {
            url: shown.to_string(),
            reason: format!("not a usable redis URL: {err}"),
        })?;
        let engine = Self {
            client,
            keys: Arc::new(Keys::new(app, shown, opts.change_log)),
            pool: Pool::new(opts.max_connections),
            network_timeout: opts.network_timeout,
            write_timeout: opts.write_timeout,
            clock: opts.clock,
            native_expiry: opts.native_expiry,
            conflicts: AtomicU64::new(0),
            keys_ring: opts.keys,
            signal: Signal::new(),
        };
        let version: String = engine.call(|con| {
            redis::cmd("INFO")
                .arg("server")
                .query::<String>(con)
                .map(|info| {
                    info.lines()
                        .find_map(|l| l.strip_prefix("redis_version:"))
                        .unwrap_or("?")
                        .trim()
                        .to_owned()
                })
        })?;
        tracing::debug!(url = %engine.keys.url, app, version, "connected to redis");
        let marker = engine.keys.encrypted.clone();
        let encrypted: Option<String> =
            engine.call(|con| redis::cmd("GET").arg(&marker).query(con))?;
        if let (Some(key_id), None) = (&encrypted, &engine.keys_ring) {
            tracing::warn!(
                url = %engine.keys.url,
                app,
                key_id,
                "this store is encrypted and was opened without keys: sealed records cannot be \
                 read and no value can be written (give the keys with {})",
                crate::crypt::KEY_FILE_ENV_VAR
            );
        }
        let _ = engine.keys.encrypted_as.set(encrypted);
        Ok(engine)
    }

    /// The clock's reading.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Opens a connection, every call on it bounded by the network timeout.
    fn connect_raw(&self) -> redis::RedisResult<Connection> {
        let con = self
            .client
            .get_connection_with_timeout(self.network_timeout)?;
        con.set_read_timeout(Some(self.network_timeout))?;
        con.set_write_timeout(Some(self.network_timeout))?;
        Ok(con)
    }

    /// An idle connection (`true`: it may have gone stale) or a new one,
    /// waiting at most the network timeout for one when all are busy.
    fn checkout(&self) -> Result<(Con, bool)> {
        self.pool.checkout(
            self.network_timeout,
            || self.connect_raw(),
            |err| self.keys.error(err),
            |max| Error::Backend {
                url: self.keys.url.to_string(),
                reason: format!(
                    "all {max} connections of this store stayed busy for {:?} (raise \
                     StoreBuilder::max_connections, or the network timeout)",
                    self.network_timeout
                ),
            },
        )
    }

    /// A new connection, for a second try after a stale one: the idle ones
    /// are closed (as stale), so the pool opens one, within its limit.
    fn new_connection(&self) -> Result<Con> {
        self.forget_idle();
        self.checkout().map(|(con, _)| con)
    }

    fn give_back(&self, con: Con) {
        self.pool.give_back(con);
    }

    /// Drops every idle connection: one of them failed as if the server had
    /// restarted, so the others are as stale.
    fn forget_idle(&self) {
        self.pool.forget_idle();
    }

    /// Runs a read-only call; once more on a new connection when an idle
    /// one turns out closed (the server restarted, or closed it idle).
    fn call<R>(&self, mut f: impl FnMut(&mut Connection) -> redis::RedisResult<R>) -> Result<R> {
        let (mut con, reused) = self.checkout()?;
        match f(&mut con) {
            Ok(out) => {
                self.give_back(con);
                Ok(out)
            }
            Err(err) if reused && stale(&err) => {
                drop(con);
                let mut con = self.new_connection()?;
                let out = f(&mut con).map_err(|err| self.keys.error(&err))?;
                self.give_back(con);
                Ok(out)
            }
            Err(err) => Err(self.keys.error(&err)),
        }
    }

    /// One attempt at `batch` on one connection (a new one if `fresh`).
    fn attempt(&self, batch: &mut Vec<Box<dyn Job>>, fresh: bool) -> Attempt {
        let checked_out = if fresh {
            self.new_connection().map(|con| (con, false))
        } else {
            self.checkout()
        };
        let (con, reused) = match checked_out {
            Ok(got) => got,
            Err(Error::Backend { reason, .. }) => return Attempt::Failed(reason),
            Err(err) => return Attempt::Failed(err.to_string()),
        };
        let mut txn = RedisTxn::new(
            con,
            Arc::clone(&self.keys),
            self.native_expiry,
            self.keys_ring.is_none(),
        );
        let now_ms = self.now_ms();
        // What each job ended with (`None`: it succeeded); told only once
        // the batch committed, since a lost transaction runs them all again.
        let mut failures: Vec<Option<Error>> = batch.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        let mut round = 0;
        let broken = loop {
            let deferred = round < MAX_DEFERRED_ROUNDS;
            let mut again = Vec::new();
            for &i in &pending {
                txn.begin_job(deferred);
                let job = &mut batch[i];
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    job.run(&mut WriteCtx::new(
                        &mut txn,
                        self.keys_ring.as_deref(),
                        now_ms,
                    ))
                }))
                .unwrap_or_else(|panic| Err(Error::Panicked(panic_message(&*panic))));
                if txn.end_job(result.is_ok()) {
                    again.push(i);
                } else {
                    failures[i] = result.err();
                }
                if txn.is_broken() {
                    break;
                }
            }
            if txn.is_broken() || again.is_empty() {
                break txn.is_broken();
            }
            if txn.fetch_wanted().is_err() {
                break true;
            }
            pending = again;
            round += 1;
        };
        let committed = if broken { None } else { txn.exec().ok() };
        let stale = reused && txn.went_stale();
        let reason = txn.failure().map(|reason| {
            if txn.outcome_unknown() {
                format!(
                    "{reason}; the write was sent and its answer lost: it may or may not have \
                     been applied (read before retrying a change that is not idempotent)"
                )
            } else {
                reason
            }
        });
        if let Some(con) = txn.finish() {
            self.give_back(con);
        }
        match committed {
            Some(true) => {
                for (i, failure) in failures.into_iter().enumerate().rev() {
                    if let Some(err) = failure {
                        batch.remove(i).fail(err);
                    }
                }
                Attempt::Committed
            }
            Some(false) => Attempt::Conflict,
            None if stale => Attempt::Stale,
            None => Attempt::Failed(reason.unwrap_or_else(|| "the connection failed".into())),
        }
    }
}

/// How many lost transactions a batch takes before its jobs run one by one.
const SPLIT_AFTER_CONFLICTS: u32 = 3;

/// How many times a batch stops to fetch what its jobs asked for before
/// its jobs read as they go (one round trip per read).
const MAX_DEFERRED_ROUNDS: usize = 8;

/// How one attempt at a batch ended.
enum Attempt {
    /// Applied; the jobs that failed alone were told so.
    Committed,
    /// A watched key changed: nothing was applied, run the batch again.
    Conflict,
    /// An idle connection turned out closed before anything was written.
    Stale,
    /// The server failed or could not be reached: why.
    Failed(String),
}

impl RedisEngine {
    /// Runs `batch` as one optimistic transaction, again after each lost
    /// race, until it commits or the write timeout passes.
    fn execute_batch(&self, mut batch: Vec<Box<dyn Job>>, answering: &mut dyn FnMut()) {
        // Jobs whose callers gave up are dropped unrun; the others start now.
        batch.retain(|job| job.claim());
        let started = Instant::now();
        let (mut attempts, mut fresh) = (0u32, false);
        loop {
            if batch.is_empty() {
                return;
            }
            attempts += 1;
            let failure = match self.attempt(&mut batch, fresh) {
                Attempt::Committed => {
                    self.signal.bump();
                    answering();
                    batch.into_iter().for_each(|job| job.succeed());
                    return;
                }
                Attempt::Conflict => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    fresh = false;
                    let waited = started.elapsed();
                    if attempts >= SPLIT_AFTER_CONFLICTS && batch.len() > 1 {
                        // A record another process keeps changing must not
                        // fail the jobs batched with it: each on its own.
                        answering();
                        for job in batch {
                            self.execute_batch(vec![job], &mut || {});
                        }
                        return;
                    }
                    if waited < self.write_timeout {
                        back_off(attempts);
                        continue;
                    }
                    Error::Contended {
                        url: self.keys.url.to_string(),
                        attempts,
                        waited,
                    }
                }
                // Nothing was sent but reads: once more on a new connection.
                Attempt::Stale if !fresh => {
                    self.forget_idle();
                    fresh = true;
                    continue;
                }
                Attempt::Stale => Error::Backend {
                    url: self.keys.url.to_string(),
                    reason: "the connection was closed".into(),
                },
                Attempt::Failed(reason) => Error::Backend {
                    url: self.keys.url.to_string(),
                    reason,
                },
            };
            for job in batch {
                job.fail(same_failure(&failure));
            }
            return;
        }
    }
}

impl RedisEngine {
    /// The server's URL as errors and logs show it (no password).
    pub(crate) fn shown_url(&self) -> &str {
        &self.keys.url
    }
}

impl StorageEngine for RedisEngine {
    /// One GET of the record's key.
    fn read<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> Result<R>) -> Result<R> {
        let record = self.keys.record(key);
        let stored: Option<Vec<u8>> = self.call(|con| redis::cmd("GET").arg(&record).query(con))?;
        f(stored.as_deref())
    }

    /// Visits the records of `range` in `order`, a page of keys at a time.
    fn scan(&self, range: KeyRange<'_>, order: Order, f: &mut Visit<'_>) -> Result<()> {
        let end = prefix_end(range.prefix);
        // Both bounds as ZRANGEBYLEX takes them; the scan moves one of them.
        let (mut low, mut high) = match order {
            Order::Forward => {
                let low = match range.after {
                    Some(after) if after >= range.prefix => lex(false, after),
                    _ => lex(true, range.prefix),
                };
                (low, lex(false, &end))
            }
            Order::Reverse => {
                let high = match range.after {
                    Some(after) if after < end.as_slice() => lex(false, after),
                    _ => lex(false, &end),
                };
                (lex(true, range.prefix), high)
            }
        };
        loop {
            let keys: Vec<Vec<u8>> = self.call(|con| {
                let mut cmd = match order {
                    Order::Forward => redis::cmd("ZRANGEBYLEX"),
                    Order::Reverse => redis::cmd("ZREVRANGEBYLEX"),
                };
                cmd.arg(&self.keys.index);
                match order {
                    Order::Forward => cmd.arg(&low).arg(&high),
                    Order::Reverse => cmd.arg(&high).arg(&low),
                };
                cmd.arg("LIMIT").arg(0).arg(SCAN_PAGE).query(con)
            })?;
            let Some(last) = keys.last() else {
                return Ok(());
            };
            let records: Vec<Vec<u8>> = keys.iter().map(|k| self.keys.record(k)).collect();
            let values: Vec<Option<Vec<u8>>> =
                self.call(|con| redis::cmd("MGET").arg(&records).query(con))?;
            for (key, value) in keys.iter().zip(&values) {
                // Gone since the page was read, or expired by Redis.
                let Some(value) = value else { continue };
                if f(key, value)?.is_break() {
                    return Ok(());
                }
            }
            if keys.len() < SCAN_PAGE {
                return Ok(());
            }
            match order {
                Order::Forward => low = lex(false, last),
                Order::Reverse => high = lex(false, last),
            }
        }
    }

    /// How many records are due by now and not swept yet.
    fn count_expired(&self) -> Result<usize> {
        let now = self.now_ms();
        self.call(|con| {
            redis::cmd("ZCOUNT")
                .arg(&self.keys.expiry)
                .arg("-inf")
                .arg(now)
                .query(con)
        })
    }

    /// Runs `batch` as one optimistic transaction, again after each lost
    /// race, until it commits or the write timeout passes.
    fn execute(&self, batch: Vec<Box<dyn Job>>, _timeout: Duration, answering: &mut dyn FnMut()) {
        self.execute_batch(batch, answering);
    }

    /// A write waits on the network: never on a runtime thread.
    fn commits_inline(&self) -> bool {
        false
    }

    fn changes_now(&self) -> Result<Cursor> {
        self.stream_position()
    }

    fn read_changes(&self, cursor: Cursor, prefix: &[u8], limit: usize) -> Result<Read> {
        self.read_stream(cursor, prefix, limit)
    }

    fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.subscribe_stream()
    }

    fn keys(&self) -> Option<&Keyring> {
        self.keys_ring.as_deref()
    }

    fn url(&self) -> Option<&str> {
        Some(self.shown_url())
    }

    fn waits_on_network(&self) -> bool {
        true
    }

    fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    fn backup_to(&self, _target: &Path) -> Result<()> {
        Err(Error::Unsupported(format!(
            "a file backup is for an embedded (LMDB) store (use the export command, or the \
             server's own snapshots); this store is {}",
            self.keys.url
        )))
    }
}

/// `failure` again, for each job of a batch that failed with it (the URL
/// named once, as in the first).
fn same_failure(failure: &Error) -> Error {
    match failure {
        Error::Contended {
            url,
            attempts,
            waited,
        } => Error::Contended {
            url: url.clone(),
            attempts: *attempts,
            waited: *waited,
        },
        Error::Backend { url, reason } => Error::Backend {
            url: url.clone(),
            reason: reason.clone(),
        },
        other => Error::Backend {
            url: String::new(),
            reason: other.to_string(),
        },
    }
}

/// A pause after the `attempts`-th lost transaction, growing to 10 ms and
/// jittered (by the clock's nanoseconds), so that contending writers spread.
fn back_off(attempts: u32) {
    if attempts < 3 {
        return;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let ceiling_us = (attempts.min(20) * 500) as u64;
    let pause = u64::from(nanos) % ceiling_us.max(1);
    std::thread::sleep(Duration::from_micros(pause));
}

/// Whether `err` is what a connection the server closed gives.
fn stale(err: &RedisError) -> bool {
    err.is_connection_dropped() || err.is_io_error() && !err.is_timeout()
}

#[cfg(test)]
#[path = "../../../../tests/common/redis_server.rs"]
mod test_server;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{self, Header};
    use crate::store::engine::EngineTxn;

    /// A transaction on `server`, for tests of what one batch does.
    fn txn_on(server: &test_server::RedisServer, keys: &Arc<Keys>) -> RedisTxn {
        let client = redis::Client::open(server.url()).unwrap();
        let (con, _) = Pool::new(1)
            .checkout(
                Duration::from_secs(5),
                || client.get_connection(),
                |e| keys.error(e),
                |_| unreachable!(),
            )
            .unwrap();
        RedisTxn::new(con, Arc::clone(keys), false, false)
    }

    /// Review of issue 15: a sweep batched after a write of the same record
    /// must leave the write's expiry entry alone.
    #[test]
    fn a_sweep_after_a_rewrite_in_one_batch_keeps_the_new_expiry() {
        let Some(server) = test_server::RedisServer::start() else {
            return;
        };
        let keys = Arc::new(Keys::new("t", server.url().into(), 100));
        let header = |expires| Header {
            version: 1,
            created_ms: 1,
            updated_ms: 1,
            expires_ms: Some(expires),
            ttl_ms: None,
        };
        // K expired at 10 (by the store's clock), still stored and indexed.
        let mut seed = txn_on(&server, &keys);
        seed.begin_job(false);
        seed.put(
            b"ns:k",
            None,
            &header(10),
            envelope::encode(&header(10), b"1"),
        )
        .unwrap();
        seed.end_job(true);
        assert!(seed.exec().unwrap());
        drop(seed.finish());

        let mut txn = txn_on(&server, &keys);
        txn.begin_job(false);
        txn.put(
            b"ns:k",
            Some(&header(10)),
            &header(5_000),
            envelope::encode(&header(5_000), b"2"),
        )
        .unwrap();
        txn.end_job(true);
        txn.begin_job(false);
        let due = txn.take_due_expiries(100, 10).unwrap();
        assert!(due.is_empty(), "{due:?}");
        txn.end_job(true);
        assert!(txn.exec().unwrap());
        assert_eq!(
            server.command(&["ZSCORE", "mcp-persist:{t}:expiry", "ns:k"]),
            "5000"
        );
    }

    #[test]
    fn keys_share_one_hash_tag() {
        let keys = Keys::new("notes", "redis://h:1/0".into(), 100);
        assert_eq!(keys.record(b"ns:k"), b"mcp-persist:{notes}:r:ns:k");
        assert_eq!(keys.index, b"mcp-persist:{notes}:keys");
        assert_eq!(keys.expiry, b"mcp-persist:{notes}:expiry");
    }

    #[test]
    fn an_unreachable_server_is_an_error_naming_it_within_the_timeout() {
        // A port nothing listens on: bind one, then close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let url = format!("redis://127.0.0.1:{port}/0");
        let started = Instant::now();
        let opts = RedisOptions {
            keys: None,
            change_log: 100,
            network_timeout: Duration::from_millis(500),
            max_connections: 4,
            write_timeout: Duration::from_secs(1),
            clock: Arc::new(crate::clock::SystemClock),
            native_expiry: true,
        };
        let err = RedisEngine::connect(&url, "app", opts)
            .err()
            .expect("no server there");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            matches!(&err, Error::Backend { url: u, .. } if *u == url),
            "{err:?}"
        );
        assert!(err.to_string().contains(&url), "{err}");
    }
}

//! [`RedisTxn`]: one attempt at a batch of write jobs on Redis, as one
//! optimistic transaction (see [`super`] for the layout and
//! [`crate::store`] for the contract every engine keeps).
//!
//! Every record a job reads is `WATCH`ed before it is read; every write is
//! queued, and the writes of every job that succeeded go out as one
//! `MULTI`/`EXEC`. A job sees, over the server's values, the writes of the
//! jobs before it in the batch and its own; a job that fails leaves no
//! trace (its writes and what it saw of them are dropped).
//!
//! **Deferred reads.** While the batch runs in deferred mode, a job that
//! asks for a record nobody fetched yet stops (its run is dropped) and the
//! key is noted; the batch then fetches every noted key in one round trip
//! and runs those jobs again. A batch of saves thus reads in one round trip
//! and writes in one, however many jobs it holds.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use redis::{Cmd, FromRedisValue, Pipeline, RedisError};

use super::pool::Con;
use super::{Keys, lex, prefix_end};
use crate::envelope::{self, Header};
use crate::error::{Error, Result};
use crate::store::changes::{self, ChangeKind};
use crate::store::engine::EngineTxn;

/// The values as a job sees them: key -> envelope (`None`: no record).
type Values = HashMap<Vec<u8>, Option<Vec<u8>>>;

/// What one attempt at a batch read (watched) and queued.
pub(crate) struct RedisTxn {
    con: Con,
    keys: Arc<Keys>,
    native_expiry: bool,
    /// The server's values of every record fetched (each one watched).
    fetched: Values,
    /// The writes of the jobs of this batch that succeeded.
    batch: Values,
    /// The writes of the running job.
    job: Values,
    /// The commands of the running job, and of the jobs that succeeded.
    job_cmds: Vec<Cmd>,
    cmds: Vec<Cmd>,
    /// Deferred mode: a read of a record not fetched stops the job.
    deferred: bool,
    /// Keys jobs asked for in deferred mode, to fetch together.
    wanted: BTreeSet<Vec<u8>>,
    /// The running job stopped for a record not fetched yet.
    stopped: bool,
    watching: bool,
    index_watched: bool,
    expiry_watched: bool,
    /// A call succeeded on this connection.
    answered: bool,
    /// EXEC was sent: a failure from here leaves the outcome unknown.
    exec_sent: bool,
    /// A call failed: the connection's state is unknown.
    broken: Option<RedisError>,
    /// A store without keys reads (and watches) the store's encryption
    /// mark with its first fetch: a value in clear is never written beside
    /// sealed ones, even if another process sealed its first value a
    /// moment ago.
    read_mark: bool,
    /// The mark as read in this attempt (`None`: not read yet).
    mark: Option<Option<String>>,
}

impl RedisTxn {
    pub fn new(con: Con, keys: Arc<Keys>, native_expiry: bool, read_mark: bool) -> Self {
        Self {
            con,
            keys,
            native_expiry,
            fetched: Values::new(),
            batch: Values::new(),
            job: Values::new(),
            job_cmds: Vec::new(),
            cmds: Vec::new(),
            deferred: false,
            wanted: BTreeSet::new(),
            stopped: false,
            watching: false,
            index_watched: false,
            expiry_watched: false,
            answered: false,
            exec_sent: false,
            broken: None,
            read_mark,
            mark: None,
        }
    }

    /// Sends `pipe` (not a transaction) and reads its replies.
    fn send<T: FromRedisValue>(&mut self, pipe: &Pipeline) -> Result<T> {
        if let Some(err) = &self.broken {
            return Err(self.keys.error(err));
        }
        match pipe.query(&mut *self.con) {
            Ok(out) => {
                self.answered = true;
                Ok(out)
            }
            Err(err) => {
                let out = self.keys.error(&err);
                self.broken = Some(err);
                Err(out)
            }
        }
    }

    /// The connection failed: the attempt is over, whatever the job says.
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// Why the connection failed, in words.
    pub fn failure(&self) -> Option<String> {
        self.broken.as_ref().map(|err| match self.keys.error(err) {
            Error::Backend { reason, .. } => reason,
            other => other.to_string(),
        })
    }

    /// Whether the first call on this connection failed as a connection
    /// the server closed does: nothing was sent but reads, redo the batch.
    pub fn went_stale(&self) -> bool {
        !self.answered && !self.exec_sent && self.broken.as_ref().is_some_and(super::stale)
    }

    /// Whether EXEC was sent and its answer lost: Redis may have applied it.
    pub fn outcome_unknown(&self) -> bool {
        self.exec_sent && self.broken.is_some()
    }

    /// Runs the next job in deferred mode (`true`) or reading as it goes.
    pub fn begin_job(&mut self, deferred: bool) {
        self.deferred = deferred;
        self.stopped = false;
        self.job.clear();
        self.job_cmds.clear();
    }

    /// The running job ended: its writes join the batch if it `succeeded`
    /// (and did not stop for a record), else they are dropped. Returns
    /// whether it stopped for a record (run it again after [`fetch_wanted`](Self::fetch_wanted)).
    pub fn end_job(&mut self, succeeded: bool) -> bool {
        let stopped = self.stopped;
        if succeeded && !stopped {
            self.batch.extend(self.job.drain());
            self.cmds.append(&mut self.job_cmds);
        } else {
            self.job.clear();
            self.job_cmds.clear();
        }
        stopped
    }

    /// Fetches (and watches) every key deferred jobs asked for: one round trip.
    pub fn fetch_wanted(&mut self) -> Result<()> {
        let wanted: Vec<Vec<u8>> = std::mem::take(&mut self.wanted).into_iter().collect();
        self.fetch(&wanted)
    }

    /// The value of `key` as the running job sees it, if known.
    fn view(&self, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.job
            .get(key)
            .or_else(|| self.batch.get(key))
            .or_else(|| self.fetched.get(key))
    }

    /// Reads (and watches) the records of `keys` not fetched yet.
    fn fetch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        let unseen: Vec<&Vec<u8>> = keys
            .iter()
            .filter(|k| !self.fetched.contains_key(*k))
            .collect();
        if unseen.is_empty() {
            return Ok(());
        }
        let records: Vec<Vec<u8>> = unseen.iter().map(|k| self.keys.record(k)).collect();
        let mut pipe = redis::pipe();
        pipe.cmd("WATCH").arg(&records).ignore();
        pipe.cmd("MGET").arg(&records);
        let with_mark = self.read_mark && self.mark.is_none();
        let values = if with_mark {
            pipe.cmd("WATCH").arg(&self.keys.encrypted).ignore();
            pipe.cmd("GET").arg(&self.keys.encrypted);
            let (values, mark): (Vec<Option<Vec<u8>>>, Option<String>) = self.send(&pipe)?;
            self.mark = Some(mark);
            values
        } else {
            let (values,): (Vec<Option<Vec<u8>>>,) = self.send(&pipe)?;
            values
        };
        self.watching = true;
        let unseen: Vec<Vec<u8>> = unseen.into_iter().cloned().collect();
        self.fetched.extend(unseen.into_iter().zip(values));
        Ok(())
    }

    /// Queues a command of the running job (its reply is not looked at).
    fn queue(&mut self, cmd: Cmd) {
        self.job_cmds.push(cmd);
    }

    /// Queues an entry of the change log (in the same MULTI as the change).
    fn log(&mut self, kind: ChangeKind, key: &[u8], header: Option<&Header>, created: bool) {
        let mut add = redis::cmd("XADD");
        add.arg(&self.keys.changes)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.keys.change_log)
            .arg("*")
            .arg("e")
            .arg(changes::encode(kind, key, header, created));
        self.queue(add);
    }

    /// The keys under `prefix` in the index (watched), in key order or
    /// reversed, at most `limit`.
    fn keys_under(
        &mut self,
        prefix: &[u8],
        limit: Option<usize>,
        rev: bool,
    ) -> Result<Vec<Vec<u8>>> {
        let end = prefix_end(prefix);
        let mut pipe = redis::pipe();
        if !self.index_watched {
            pipe.cmd("WATCH").arg(&self.keys.index).ignore();
            self.index_watched = true;
            self.watching = true;
        }
        let (low, high) = (lex(true, prefix), lex(false, &end));
        if rev {
            pipe.cmd("ZREVRANGEBYLEX")
                .arg(&self.keys.index)
                .arg(&high)
                .arg(&low);
        } else {
            pipe.cmd("ZRANGEBYLEX")
                .arg(&self.keys.index)
                .arg(&low)
                .arg(&high);
        }
        if let Some(limit) = limit {
            pipe.arg("LIMIT").arg(0).arg(limit);
        }
        let (keys,): (Vec<Vec<u8>>,) = self.send(&pipe)?;
        Ok(keys)
    }

    /// Every key under `prefix` with a record, as the running job sees them.
    fn live_under(&self, prefix: &[u8], stored: Vec<Vec<u8>>) -> BTreeSet<Vec<u8>> {
        let mut all: BTreeSet<Vec<u8>> = stored.into_iter().collect();
        for layer in [&self.fetched, &self.batch, &self.job] {
            all.extend(layer.keys().filter(|k| k.starts_with(prefix)).cloned());
        }
        all.retain(|k| matches!(self.view(k), Some(Some(_)) | None));
        all
    }

    /// Sends the writes of the jobs that succeeded as one MULTI/EXEC:
    /// `false` when a watched key changed since it was read (nothing was
    /// applied: run the batch again).
    pub fn exec(&mut self) -> Result<bool> {
        if self.cmds.is_empty() && !self.watching {
            return Ok(true);
        }
        let mut writes = redis::pipe();
        writes.atomic();
        for cmd in self.cmds.drain(..) {
            writes.add_command(cmd).ignore();
        }
        // EXEC answers nil when the transaction was aborted; either way the
        // watches are over.
        self.exec_sent = true;
        let done: Option<redis::Value> = self.send(&writes)?;
        self.watching = false;
        Ok(done.is_some())
    }

    /// The connection, if it may serve again (no watch left on it).
    pub fn finish(mut self) -> Option<Con> {
        if self.broken.is_some() {
            return None;
        }
        if self.watching {
            let mut unwatch = redis::pipe();
            unwatch.cmd("UNWATCH").ignore();
            self.send::<()>(&unwatch).ok()?;
        }
        Some(self.con)
    }
}

impl EngineTxn for RedisTxn {
    /// The envelope at `key` as the running job sees it.
    fn get(&mut self, key: &[u8]) -> Result<Option<&[u8]>> {
        if self.view(key).is_none() {
            if self.deferred {
                self.wanted.insert(key.to_vec());
                self.stopped = true;
                // What the job returns is not looked at: `stopped` is.
                return Err(Error::Backend {
                    url: self.keys.url.to_string(),
                    reason: "a read was deferred to the batch's next round trip".into(),
                });
            }
            self.fetch(&[key.to_vec()])?;
        }
        Ok(self.view(key).and_then(|v| v.as_deref()))
    }
    /// Reads (and watches) every record of `keys` not fetched yet, in one
    /// round trip: for jobs that are about to read them one by one.
    fn prefetch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        let unseen: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| self.view(k).is_none())
            .cloned()
            .collect();
        self.fetch(&unseen)
    }
    /// Queues storing `bytes` at `key` under `header` (`old: None`: there
    /// was no record there, as far as the job knows).
    fn put(
        &mut self,
        key: &[u8],
        old: Option<&Header>,
        header: &Header,
        bytes: Vec<u8>,
    ) -> Result<()> {
        let created = old.is_none();
        let expires_ms = header.expires_ms;
        let mut set = redis::cmd("SET");
        set.arg(self.keys.record(key)).arg(&bytes);
        if let (Some(at), true) = (expires_ms, self.native_expiry) {
            // At least 1: PXAT 0 is refused. A past expiry deletes at once.
            set.arg("PXAT").arg(at.max(1));
        }
        self.queue(set);
        let mut index = redis::cmd("ZADD");
        index.arg(&self.keys.index).arg(0).arg(key);
        self.queue(index);
        let mut expiry = match expires_ms {
            Some(at) => {
                let mut add = redis::cmd("ZADD");
                add.arg(&self.keys.expiry).arg(at);
                add
            }
            None => {
                let mut rem = redis::cmd("ZREM");
                rem.arg(&self.keys.expiry);
                rem
            }
        };
        expiry.arg(key);
        self.queue(expiry);
        self.log(ChangeKind::Put, key, Some(header), created);
        self.job.insert(key.to_vec(), Some(bytes));
        Ok(())
    }
    /// Queues deleting the record at `key` (logged as `kind` if there was
    /// one); whether there was one.
    fn remove(&mut self, key: &[u8], _old: Option<&Header>, kind: ChangeKind) -> Result<bool> {
        let was = self.get(key)?.is_some();
        // A sweep removes what Redis may have expired already: told too.
        if was || kind == ChangeKind::Expire {
            self.log(kind, key, None, false);
        }
        let mut del = redis::cmd("DEL");
        del.arg(self.keys.record(key));
        self.queue(del);
        for set in [&self.keys.index, &self.keys.expiry] {
            let mut rem = redis::cmd("ZREM");
            rem.arg(set).arg(key);
            self.job_cmds.push(rem);
        }
        self.job.insert(key.to_vec(), None);
        Ok(was)
    }
    /// The headers of every record under `prefix`, in key order (reversed
    /// with `rev`), as the running job sees them.
    fn scan_headers(&mut self, prefix: &str, rev: bool) -> Result<Vec<(String, Header)>> {
        let stored = self.keys_under(prefix.as_bytes(), None, rev)?;
        self.fetch(&stored)?;
        let live = self.live_under(prefix.as_bytes(), stored);
        let decode = |k: &Vec<u8>| -> Option<Result<(String, Header)>> {
            let bytes = self.view(k)?.as_deref()?;
            let key = String::from_utf8_lossy(k).into_owned();
            Some(envelope::decode_header(&key, bytes).map(|h| (key, h)))
        };
        if rev {
            live.iter().rev().filter_map(decode).collect()
        } else {
            live.iter().filter_map(decode).collect()
        }
    }
    /// The greatest key under `prefix`, as the running job sees them (a
    /// key of the index whose record the server expired may be returned).
    fn last_key_under(&mut self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut stored = self.keys_under(prefix, Some(1), true)?;
        if stored
            .first()
            .is_some_and(|top| matches!(self.view(top), Some(None)))
        {
            // The greatest stored key was deleted in this batch: the next
            // one down is needed, so read them all.
            stored = self.keys_under(prefix, None, true)?;
        }
        Ok(self.live_under(prefix, stored).pop_last())
    }
    /// Takes up to `limit` entries due by `now_ms` out of the expiry set.
    fn take_due_expiries(&mut self, now_ms: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut pipe = redis::pipe();
        if !self.expiry_watched {
            pipe.cmd("WATCH").arg(&self.keys.expiry).ignore();
            self.expiry_watched = true;
            self.watching = true;
        }
        pipe.cmd("ZRANGEBYSCORE")
            .arg(&self.keys.expiry)
            .arg("-inf")
            .arg(now_ms)
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit);
        let (due,): (Vec<(Vec<u8>, f64)>,) = self.send(&pipe)?;
        // A record written or removed earlier in this batch already has its
        // entry right (a later expiry, or none): not due, not to remove.
        let due: Vec<(Vec<u8>, f64)> = due
            .into_iter()
            .filter(|(k, _)| !self.job.contains_key(k) && !self.batch.contains_key(k))
            .collect();
        for (key, _) in &due {
            let mut rem = redis::cmd("ZREM");
            rem.arg(&self.keys.expiry).arg(key);
            self.queue(rem);
        }
        // The sweep reads each due record next: all of them in one trip.
        let keys: Vec<Vec<u8>> = due.iter().map(|(k, _)| k.clone()).collect();
        self.prefetch(&keys)?;
        // Scores are whole milliseconds, exact in an f64 below 2^53.
        Ok(due.into_iter().map(|(k, at)| (at as u64, k)).collect())
    }
    /// Queues marking the store encrypted, sealed with `key_id` (see
    /// `lmdb::ENCRYPTED`).
    fn mark_encrypted(&mut self, key_id: &str) -> Result<()> {
        let mut set = redis::cmd("SET");
        set.arg(&self.keys.encrypted).arg(key_id);
        self.queue(set);
        Ok(())
    }
    /// The key id the store encrypts with: as read with this attempt's
    /// first fetch, else as read when the store connected.
    fn encrypted(&mut self) -> Result<Option<String>> {
        let mark = match &self.mark {
            Some(mark) => mark.as_deref(),
            None => self.keys.encrypted_as.get().and_then(Option::as_deref),
        };
        Ok(mark.map(str::to_owned))
    }
}

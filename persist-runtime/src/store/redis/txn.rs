//! [`RedisTxn`]: one run of a write job on Redis, as an optimistic
//! transaction (see [`super`] for the layout and [`crate::store`] for the
//! contract every engine keeps).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use redis::{Connection, FromRedisValue, Pipeline, RedisError};

use super::{Keys, lex, prefix_end};
use crate::envelope::{self, Header};
use crate::error::Result;

/// What one run of a job read (watched) and queued.
pub(crate) struct RedisTxn {
    con: Connection,
    keys: Arc<Keys>,
    native_expiry: bool,
    /// Every record the job read or wrote, as the job sees it now
    /// (`None`: no record). Read ones are watched.
    seen: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// The writes, sent as one MULTI/EXEC.
    writes: Pipeline,
    wrote: bool,
    watching: bool,
    index_watched: bool,
    expiry_watched: bool,
    /// A call succeeded on this connection.
    answered: bool,
    /// A call failed: the connection's state is unknown.
    broken: Option<RedisError>,
}

impl RedisTxn {
    pub fn new(con: Connection, keys: Arc<Keys>, native_expiry: bool) -> Self {
        Self {
            con,
            keys,
            native_expiry,
            seen: HashMap::new(),
            writes: redis::pipe(),
            wrote: false,
            watching: false,
            index_watched: false,
            expiry_watched: false,
            answered: false,
            broken: None,
        }
    }

    /// Sends `pipe` (not a transaction) and reads its replies.
    fn send<T: FromRedisValue>(&mut self, pipe: &Pipeline) -> Result<T> {
        match pipe.query(&mut self.con) {
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

    /// Whether the first call on this connection failed as a connection
    /// the server closed does: nothing was sent but reads, redo the job.
    pub fn went_stale(&self) -> bool {
        !self.answered && self.broken.as_ref().is_some_and(super::stale)
    }

    /// Watches the key index (once): a job that lists keys conflicts with
    /// any write that adds or removes one.
    fn watch_index(&mut self, pipe: &mut Pipeline) {
        if !self.index_watched {
            pipe.cmd("WATCH").arg(&self.keys.index).ignore();
            self.index_watched = true;
            self.watching = true;
        }
    }

    /// Reads (and watches) the records of `keys` not seen yet.
    fn fetch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        let unseen: Vec<&Vec<u8>> = keys
            .iter()
            .filter(|k| !self.seen.contains_key(*k))
            .collect();
        if unseen.is_empty() {
            return Ok(());
        }
        let records: Vec<Vec<u8>> = unseen.iter().map(|k| self.keys.record(k)).collect();
        let mut pipe = redis::pipe();
        pipe.cmd("WATCH").arg(&records).ignore();
        pipe.cmd("MGET").arg(&records);
        let (values,): (Vec<Option<Vec<u8>>>,) = self.send(&pipe)?;
        self.watching = true;
        let unseen: Vec<Vec<u8>> = unseen.into_iter().cloned().collect();
        self.seen.extend(unseen.into_iter().zip(values));
        Ok(())
    }

    /// The envelope at `key` as this job sees it.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<&[u8]>> {
        if !self.seen.contains_key(key) {
            self.fetch(&[key.to_vec()])?;
        }
        Ok(self.seen.get(key).and_then(|v| v.as_deref()))
    }

    /// Queues storing `bytes` at `key`, expiring at `expires_ms`.
    pub fn put(&mut self, key: &[u8], expires_ms: Option<u64>, bytes: Vec<u8>) {
        let record = self.keys.record(key);
        let set = self.writes.cmd("SET").arg(&record).arg(&bytes);
        if let (Some(at), true) = (expires_ms, self.native_expiry) {
            // At least 1: PXAT 0 is refused. A past expiry deletes at once.
            set.arg("PXAT").arg(at.max(1));
        }
        set.ignore();
        self.writes
            .cmd("ZADD")
            .arg(&self.keys.index)
            .arg(0)
            .arg(key)
            .ignore();
        match expires_ms {
            Some(at) => self
                .writes
                .cmd("ZADD")
                .arg(&self.keys.expiry)
                .arg(at)
                .arg(key)
                .ignore(),
            None => self
                .writes
                .cmd("ZREM")
                .arg(&self.keys.expiry)
                .arg(key)
                .ignore(),
        };
        self.wrote = true;
        self.seen.insert(key.to_vec(), Some(bytes));
    }

    /// Queues deleting the record at `key`; whether there was one.
    pub fn remove(&mut self, key: &[u8]) -> Result<bool> {
        let was = self.get(key)?.is_some();
        let record = self.keys.record(key);
        self.writes.cmd("DEL").arg(&record).ignore();
        self.writes
            .cmd("ZREM")
            .arg(&self.keys.index)
            .arg(key)
            .ignore();
        self.writes
            .cmd("ZREM")
            .arg(&self.keys.expiry)
            .arg(key)
            .ignore();
        self.wrote = true;
        self.seen.insert(key.to_vec(), None);
        Ok(was)
    }

    /// The keys under `prefix` in the index and among this job's writes.
    fn keys_under(
        &mut self,
        prefix: &[u8],
        limit: Option<usize>,
        rev: bool,
    ) -> Result<Vec<Vec<u8>>> {
        let end = prefix_end(prefix);
        let mut pipe = redis::pipe();
        self.watch_index(&mut pipe);
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

    /// The headers of every record under `prefix`, in key order (reversed
    /// with `rev`), this job's own writes included.
    pub fn scan_headers(&mut self, prefix: &str, rev: bool) -> Result<Vec<(String, Header)>> {
        let keys = self.keys_under(prefix.as_bytes(), None, rev)?;
        self.fetch(&keys)?;
        let mut all: BTreeMap<&[u8], &[u8]> = BTreeMap::new();
        for (key, value) in &self.seen {
            if let (true, Some(value)) = (key.starts_with(prefix.as_bytes()), value) {
                all.insert(key, value);
            }
        }
        let decode = |(k, v): (&&[u8], &&[u8])| {
            let key = String::from_utf8_lossy(k).into_owned();
            envelope::decode_header(&key, v).map(|h| (key, h))
        };
        if rev {
            all.iter().rev().map(decode).collect()
        } else {
            all.iter().map(decode).collect()
        }
    }

    /// The greatest key under `prefix`, this job's writes included.
    pub fn last_key_under(&mut self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        let stored = self.keys_under(prefix, Some(1), true)?.pop();
        let written = self
            .seen
            .iter()
            .filter(|(k, v)| v.is_some() && k.starts_with(prefix))
            .map(|(k, _)| k)
            .max();
        Ok(match (stored, written) {
            (Some(s), Some(w)) => Some(s.max(w.clone())),
            (s, w) => s.or_else(|| w.cloned()),
        })
    }

    /// Takes up to `limit` entries due by `now_ms` out of the expiry set.
    pub fn take_due_expiries(&mut self, now_ms: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
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
        for (key, _) in &due {
            self.writes
                .cmd("ZREM")
                .arg(&self.keys.expiry)
                .arg(key)
                .ignore();
            self.wrote = true;
        }
        // Scores are whole milliseconds, exact in an f64 below 2^53.
        Ok(due.into_iter().map(|(k, at)| (at as u64, k)).collect())
    }

    /// Sends the queued writes as one MULTI/EXEC: `false` when a watched
    /// key changed since it was read (nothing was applied: run the job again).
    pub fn exec(&mut self) -> Result<bool> {
        if !self.wrote && !self.watching {
            return Ok(true);
        }
        let mut writes = std::mem::replace(&mut self.writes, redis::pipe());
        writes.atomic();
        // EXEC answers nil when the transaction was aborted; either way the
        // watches are over.
        let done: Option<redis::Value> = self.send(&writes)?;
        self.watching = false;
        Ok(done.is_some())
    }

    /// The connection, if it may serve again (no watch left on it).
    pub fn finish(mut self) -> Option<Connection> {
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

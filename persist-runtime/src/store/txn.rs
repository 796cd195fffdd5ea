//! [`WriteCtx`]: what one write job sees, and every change it can make.
//!
//! The contract (see the module doc of [`crate::store`] for the whole
//! boundary), in terms an engine other than LMDB can implement:
//!
//! - **One job is atomic.** Every change a job makes through its `WriteCtx`
//!   is applied together, or none is (a job that returns an error changes
//!   nothing). Jobs of a batch commit together, but each job's changes stand
//!   or fall alone.
//! - **Reads see the job's own writes** and, before them, the last committed
//!   state: nothing another writer (thread or process) commits while the job
//!   runs. A get after a put in the same job returns the put's value.
//! - **A job closure may run more than once** for one call: today when the
//!   batch is retried after the map grew; on a networked engine when an
//!   optimistic transaction (WATCH/MULTI) lost a race. Only the last run's
//!   changes are applied; a job must not consume what it needs nor act on
//!   the world outside the store.
//! - **The expiry index follows the records.** [`WriteCtx::put`] and
//!   [`WriteCtx::remove`] keep an entry `(expires_ms, key)` exactly for each
//!   record with an expiry; callers pass the header they replace (`old`),
//!   read in the same job ([`WriteCtx::header`], `header_to_replace` or
//!   `get`), so that no extra read is needed (and so that a store without
//!   keys knows it would write over a sealed record).
//! - `now_ms` is one clock reading for the whole batch.
//!
//! On LMDB a job runs in a nested write transaction of its batch's write
//! transaction, on the leading thread, holding the resize gate.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Bound;

use heed::RwTxn;

use super::changes;
use super::lmdb::{ENCRYPTED, Shared};
use crate::crypt::{self, Keyring};
use crate::envelope::{self, Header};
use crate::error::{Error, Result};
use crate::watch::ChangeKind;

/// What a job sees: the open (nested) write transaction and the store, or
/// a Redis optimistic transaction.
pub(crate) struct WriteCtx<'a, 'e> {
    on: On<'a, 'e>,
    /// The keys values are sealed with (see [`crate::crypt`]).
    keys: Option<&'a Keyring>,
    /// Sealed records this job read, opened (what [`WriteCtx::get`] lends).
    opened: HashMap<Vec<u8>, Vec<u8>>,
    /// Without keys: the sealed records whose headers this job read, with
    /// the ids of their keys ([`WriteCtx::put`] refuses to write over them).
    sealed_seen: HashMap<Vec<u8>, String>,
    /// The clock's reading for this batch (also [`WriteCtx::now_ms`]).
    pub now_ms: u64,
}

/// The engine a job runs on.
enum On<'a, 'e> {
    Lmdb {
        txn: &'a mut RwTxn<'e>,
        shared: &'a Shared,
    },
    #[cfg(feature = "redis")]
    Redis(&'a mut super::redis::RedisTxn),
}

/// The envelope stored at `key` as the engine holds it (sealed or not).
fn raw_get<'c>(on: &'c mut On<'_, '_>, key: &[u8]) -> Result<Option<&'c [u8]>> {
    match on {
        On::Lmdb { txn, shared } => shared.records.get(txn, key).map_err(|e| shared.lmdb(e)),
        #[cfg(feature = "redis")]
        On::Redis(txn) => txn.get(key),
    }
}

/// The expiry index key of a record: `expires_ms` (8 bytes, big-endian)
/// then the record key, so the index is in expiry order.
pub(super) fn index_key(expires_ms: u64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&expires_ms.to_be_bytes());
    out.extend_from_slice(key);
    out
}

impl<'a, 'e> WriteCtx<'a, 'e> {
    /// A context for one job in `txn` (the writer builds one per job).
    pub(super) fn new(txn: &'a mut RwTxn<'e>, shared: &'a Shared, now_ms: u64) -> Self {
        Self {
            on: On::Lmdb { txn, shared },
            keys: shared.keys.as_deref(),
            opened: HashMap::new(),
            sealed_seen: HashMap::new(),
            now_ms,
        }
    }

    /// A context for one run of a job in a Redis transaction.
    #[cfg(feature = "redis")]
    pub(super) fn redis(
        txn: &'a mut super::redis::RedisTxn,
        keys: Option<&'a Keyring>,
        now_ms: u64,
    ) -> Self {
        Self {
            on: On::Redis(txn),
            keys,
            opened: HashMap::new(),
            sealed_seen: HashMap::new(),
            now_ms,
        }
    }

    /// The clock's reading for this batch, in ms since the epoch.
    #[allow(dead_code)] // the field is what the jobs of this crate read
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The raw envelope stored at `key` (this job's own writes included).
    /// A sealed record is opened with the store's keys (an error without
    /// the right one): the job sees the plain envelope.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<&[u8]>> {
        let Self {
            on, keys, opened, ..
        } = self;
        let Some(stored) = raw_get(on, key)? else {
            return Ok(None);
        };
        match crypt::open(*keys, key, stored)? {
            Cow::Borrowed(plain) => Ok(Some(plain)),
            Cow::Owned(plain) => {
                let slot = opened.entry(key.to_vec()).insert_entry(plain);
                Ok(Some(slot.into_mut().as_slice()))
            }
        }
    }

    /// Reads the records of `keys` ahead, for a job about to read them one by
    /// one: one round trip on Redis instead of one per key; nothing on LMDB,
    /// where a read is a lookup in memory.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    pub fn prefetch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        match &mut self.on {
            On::Lmdb { .. } => Ok(()),
            #[cfg(feature = "redis")]
            On::Redis(txn) => txn.prefetch(keys),
        }
    }

    /// The header stored at `key`, if any (in clear, sealed or not).
    pub fn header(&mut self, key: &str) -> Result<Option<Header>> {
        let Some(bytes) = raw_get(&mut self.on, key.as_bytes())? else {
            return Ok(None);
        };
        if self.keys.is_none()
            && let Some(sealed) = envelope::split_sealed(bytes)
        {
            let key_id = sealed.key_id.to_owned();
            self.sealed_seen.insert(key.as_bytes().to_vec(), key_id);
        }
        envelope::decode_header(key, bytes).map(Some)
    }

    /// The header at `key` for a write that replaces or deletes the record.
    /// A broken envelope does not block an explicit overwrite or delete (that
    /// is how a bad record gets fixed), but it is logged, never silent. Any
    /// other error (the engine's) fails the write.
    pub fn header_to_replace(&mut self, key: &str) -> Result<Option<Header>> {
        match self.header(key) {
            Ok(header) => Ok(header),
            Err(err @ Error::Decode { .. }) => {
                tracing::warn!(%err, "replacing a record whose envelope does not decode");
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// Stores `data` (JSON) at `key` under `header`, replacing a record whose
    /// header was `old` (`None`: no record, or one whose header is unknown),
    /// and moves its expiry index entry accordingly.
    pub fn put(
        &mut self,
        key: &[u8],
        old: Option<&Header>,
        header: &Header,
        data: &[u8],
    ) -> Result<()> {
        self.opened.remove(key);
        let bytes = match self.keys {
            Some(keys) => {
                self.mark_encrypted(keys.current().id())?;
                crypt::seal(keys, key, header, data)?
            }
            None => {
                // A store without keys (a replica missing its key file, say)
                // never writes a value in clear over a sealed one. Writers
                // read the header they replace first (`old`), which notes it.
                if let Some(key_id) = self.sealed_seen.get(key) {
                    return Err(Error::Decrypt {
                        key: String::from_utf8_lossy(key).into_owned(),
                        key_id: key_id.clone(),
                        reason: format!(
                            "the record is sealed, and this store has no keys: it will not \
                             write the value in clear over it (give the keys with \
                             StoreBuilder::encryption or {}); nothing was written",
                            crypt::KEY_FILE_ENV_VAR
                        ),
                    });
                }
                // Nor a value in clear into a store that encrypts.
                if let Some(key_id) = self.encrypted()? {
                    return Err(Error::KeysRequired {
                        key: String::from_utf8_lossy(key).into_owned(),
                        key_id,
                    });
                }
                envelope::encode(header, data)
            }
        };
        let (txn, shared) = match &mut self.on {
            On::Lmdb { txn, shared } => (txn, *shared),
            #[cfg(feature = "redis")]
            On::Redis(txn) => {
                txn.put(key, header, bytes, old.is_none());
                return Ok(());
            }
        };
        let lmdb = |e| shared.lmdb(e);
        let old_expiry = old.and_then(|h| h.expires_ms);
        if let Some(old_e) = old_expiry
            && Some(old_e) != header.expires_ms
        {
            shared
                .expiry
                .delete(txn, &index_key(old_e, key))
                .map_err(lmdb)?;
        }
        if let Some(e) = header.expires_ms
            && Some(e) != old_expiry
        {
            shared
                .expiry
                .put(txn, &index_key(e, key), &())
                .map_err(lmdb)?;
        }
        shared.records.put(txn, key, &bytes).map_err(lmdb)?;
        changes::append(
            shared.changes,
            txn,
            shared.change_log,
            ChangeKind::Put,
            key,
            Some(header),
            old.is_none(),
        )
        .map_err(lmdb)
    }

    /// Notes (with the write) that the store encrypts, sealed with `key_id`.
    fn mark_encrypted(&mut self, key_id: &str) -> Result<()> {
        match &mut self.on {
            On::Lmdb { txn, shared } => {
                let lmdb = |e| shared.lmdb(e);
                let marked = shared.meta.get(txn, ENCRYPTED).map_err(lmdb)?;
                if marked != Some(key_id.as_bytes()) {
                    shared
                        .meta
                        .put(txn, ENCRYPTED, key_id.as_bytes())
                        .map_err(lmdb)?;
                }
                Ok(())
            }
            #[cfg(feature = "redis")]
            On::Redis(txn) => {
                txn.mark_encrypted(key_id);
                Ok(())
            }
        }
    }

    /// The key id the store says it encrypts with, if it does (on LMDB as
    /// of this transaction; on Redis as of when the store connected).
    fn encrypted(&mut self) -> Result<Option<String>> {
        match &mut self.on {
            On::Lmdb { txn, shared } => Ok(shared
                .meta
                .get(txn, ENCRYPTED)
                .map_err(|e| shared.lmdb(e))?
                .map(|id| String::from_utf8_lossy(id).into_owned())),
            #[cfg(feature = "redis")]
            On::Redis(txn) => Ok(txn.encrypted().map(str::to_owned)),
        }
    }

    /// Deletes the record at `key` whose header is `old` (and its expiry
    /// index entry). Returns whether a record was there.
    pub fn remove(&mut self, key: &[u8], old: Option<&Header>) -> Result<bool> {
        self.remove_as(key, old, ChangeKind::Delete)
    }

    /// [`Self::remove`] of a record because it expired (what the change
    /// feed tells watchers).
    pub fn expire(&mut self, key: &[u8], old: Option<&Header>) -> Result<bool> {
        self.remove_as(key, old, ChangeKind::Expire)
    }

    fn remove_as(&mut self, key: &[u8], old: Option<&Header>, kind: ChangeKind) -> Result<bool> {
        self.opened.remove(key);
        self.sealed_seen.remove(key);
        let (txn, shared) = match &mut self.on {
            On::Lmdb { txn, shared } => (txn, *shared),
            #[cfg(feature = "redis")]
            On::Redis(txn) => return txn.remove(key, kind),
        };
        let lmdb = |e| shared.lmdb(e);
        if let Some(e) = old.and_then(|h| h.expires_ms) {
            shared
                .expiry
                .delete(txn, &index_key(e, key))
                .map_err(lmdb)?;
        }
        let removed = shared.records.delete(txn, key).map_err(lmdb)?;
        if removed {
            changes::append(
                shared.changes,
                txn,
                shared.change_log,
                kind,
                key,
                None,
                false,
            )
            .map_err(lmdb)?;
        }
        Ok(removed)
    }

    /// The keys (and headers) of every record under `prefix`, in key order,
    /// or reversed with `rev`. Collected first, so the job may then change
    /// them.
    pub fn scan_headers(&mut self, prefix: &str, rev: bool) -> Result<Vec<(String, Header)>> {
        let (txn, shared) = match &mut self.on {
            On::Lmdb { txn, shared } => (txn, *shared),
            #[cfg(feature = "redis")]
            On::Redis(txn) => return txn.scan_headers(prefix, rev),
        };
        let lmdb = |e| shared.lmdb(e);
        let mut out = Vec::new();
        let mut push = |item: heed::Result<(&[u8], &[u8])>| -> Result<()> {
            let (k, v) = item.map_err(lmdb)?;
            let key = String::from_utf8_lossy(k).into_owned();
            let header = envelope::decode_header(&key, v)?;
            out.push((key, header));
            Ok(())
        };
        if rev {
            for item in shared
                .records
                .rev_prefix_iter(txn, prefix.as_bytes())
                .map_err(lmdb)?
            {
                push(item)?;
            }
        } else {
            for item in shared
                .records
                .prefix_iter(txn, prefix.as_bytes())
                .map_err(lmdb)?
            {
                push(item)?;
            }
        }
        Ok(out)
    }

    /// The greatest key under `prefix` (a list's newest item), if any.
    pub fn last_key_under(&mut self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        let (txn, shared) = match &mut self.on {
            On::Lmdb { txn, shared } => (txn, *shared),
            #[cfg(feature = "redis")]
            On::Redis(txn) => return txn.last_key_under(prefix),
        };
        let lmdb = |e| shared.lmdb(e);
        Ok(shared
            .records
            .rev_prefix_iter(txn, prefix)
            .map_err(lmdb)?
            .next()
            .transpose()
            .map_err(lmdb)?
            .map(|(k, _)| k.to_vec()))
    }

    /// Takes up to `limit` entries due by `now_ms` out of the expiry index,
    /// oldest expiry first: `(expires_ms, record key)`. The records are left
    /// alone: the caller checks each still carries that expiry before it
    /// removes it (with `old: None`: its index entry is gone already).
    pub fn take_due_expiries(&mut self, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let now_ms = self.now_ms;
        let (txn, shared) = match &mut self.on {
            On::Lmdb { txn, shared } => (txn, *shared),
            #[cfg(feature = "redis")]
            On::Redis(txn) => return txn.take_due_expiries(now_ms, limit),
        };
        let lmdb = |e| shared.lmdb(e);
        let end = index_key(now_ms.saturating_add(1), b"");
        let range = (Bound::Unbounded, Bound::Excluded(end.as_slice()));
        let mut entries: Vec<Vec<u8>> = Vec::new();
        for item in shared.expiry.range(txn, &range).map_err(lmdb)? {
            let (k, ()) = item.map_err(lmdb)?;
            entries.push(k.to_vec());
            if entries.len() >= limit {
                break;
            }
        }
        let mut due = Vec::with_capacity(entries.len());
        for entry in entries {
            shared.expiry.delete(txn, &entry).map_err(lmdb)?;
            // An entry too short to be ours is dropped above, and nothing else.
            if let Some((expires, key)) = entry.split_first_chunk::<8>() {
                due.push((u64::from_be_bytes(*expires), key.to_vec()));
            }
        }
        Ok(due)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::SystemClock;
    use crate::store::Durability;
    use crate::store::lmdb::EnvOptions;

    pub(crate) fn test_shared(dir: &std::path::Path, max_readers: u32) -> Shared {
        let opts = EnvOptions {
            map_size: 1 << 20,
            max_map_size: 1 << 20,
            durability: Durability::NoSync,
            max_readers,
            write_timeout: Duration::from_secs(1),
            change_log: 100,
        };
        Shared::open(dir, &opts, Arc::new(SystemClock), None).unwrap()
    }

    /// Issue 11, item 8: every error used to be taken for a broken envelope.
    #[test]
    fn only_a_broken_envelope_is_tolerated_by_an_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let shared = test_shared(dir.path(), 16);
        let mut wtxn = shared.env.write_txn().unwrap();
        shared
            .records
            .put(&mut wtxn, b"ns:bad", b"garbage")
            .unwrap();
        let mut ctx = WriteCtx::new(&mut wtxn, &shared, 0);
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
        let shared = test_shared(dir.path(), 1);
        assert_eq!(shared.env.info().maximum_number_of_readers, 1);
        let nested = shared.read(|_| shared.read(|_| Ok(())));
        let err = nested.unwrap_err();
        assert!(
            matches!(err, Error::ReadersFull { max_readers: 1, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("max_readers"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let default = crate::Store::open_at(dir.path()).unwrap();
        assert_eq!(
            default.lmdb().unwrap().env.info().maximum_number_of_readers,
            1022,
            "LMDB's default of 126 slots is too few for a busy server"
        );
    }
}

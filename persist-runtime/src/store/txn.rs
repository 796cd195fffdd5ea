//! [`WriteCtx`]: what one write job sees, and every change it can make.
//!
//! The engine-agnostic half of a job's transaction: opening and sealing
//! values ([`crate::crypt`]), the envelope, and refusing to write a value in
//! clear where the store seals. Every read and write of the engine goes
//! through one [`EngineTxn`] (see [`super::engine`] for the contract: a job
//! is atomic, sees its own writes, may run more than once).
//!
//! Callers pass the header they replace (`old`), read in the same job
//! ([`WriteCtx::header`], `header_to_replace` or `get`), so that the expiry
//! index moves without an extra read, and so that a store without keys
//! knows it would write over a sealed record.

use std::borrow::Cow;
use std::collections::HashMap;

use super::changes::ChangeKind;
use super::engine::EngineTxn;
use crate::crypt::{self, Keyring};
use crate::envelope::{self, Header};
use crate::error::{Error, Result};

/// What a job sees: its engine's transaction and the store's keys.
pub(crate) struct WriteCtx<'a, 'e> {
    txn: &'a mut (dyn EngineTxn + 'e),
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

impl<'a, 'e> WriteCtx<'a, 'e> {
    /// A context for one run of a job in the engine's transaction `txn`.
    pub(super) fn new(
        txn: &'a mut (dyn EngineTxn + 'e),
        keys: Option<&'a Keyring>,
        now_ms: u64,
    ) -> Self {
        Self {
            txn,
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
            txn, keys, opened, ..
        } = self;
        let Some(stored) = txn.get(key)? else {
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
    pub fn prefetch(&mut self, keys: &[Vec<u8>]) -> Result<()> {
        self.txn.prefetch(keys)
    }

    /// The header stored at `key`, if any (in clear, sealed or not).
    pub fn header(&mut self, key: &str) -> Result<Option<Header>> {
        let Some(bytes) = self.txn.get(key.as_bytes())? else {
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
                self.txn.mark_encrypted(keys.current().id())?;
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
                if let Some(key_id) = self.txn.encrypted()? {
                    return Err(Error::KeysRequired {
                        key: String::from_utf8_lossy(key).into_owned(),
                        key_id,
                    });
                }
                envelope::encode(header, data)
            }
        };
        self.txn.put(key, old, header, bytes)
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
        self.txn.remove(key, old, kind)
    }

    /// The keys (and headers) of every record under `prefix`, in key order,
    /// or reversed with `rev`. Collected first, so the job may then change
    /// them.
    pub fn scan_headers(&mut self, prefix: &str, rev: bool) -> Result<Vec<(String, Header)>> {
        self.txn.scan_headers(prefix, rev)
    }

    /// The greatest key under `prefix` (a list's newest item), if any.
    pub fn last_key_under(&mut self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        self.txn.last_key_under(prefix)
    }

    /// Takes up to `limit` entries due by `now_ms` out of the expiry index,
    /// oldest expiry first: `(expires_ms, record key)`. The records are left
    /// alone: the caller checks each still carries that expiry before it
    /// removes it (with `old: None`: its index entry is gone already).
    pub fn take_due_expiries(&mut self, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        self.txn.take_due_expiries(self.now_ms, limit)
    }
}

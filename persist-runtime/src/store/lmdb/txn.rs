//! One write job's view of LMDB: a nested write transaction of its batch's
//! transaction, and the store's databases (records, the expiry index, the
//! change log, the meta entries). The contract is [`EngineTxn`]'s.

use std::ops::Bound;

use heed::RwTxn;

use super::changes;
use super::{ENCRYPTED, LmdbEngine, index_key};
use crate::envelope::{self, Header};
use crate::error::Result;
use crate::store::changes::ChangeKind;
use crate::store::engine::EngineTxn;

/// A job's transaction on LMDB.
pub(crate) struct LmdbTxn<'a, 'e> {
    txn: &'a mut RwTxn<'e>,
    engine: &'a LmdbEngine,
}

impl<'a, 'e> LmdbTxn<'a, 'e> {
    /// The job's view of `txn` (a nested transaction of the batch's).
    pub(crate) fn new(txn: &'a mut RwTxn<'e>, engine: &'a LmdbEngine) -> Self {
        Self { txn, engine }
    }

    fn log(
        &mut self,
        kind: ChangeKind,
        key: &[u8],
        header: Option<&Header>,
        created: bool,
    ) -> Result<()> {
        let engine = self.engine;
        changes::append(
            engine.changes,
            self.txn,
            engine.change_log,
            kind,
            key,
            header,
            created,
        )
        .map_err(|e| engine.lmdb(e))
    }
}

impl EngineTxn for LmdbTxn<'_, '_> {
    fn get(&mut self, key: &[u8]) -> Result<Option<&[u8]>> {
        let engine = self.engine;
        engine
            .records
            .get(self.txn, key)
            .map_err(|e| engine.lmdb(e))
    }

    fn put(
        &mut self,
        key: &[u8],
        old: Option<&Header>,
        header: &Header,
        bytes: Vec<u8>,
    ) -> Result<()> {
        let engine = self.engine;
        let lmdb = |e| engine.lmdb(e);
        let old_expiry = old.and_then(|h| h.expires_ms);
        if let Some(old_e) = old_expiry
            && Some(old_e) != header.expires_ms
        {
            engine
                .expiry
                .delete(self.txn, &index_key(old_e, key))
                .map_err(lmdb)?;
        }
        if let Some(e) = header.expires_ms
            && Some(e) != old_expiry
        {
            engine
                .expiry
                .put(self.txn, &index_key(e, key), &())
                .map_err(lmdb)?;
        }
        engine.records.put(self.txn, key, &bytes).map_err(lmdb)?;
        self.log(ChangeKind::Put, key, Some(header), old.is_none())
    }

    fn remove(&mut self, key: &[u8], old: Option<&Header>, kind: ChangeKind) -> Result<bool> {
        let engine = self.engine;
        let lmdb = |e| engine.lmdb(e);
        if let Some(e) = old.and_then(|h| h.expires_ms) {
            engine
                .expiry
                .delete(self.txn, &index_key(e, key))
                .map_err(lmdb)?;
        }
        let removed = engine.records.delete(self.txn, key).map_err(lmdb)?;
        if removed {
            self.log(kind, key, None, false)?;
        }
        Ok(removed)
    }

    fn scan_headers(&mut self, prefix: &str, rev: bool) -> Result<Vec<(String, Header)>> {
        let engine = self.engine;
        let lmdb = |e| engine.lmdb(e);
        let mut out = Vec::new();
        let mut push = |item: heed::Result<(&[u8], &[u8])>| -> Result<()> {
            let (k, v) = item.map_err(lmdb)?;
            let key = String::from_utf8_lossy(k).into_owned();
            let header = envelope::decode_header(&key, v)?;
            out.push((key, header));
            Ok(())
        };
        let records = engine.records;
        if rev {
            for item in records
                .rev_prefix_iter(self.txn, prefix.as_bytes())
                .map_err(lmdb)?
            {
                push(item)?;
            }
        } else {
            for item in records
                .prefix_iter(self.txn, prefix.as_bytes())
                .map_err(lmdb)?
            {
                push(item)?;
            }
        }
        Ok(out)
    }

    fn last_key_under(&mut self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        let engine = self.engine;
        let lmdb = |e| engine.lmdb(e);
        Ok(engine
            .records
            .rev_prefix_iter(self.txn, prefix)
            .map_err(lmdb)?
            .next()
            .transpose()
            .map_err(lmdb)?
            .map(|(k, _)| k.to_vec()))
    }

    fn take_due_expiries(&mut self, now_ms: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let engine = self.engine;
        let lmdb = |e| engine.lmdb(e);
        let end = index_key(now_ms.saturating_add(1), b"");
        let range = (Bound::Unbounded, Bound::Excluded(end.as_slice()));
        let mut entries: Vec<Vec<u8>> = Vec::new();
        for item in engine.expiry.range(self.txn, &range).map_err(lmdb)? {
            let (k, ()) = item.map_err(lmdb)?;
            entries.push(k.to_vec());
            if entries.len() >= limit {
                break;
            }
        }
        let mut due = Vec::with_capacity(entries.len());
        for entry in entries {
            engine.expiry.delete(self.txn, &entry).map_err(lmdb)?;
            // An entry too short to be ours is dropped above, and nothing else.
            if let Some((expires, key)) = entry.split_first_chunk::<8>() {
                due.push((u64::from_be_bytes(*expires), key.to_vec()));
            }
        }
        Ok(due)
    }

    fn mark_encrypted(&mut self, key_id: &str) -> Result<()> {
        let engine = self.engine;
        let lmdb = |e| engine.lmdb(e);
        let marked = engine.meta.get(self.txn, ENCRYPTED).map_err(lmdb)?;
        if marked != Some(key_id.as_bytes()) {
            engine
                .meta
                .put(self.txn, ENCRYPTED, key_id.as_bytes())
                .map_err(lmdb)?;
        }
        Ok(())
    }

    fn encrypted(&mut self) -> Result<Option<String>> {
        let engine = self.engine;
        Ok(engine
            .meta
            .get(self.txn, ENCRYPTED)
            .map_err(|e| engine.lmdb(e))?
            .map(|id| String::from_utf8_lossy(id).into_owned()))
    }
}

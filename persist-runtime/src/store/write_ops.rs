//! Record-level writes inside a write transaction: envelope, expiry index.
//!
//! Every change to a record goes through here, so the expiry index always
//! matches the records: an index entry `expires_ms (8 bytes, big-endian) ++ key`
//! exists exactly for each record that has an expiry.

use heed::RoTxn;

use super::lmdb::Shared;
use super::writer::WriteCtx;
use crate::envelope::{self, Header};
use crate::error::{Error, Result};

/// The expiry index key of a record.
pub(crate) fn index_key(expires_ms: u64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&expires_ms.to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// Reads a raw envelope in any transaction.
pub(crate) fn get_raw<'t>(
    shared: &Shared,
    txn: &'t RoTxn<'_>,
    key: &[u8],
) -> Result<Option<&'t [u8]>> {
    shared.records.get(txn, key).map_err(|e| shared.lmdb(e))
}

impl WriteCtx<'_, '_> {
    /// The raw envelope stored at `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        get_raw(self.shared, self.txn, key)
    }

    /// The header stored at `key`, if any.
    pub fn header(&self, key: &str) -> Result<Option<Header>> {
        self.get(key.as_bytes())?
            .map(|bytes| envelope::decode_header(key, bytes))
            .transpose()
    }

    /// The header at `key` for a write that replaces or deletes the record.
    /// A broken envelope does not block an explicit overwrite or delete (that
    /// is how a bad record gets fixed), but it is logged, never silent. Any
    /// other error (LMDB's) fails the write.
    pub fn header_to_replace(&self, key: &str) -> Result<Option<Header>> {
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
    /// header was `old`.
    pub fn put(
        &mut self,
        key: &[u8],
        old: Option<&Header>,
        header: &Header,
        data: &[u8],
    ) -> Result<()> {
        let shared = self.shared;
        let lmdb = |e| shared.lmdb(e);
        let old_expiry = old.and_then(|h| h.expires_ms);
        if let Some(old_e) = old_expiry
            && Some(old_e) != header.expires_ms
        {
            shared
                .expiry
                .delete(self.txn, &index_key(old_e, key))
                .map_err(lmdb)?;
        }
        if let Some(e) = header.expires_ms
            && Some(e) != old_expiry
        {
            shared
                .expiry
                .put(self.txn, &index_key(e, key), &())
                .map_err(lmdb)?;
        }
        let bytes = envelope::encode(header, data);
        shared.records.put(self.txn, key, &bytes).map_err(lmdb)
    }

    /// Deletes the record at `key` whose header is `old`. Returns whether it existed.
    pub fn remove(&mut self, key: &[u8], old: Option<&Header>) -> Result<bool> {
        let shared = self.shared;
        let lmdb = |e| shared.lmdb(e);
        if let Some(e) = old.and_then(|h| h.expires_ms) {
            shared
                .expiry
                .delete(self.txn, &index_key(e, key))
                .map_err(lmdb)?;
        }
        shared.records.delete(self.txn, key).map_err(lmdb)
    }

    /// The keys (and headers) of every record under `prefix`, in key order.
    pub fn scan_headers(&self, prefix: &str, rev: bool) -> Result<Vec<(String, Header)>> {
        let shared = self.shared;
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
                .rev_prefix_iter(self.txn, prefix.as_bytes())
                .map_err(lmdb)?
            {
                push(item)?;
            }
        } else {
            for item in shared
                .records
                .prefix_iter(self.txn, prefix.as_bytes())
                .map_err(lmdb)?
            {
                push(item)?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
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
        };
        Shared::open(dir, &opts, Arc::new(SystemClock)).unwrap()
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
        let ctx = WriteCtx {
            txn: &mut wtxn,
            shared: &shared,
            now_ms: 0,
        };
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
            default.shared().env.info().maximum_number_of_readers,
            1022,
            "LMDB's default of 126 slots is too few for a busy server"
        );
    }
}

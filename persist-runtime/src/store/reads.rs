//! Reads: one record, or a scan of keys, each in one short read transaction.
//!
//! The contract (see the module doc of [`crate::store`] for the whole
//! boundary), in terms an engine other than LMDB can implement:
//!
//! - A read sees **committed** writes only, never a batch in progress, and
//!   every write acknowledged before the read began (by this process or
//!   another on the same store).
//! - [`Store::read_record`] hands the stored bytes to a closure while they are
//!   borrowed from the engine (zero-copy on LMDB: a slice of the map). The
//!   closure runs once, and must not write to the store (it would wait for
//!   itself) nor block: the read holds a reader slot and the resize gate.
//! - [`Store::scan_records`] visits keys in byte order (or reversed) and stops
//!   when the closure says so. On LMDB the whole scan sees one snapshot. An
//!   engine without snapshots must still report every record that exists,
//!   unchanged, for the whole scan exactly once and in order; records written
//!   during the scan may be seen or not.

use std::ops::{Bound, ControlFlow};

use heed::RoTxn;

use super::lmdb::Shared;
use super::txn::index_key;
use super::{Engine, Store};
use crate::crypt;
use crate::error::Result;

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

/// What a scan's closure gets: a key and its stored envelope; it returns
/// whether to go on.
pub(crate) type Visit<'f> = dyn FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>> + 'f;

impl Store {
    /// Calls `f` with the envelope stored at `key` (`None`: no record), in
    /// one short read transaction; returns what `f` returns.
    /// A sealed record (see [`crate::crypt`]) is opened first: `f` sees the
    /// plain envelope, or the read fails with [`crate::Error::Decrypt`].
    #[inline]
    pub(crate) fn read_record<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Result<R>,
    ) -> Result<R> {
        let keys = self.keyring();
        let opened = |bytes: Option<&[u8]>| {
            let plain = bytes.map(|b| crypt::open(keys, key, b)).transpose()?;
            f(plain.as_deref())
        };
        match &self.inner.engine {
            Engine::Lmdb { shared, .. } => shared.read(|txn| {
                let bytes = shared.records.get(txn, key).map_err(|e| shared.lmdb(e))?;
                opened(bytes)
            }),
            #[cfg(feature = "redis")]
            Engine::Redis(redis) => opened(redis.get(key)?.as_deref()),
        }
    }

    /// Calls `f` with each record (key, envelope) of `range` in `order`, in
    /// one read transaction, until it breaks.
    /// Sealed records are opened first (see [`Store::read_record`]).
    pub(crate) fn scan_records(
        &self,
        range: KeyRange<'_>,
        order: Order,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        let keys = self.keyring();
        self.scan_stored(range, order, |k, v| f(k, &crypt::open(keys, k, v)?))
    }

    /// [`Store::scan_records`] with the bytes as stored, sealed or not
    /// (listings of keys and headers, which are in clear; exports).
    pub(crate) fn scan_stored(
        &self,
        range: KeyRange<'_>,
        order: Order,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        match &self.inner.engine {
            Engine::Lmdb { shared, .. } => {
                shared.read(|txn| scan_in(shared, txn, range, order, &mut f))
            }
            #[cfg(feature = "redis")]
            Engine::Redis(redis) => redis.scan(range, order, &mut f),
        }
    }

    /// How many records have expired by the store's clock and are not purged
    /// yet (entries of the expiry index due by now).
    pub(crate) fn count_expired(&self) -> Result<usize> {
        let shared = match &self.inner.engine {
            Engine::Lmdb { shared, .. } => shared,
            #[cfg(feature = "redis")]
            Engine::Redis(redis) => return redis.count_expired(),
        };
        let end = index_key(self.now_ms().saturating_add(1), b"");
        shared.read(|txn| {
            let range = (Bound::Unbounded, Bound::Excluded(end.as_slice()));
            let iter = shared
                .expiry
                .range(txn, &range)
                .map_err(|e| shared.lmdb(e))?;
            Ok(iter.count())
        })
    }
}

/// Where the key `after` stands relative to the keys under `prefix`.
enum Cursor {
    /// No cursor, or one before every key under the prefix (in the scan's
    /// direction): start at the first key under the prefix.
    Start,
    /// Among the keys under the prefix: start next to it.
    Inside,
    /// Past every key under the prefix: nothing to visit.
    Past,
}

fn cursor(range: &KeyRange<'_>, order: Order) -> Cursor {
    let Some(after) = range.after else {
        return Cursor::Start;
    };
    if after.starts_with(range.prefix) {
        return Cursor::Inside;
    }
    // Not under the prefix: wholly before or wholly after its keys.
    let before = after < range.prefix;
    match (order, before) {
        (Order::Forward, true) | (Order::Reverse, false) => Cursor::Start,
        _ => Cursor::Past,
    }
}

/// A scan in the read transaction `txn` (LMDB cannot seek to an empty key:
/// an empty prefix is the whole database).
fn scan_in(
    shared: &Shared,
    txn: &RoTxn<'_>,
    range: KeyRange<'_>,
    order: Order,
    f: &mut Visit<'_>,
) -> Result<()> {
    let db = shared.records;
    let lmdb = |e| shared.lmdb(e);
    let prefix = range.prefix;
    let from_prefix = if prefix.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Included(prefix)
    };
    match (order, cursor(&range, order)) {
        (_, Cursor::Past) => Ok(()),
        (Order::Forward, Cursor::Start) if prefix.is_empty() => {
            visit(db.iter(txn).map_err(lmdb)?, prefix, shared, f)
        }
        (Order::Forward, Cursor::Start) => visit(
            db.range(txn, &(from_prefix, Bound::Unbounded))
                .map_err(lmdb)?,
            prefix,
            shared,
            f,
        ),
        (Order::Forward, Cursor::Inside) => {
            let start = range.after.map_or(Bound::Unbounded, Bound::Excluded);
            visit(
                db.range(txn, &(start, Bound::Unbounded)).map_err(lmdb)?,
                prefix,
                shared,
                f,
            )
        }
        (Order::Reverse, Cursor::Start) if prefix.is_empty() => {
            visit(db.rev_iter(txn).map_err(lmdb)?, prefix, shared, f)
        }
        (Order::Reverse, Cursor::Start) => visit(
            db.rev_prefix_iter(txn, prefix).map_err(lmdb)?,
            prefix,
            shared,
            f,
        ),
        (Order::Reverse, Cursor::Inside) => {
            let end = range.after.map_or(Bound::Unbounded, Bound::Excluded);
            visit(
                db.rev_range(txn, &(from_prefix, end)).map_err(lmdb)?,
                prefix,
                shared,
                f,
            )
        }
    }
}

/// Feeds `entries` to `f` while their keys start with `prefix`.
fn visit<'t>(
    entries: impl Iterator<Item = heed::Result<(&'t [u8], &'t [u8])>>,
    prefix: &[u8],
    shared: &Shared,
    f: &mut Visit<'_>,
) -> Result<()> {
    for entry in entries {
        let (key, value) = entry.map_err(|e| shared.lmdb(e))?;
        if !key.starts_with(prefix) || f(key, value)?.is_break() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys `a:1`..`a:5` and `b:1`, scanned with every kind of range.
    #[test]
    fn scans_honour_prefix_cursor_order_and_stop() {
        let store = Store::memory().unwrap();
        for key in ["a:1", "a:2", "a:3", "a:4", "a:5", "b:1"] {
            store.admin().put_json(key, &1.into(), None).unwrap();
        }
        let scan = |prefix: &str, after: Option<&str>, order, stop_after: usize| {
            let mut seen = Vec::new();
            let range = KeyRange {
                prefix: prefix.as_bytes(),
                after: after.map(str::as_bytes),
            };
            store
                .scan_records(range, order, |k, _| {
                    seen.push(String::from_utf8_lossy(k).into_owned());
                    Ok(if seen.len() == stop_after {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    })
                })
                .unwrap();
            seen.join(" ")
        };
        use Order::{Forward, Reverse};
        assert_eq!(scan("", None, Forward, 99), "a:1 a:2 a:3 a:4 a:5 b:1");
        assert_eq!(scan("", None, Reverse, 2), "b:1 a:5");
        assert_eq!(scan("a:", None, Forward, 99), "a:1 a:2 a:3 a:4 a:5");
        assert_eq!(scan("a:", Some("a:2"), Forward, 2), "a:3 a:4");
        assert_eq!(scan("a:", Some("a:4"), Reverse, 99), "a:3 a:2 a:1");
        assert_eq!(scan("a:", None, Reverse, 99), "a:5 a:4 a:3 a:2 a:1");
        // A cursor before the prefix's keys starts at the first; past them, none.
        assert_eq!(scan("a:", Some("A"), Forward, 99), "a:1 a:2 a:3 a:4 a:5");
        assert_eq!(scan("a:", Some("b"), Forward, 99), "");
        assert_eq!(scan("a:", Some("b"), Reverse, 1), "a:5");
        assert_eq!(scan("a:", Some("A"), Reverse, 99), "");
        assert_eq!(scan("", Some("a:5"), Forward, 99), "b:1");
        assert_eq!(scan("", Some("a:2"), Reverse, 99), "a:1");
        assert_eq!(scan("c", None, Forward, 99), "");
    }
}

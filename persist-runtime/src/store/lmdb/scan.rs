//! Scans of the records database, in one read transaction (LMDB cannot
//! seek to an empty key: an empty prefix is the whole database).

use std::ops::Bound;

use heed::RoTxn;

use super::LmdbEngine;
use crate::error::Result;
use crate::store::engine::{KeyRange, Order, Visit};

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
pub(super) fn scan_in(
    engine: &LmdbEngine,
    txn: &RoTxn<'_>,
    range: KeyRange<'_>,
    order: Order,
    f: &mut Visit<'_>,
) -> Result<()> {
    let db = engine.records;
    let lmdb = |e| engine.lmdb(e);
    let prefix = range.prefix;
    let from_prefix = if prefix.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Included(prefix)
    };
    match (order, cursor(&range, order)) {
        (_, Cursor::Past) => Ok(()),
        (Order::Forward, Cursor::Start) if prefix.is_empty() => {
            visit(db.iter(txn).map_err(lmdb)?, prefix, engine, f)
        }
        (Order::Forward, Cursor::Start) => visit(
            db.range(txn, &(from_prefix, Bound::Unbounded))
                .map_err(lmdb)?,
            prefix,
            engine,
            f,
        ),
        (Order::Forward, Cursor::Inside) => {
            let start = range.after.map_or(Bound::Unbounded, Bound::Excluded);
            visit(
                db.range(txn, &(start, Bound::Unbounded)).map_err(lmdb)?,
                prefix,
                engine,
                f,
            )
        }
        (Order::Reverse, Cursor::Start) if prefix.is_empty() => {
            visit(db.rev_iter(txn).map_err(lmdb)?, prefix, engine, f)
        }
        (Order::Reverse, Cursor::Start) => visit(
            db.rev_prefix_iter(txn, prefix).map_err(lmdb)?,
            prefix,
            engine,
            f,
        ),
        (Order::Reverse, Cursor::Inside) => {
            let end = range.after.map_or(Bound::Unbounded, Bound::Excluded);
            visit(
                db.rev_range(txn, &(from_prefix, end)).map_err(lmdb)?,
                prefix,
                engine,
                f,
            )
        }
    }
}

/// Feeds `entries` to `f` while their keys start with `prefix`.
fn visit<'t>(
    entries: impl Iterator<Item = heed::Result<(&'t [u8], &'t [u8])>>,
    prefix: &[u8],
    engine: &LmdbEngine,
    f: &mut Visit<'_>,
) -> Result<()> {
    for entry in entries {
        let (key, value) = entry.map_err(|e| engine.lmdb(e))?;
        if !key.starts_with(prefix) || f(key, value)?.is_break() {
            break;
        }
    }
    Ok(())
}

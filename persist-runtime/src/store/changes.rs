//! The change log, as every engine keeps it: one entry per put, delete and
//! expiry, written in the transaction of the change itself, read by
//! watchers ([`Store::watch`](super::Store::watch)) of this process and of others. Where each
//! engine keeps it: [`super::lmdb::changes`] (a database of the store),
//! the Redis engine's stream.
//!
//! - **Entries** ([`encode`], [`decode`]): kind (1 byte), then for a put the
//!   header (version, created, updated, expiry: 4 + 3 x 8 bytes, expiry
//!   `u64::MAX` = none), then the record key. Values are never logged (a
//!   sealed store's log holds nothing a value's seal hides). On LMDB the
//!   entry's key is its sequence number (8 bytes, big-endian, from 1, never
//!   reused); on Redis the stream entry's id.
//! - **Bounded**: an engine keeps the last `capacity` entries; a watcher
//!   that falls behind the trim gets a "lagged" item, never a silent gap.
//! - **Wake-ups**: a [`Signal`] bumped by this process's writer after each
//!   commit and by whatever follows other processes' commits; a check every
//!   [`BACKSTOP`] covers what cannot be followed.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use crate::envelope::{Header, Meta};

/// How often a watcher looks at the log without a wake-up.
pub(crate) const BACKSTOP: Duration = Duration::from_secs(1);

const PUT: u8 = 1;
const DELETE: u8 = 2;
const EXPIRE: u8 = 3;
/// A put that created the record (none was there).
const CREATE: u8 = 4;

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Written (created or replaced).
    Put,
    /// Deleted by a call.
    Delete,
    /// Removed because it expired (by a sweep).
    Expire,
}

/// One committed change.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Its place in the store's log: increasing, never reused.
    pub seq: u64,
    /// What happened.
    pub kind: ChangeKind,
    /// The record's full stored key (`namespace:key`, scope prefix included).
    pub key: String,
    /// The record's metadata after a put (`None` after a delete or expiry).
    pub meta: Option<Meta>,
    /// The put created the record: there was none at its key (what makes a
    /// list of records change, with deletes and expiries).
    pub created: bool,
}

/// One log entry's bytes: kind, the header after a put, the record key.
/// `created`: the put created the record.
pub(crate) fn encode(
    kind: ChangeKind,
    key: &[u8],
    header: Option<&Header>,
    created: bool,
) -> Vec<u8> {
    let mut entry = Vec::with_capacity(1 + 28 + key.len());
    match (kind, header) {
        (ChangeKind::Put, Some(h)) => {
            entry.push(if created { CREATE } else { PUT });
            entry.extend_from_slice(&h.version.to_be_bytes());
            entry.extend_from_slice(&h.created_ms.to_be_bytes());
            entry.extend_from_slice(&h.updated_ms.to_be_bytes());
            entry.extend_from_slice(&h.expires_ms.unwrap_or(u64::MAX).to_be_bytes());
        }
        (ChangeKind::Put, None) | (ChangeKind::Delete, _) => entry.push(DELETE),
        (ChangeKind::Expire, _) => entry.push(EXPIRE),
    }
    entry.extend_from_slice(key);
    entry
}

/// Where a watcher is in the log: the last sequence number read and, on
/// Redis (whose sequence numbers are sparse), how many entries the log had
/// ever held up to it (to count what a trim took).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub seq: u64,
    pub index: Option<u64>,
}

/// What a read of the log after a cursor found.
pub(crate) struct Read {
    /// Changes under the prefix, in order.
    pub changes: Vec<Change>,
    /// Where the read got to (entries outside the prefix included); after
    /// a lag, just before the oldest entry still there.
    pub scanned_to: Cursor,
    /// Entries after the cursor were trimmed away: the first sequence
    /// number still there, and how many were missed (at most that many
    /// when the cursor's index was unknown).
    pub lagged: Option<(u64, u64)>,
}

/// One entry as a [`Change`] (`None` for bytes this build did not write).
pub(crate) fn decode(seq: u64, v: &[u8]) -> Option<Change> {
    let (&kind, rest) = v.split_first()?;
    let created = kind == CREATE;
    let (kind, meta, key) = match kind {
        PUT | CREATE => {
            let (h, key) = rest.split_at_checked(28)?;
            let num = |at: usize| u64::from_be_bytes(h[at..at + 8].try_into().unwrap_or([0; 8]));
            let expires = num(20);
            let header = Header {
                version: u32::from_be_bytes(h[..4].try_into().ok()?),
                created_ms: num(4),
                updated_ms: num(12),
                expires_ms: (expires != u64::MAX).then_some(expires),
                ttl_ms: None,
            };
            (ChangeKind::Put, Some(header.meta()), key)
        }
        DELETE => (ChangeKind::Delete, None, rest),
        EXPIRE => (ChangeKind::Expire, None, rest),
        _ => return None,
    };
    Some(Change {
        seq,
        kind,
        key: String::from_utf8_lossy(key).into_owned(),
        meta,
        created,
    })
}

/// Wakes the watchers of a store: bumped by this process's writer after a
/// commit, and by a thread following `data.mdb` for other processes'.
pub(crate) struct Signal {
    tx: tokio::sync::watch::Sender<u64>,
    following: OnceLock<()>,
}

impl Signal {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            tx: tokio::sync::watch::Sender::new(0),
            following: OnceLock::new(),
        })
    }

    /// Something may have been logged.
    pub(crate) fn bump(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver of bumps; the first call runs `follow`, which starts
    /// what bumps on other processes' commits (it ends with the store).
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        follow: impl FnOnce(Weak<Signal>),
    ) -> tokio::sync::watch::Receiver<u64> {
        self.following.get_or_init(|| follow(Arc::downgrade(self)));
        self.tx.subscribe()
    }
}

//! The change feed: [`Store::watch`] and its [`Watcher`].

use std::collections::VecDeque;

use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::changes::Cursor;
pub use crate::store::changes::{Change, ChangeKind};

/// How many changes one look at the log takes at most.
const READ_BATCH: usize = 256;

impl Store {
    /// Watches the changes committed from now on (by any process) to the
    /// records whose stored key starts with `prefix` (`""`: all; a
    /// namespace: `"notes:"`), on either engine. See [`Watcher`].
    pub fn watch(&self, prefix: impl Into<String>) -> Result<Watcher> {
        let now = self.changes_now()?;
        Ok(self.watcher(prefix.into(), now))
    }

    /// [`Store::watch`] from the change after sequence number `after` (a
    /// [`Watcher::position`] kept from before; 0: from the log's start,
    /// which is a [`Watched::Lagged`] first once the log has been trimmed).
    /// A position of another store waits for changes past it.
    pub fn watch_from(&self, prefix: impl Into<String>, after: u64) -> Result<Watcher> {
        let cursor = Cursor {
            seq: after,
            index: None,
        };
        Ok(self.watcher(prefix.into(), cursor))
    }

    fn watcher(&self, prefix: String, cursor: Cursor) -> Watcher {
        Watcher::new(self.clone(), prefix, cursor, self.subscribe_changes())
    }
}

/// What [`Watcher::next`] gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Watched {
    /// The next change under the watcher's prefix.
    Change(Change),
    /// Changes after [`Watcher::position`] were trimmed from the log before
    /// this watcher read them: what it mirrors may be stale. Resync (list
    /// and load again); the next items are the changes from `resume_at` on.
    Lagged {
        /// The first sequence number still in the log.
        resume_at: u64,
        /// How many entries (under any prefix) were missed (on Redis, after
        /// [`Store::watch_from`] a position older than the log: at most
        /// this many).
        missed: u64,
    },
}

/// The change feed: every put, delete and expiry of a store, in commit
/// order, from this process and from every other process writing the same
/// store.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), persist_runtime::Error> {
/// use persist_runtime::{ChangeKind, Store, Watched};
///
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::open_at(dir.path())?;
/// let mut watcher = store.watch("notes:")?;
/// store.admin().put_json("notes:a", &serde_json::json!({"text": "hi"}), persist_runtime::Ttl::Never)?;
/// match watcher.next().await? {
///     Watched::Change(change) => {
///         assert_eq!((change.kind, change.key.as_str()), (ChangeKind::Put, "notes:a"));
///     }
///     Watched::Lagged { .. } => unreachable!("one change cannot lag"),
/// }
/// # Ok(())
/// # }
/// ```
///
/// - **What a change holds**: its sequence number, the kind, the record's
///   full stored key and, for a put, the record's [`Meta`](crate::Meta); never the value
///   (load it: [`crate::admin::Admin::get_raw`] or the type's `load`), so
///   the log of an encrypted store holds nothing its seals hide.
/// - **Across processes**: the log is written in the write transaction of
///   each change (on Redis: a stream entry in the change's MULTI/EXEC), so
///   a watcher sees every committed change of any process, exactly once, in
///   commit order; other processes' commits wake it through inotify on
///   Linux (within a second elsewhere), on Redis through `XREAD BLOCK`.
/// - **Bounded**: the log keeps the last
///   [`StoreBuilder::change_log`](crate::StoreBuilder::change_log) entries
///   (default 10,000). A watcher that falls further behind gets
///   [`Watched::Lagged`] with where to resume, then the changes from there:
///   resync what it mirrors, never a silent gap.
/// - **Resuming**: [`Watcher::position`] is the last sequence number
///   delivered; [`Store::watch_from`] starts after it (after a restart, say).
///
/// A stream of the changes under one key prefix ([`Store::watch`]).
pub struct Watcher {
    store: Store,
    prefix: String,
    /// How far the log was read.
    cursor: Cursor,
    /// The last change delivered.
    delivered: u64,
    buffer: VecDeque<Watched>,
    wake: tokio::sync::watch::Receiver<u64>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("prefix", &self.prefix)
            .field("position", &self.position())
            .finish_non_exhaustive()
    }
}

impl Watcher {
    fn new(
        store: Store,
        prefix: String,
        cursor: Cursor,
        wake: tokio::sync::watch::Receiver<u64>,
    ) -> Self {
        Self {
            store,
            prefix,
            cursor,
            delivered: cursor.seq,
            buffer: VecDeque::new(),
            wake,
        }
    }

    /// The next change (or lag), waiting for one to be committed. Cancel-safe:
    /// dropping the future loses nothing. A store that cannot be read (a
    /// Redis server down) is an error within the network timeout (the log is
    /// looked at least every second), never a wait forever.
    pub async fn next(&mut self) -> Result<Watched> {
        loop {
            if let Some(item) = self.pop() {
                return Ok(item);
            }
            // Marked seen before looking, so a commit after the look wakes us.
            self.wake.borrow_and_update();
            if self.store.reads_wait_on_network() {
                // A read on a server may wait on the network: not on a
                // runtime thread (the crate's one rule: `op::read_with`).
                // Dropped meanwhile, nothing is lost (the cursor moves only
                // with what the read gave).
                let (prefix, cursor) = (self.prefix.clone(), self.cursor);
                let (cursor, items) = crate::op::read_with(&self.store, move |store| {
                    read_more(store, &prefix, cursor)
                })
                .await?;
                self.cursor = cursor;
                self.buffer.extend(items);
            } else {
                self.fill()?;
            }
            if self.buffer.is_empty() {
                self.wake
                    .changed()
                    .await
                    .map_err(|_| Error::WriterGone("the store closed".into()))?;
            }
        }
    }

    /// The watcher as a `Stream` of what [`Watcher::next`] gives (it never
    /// ends; an error item is followed by more tries).
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<Watched>> + Send {
        futures_util::stream::unfold(self, |mut watcher| async move {
            let item = watcher.next().await;
            Some((item, watcher))
        })
    }

    /// The next change if one is committed already, without waiting.
    pub fn try_next(&mut self) -> Result<Option<Watched>> {
        if self.buffer.is_empty() {
            self.fill()?;
        }
        Ok(self.pop())
    }

    fn pop(&mut self) -> Option<Watched> {
        let item = self.buffer.pop_front();
        if let Some(Watched::Change(change)) = &item {
            self.delivered = change.seq;
        }
        item
    }

    /// The sequence number of the last change delivered (or skipped as
    /// outside the prefix); [`Store::watch_from`] resumes after it.
    pub fn position(&self) -> u64 {
        if self.buffer.is_empty() {
            self.cursor.seq
        } else {
            self.delivered
        }
    }

    /// Reads what the log holds after the cursor into the buffer.
    fn fill(&mut self) -> Result<()> {
        let (cursor, items) = read_more(&self.store, &self.prefix, self.cursor)?;
        self.cursor = cursor;
        self.buffer.extend(items);
        Ok(())
    }
}

/// What the log holds under `prefix` after `cursor`, and where that leaves
/// the cursor: read again while a read got further without finding anything
/// under the prefix (on Redis a read's limit counts every entry).
fn read_more(store: &Store, prefix: &str, mut cursor: Cursor) -> Result<(Cursor, Vec<Watched>)> {
    loop {
        let before = cursor;
        let read = store.read_changes(cursor, prefix.as_bytes(), READ_BATCH)?;
        cursor = read.scanned_to;
        if let Some((resume_at, missed)) = read.lagged {
            return Ok((cursor, vec![Watched::Lagged { resume_at, missed }]));
        }
        if !read.changes.is_empty() || cursor == before {
            return Ok((
                cursor,
                read.changes.into_iter().map(Watched::Change).collect(),
            ));
        }
    }
}

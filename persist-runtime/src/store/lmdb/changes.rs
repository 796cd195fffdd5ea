//! The change log of an LMDB store (see [`crate::store::changes`] for
//! what an entry holds): a database of the store, sequence number (8 bytes,
//! big-endian) to entry, written in the write transaction of the change.
//!
//! - **Bounded**: every [`TRIM_EVERY`] entries, those older than the last
//!   `capacity` are deleted in the same transaction.
//! - **Wake-ups**: this process's writer bumps the store's [`Signal`] after
//!   each commit; other processes' commits reach a watcher through inotify on
//!   `data.mdb` (LMDB writes it with `pwrite`: every commit modifies it), so
//!   the log costs the write path one B-tree insert and nothing else. A
//!   check every [`BACKSTOP`] covers file systems without inotify.

use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Weak;

use heed::types::Bytes;
use heed::{Database, RoTxn, RwTxn};

use crate::envelope::Header;
use crate::store::changes::{BACKSTOP, ChangeKind, Cursor, Read, Signal, decode, encode};

/// Sequence number to entry.
pub(crate) type ChangesDb = Database<'static, Bytes, Bytes>;

/// Entries between two trims of the log.
pub(crate) const TRIM_EVERY: u64 = 64;

/// Appends one entry for `key` to the log in `txn`, trimming the log to
/// `capacity` entries now and then.
pub(crate) fn append(
    db: ChangesDb,
    txn: &mut RwTxn<'_>,
    capacity: u64,
    kind: ChangeKind,
    key: &[u8],
    header: Option<&Header>,
    created: bool,
) -> heed::Result<()> {
    let last = db
        .last(txn)?
        .and_then(|(k, _)| <[u8; 8]>::try_from(k).ok())
        .map_or(0, u64::from_be_bytes);
    let seq = last + 1;
    let entry = encode(kind, key, header, created);
    db.put(txn, &seq.to_be_bytes(), &entry)?;
    if seq % TRIM_EVERY == 0 && seq > capacity {
        let end = (seq - capacity).to_be_bytes();
        let range = (Bound::Unbounded, Bound::Included(&end[..]));
        db.delete_range(txn, &range)?;
    }
    Ok(())
}

/// The sequence number of the newest entry (0: none yet).
pub(crate) fn last_seq(db: ChangesDb, txn: &RoTxn<'_>) -> heed::Result<u64> {
    Ok(db
        .last(txn)?
        .and_then(|(k, _)| <[u8; 8]>::try_from(k).ok())
        .map_or(0, u64::from_be_bytes))
}

/// Up to `limit` entries after `after` whose key starts with `prefix`.
pub(crate) fn read_after(
    db: ChangesDb,
    txn: &RoTxn<'_>,
    after: u64,
    prefix: &[u8],
    limit: usize,
) -> heed::Result<Read> {
    let first = db
        .first(txn)?
        .and_then(|(k, _)| <[u8; 8]>::try_from(k).ok())
        .map(u64::from_be_bytes);
    // Sequence numbers are dense here: a first one beyond the next is a trim.
    if let Some(first) = first.filter(|&first| first > after.saturating_add(1)) {
        return Ok(Read {
            changes: Vec::new(),
            scanned_to: Cursor {
                seq: first - 1,
                index: None,
            },
            lagged: Some((first, first - after - 1)),
        });
    }
    let start = after.saturating_add(1).to_be_bytes();
    let range = (Bound::Included(&start[..]), Bound::Unbounded);
    let mut read = Read {
        changes: Vec::new(),
        scanned_to: Cursor {
            seq: after,
            index: None,
        },
        lagged: None,
    };
    for item in db.range(txn, &range)? {
        let (k, v) = item?;
        let Ok(seq) = <[u8; 8]>::try_from(k).map(u64::from_be_bytes) else {
            continue;
        };
        read.scanned_to.seq = seq;
        if let Some(change) = decode(seq, v).filter(|c| c.key.as_bytes().starts_with(prefix)) {
            read.changes.push(change);
            if read.changes.len() >= limit {
                break;
            }
        }
    }
    Ok(read)
}

/// Bumps `signal` whenever `file` is written (inotify), and every
/// [`BACKSTOP`] in any case, until the store is gone.
pub(crate) fn follow_file(file: PathBuf, signal: Weak<Signal>) {
    let spawned = std::thread::Builder::new()
        .name("mcp-persist-watch".into())
        .spawn(move || {
            let events = inotify::Events::new(&file);
            if let Err(err) = &events {
                tracing::warn!(
                    file = %file.display(),
                    %err,
                    "watching the store: no inotify; other processes' changes are seen within {BACKSTOP:?}"
                );
            }
            loop {
                match &events {
                    Ok(events) => events.wait(BACKSTOP),
                    Err(_) => std::thread::sleep(BACKSTOP),
                }
                let Some(signal) = signal.upgrade() else {
                    return;
                };
                signal.bump();
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "watching the store: no thread to follow other processes' changes");
    }
}

#[cfg(target_os = "linux")]
mod inotify {
    //! Modifications of one file, through inotify (libc).

    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::time::Duration;

    pub(super) struct Events {
        fd: libc::c_int,
    }

    impl Events {
        pub(super) fn new(file: &Path) -> std::io::Result<Self> {
            let path = CString::new(file.as_os_str().as_bytes())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            // SAFETY: plain system calls on a descriptor this struct owns.
            let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let events = Self { fd };
            // SAFETY: `path` is a valid C string for the call's duration.
            let wd = unsafe { libc::inotify_add_watch(fd, path.as_ptr(), libc::IN_MODIFY) };
            if wd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(events)
        }

        /// Returns when the file was modified, or after `timeout`.
        pub(super) fn wait(&self, timeout: Duration) {
            let mut pfd = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
            // SAFETY: one pollfd, alive for the call.
            let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
            if ready > 0 {
                let mut buf = [0u8; 4096];
                // Drain what is queued (non-blocking): one wake-up for all.
                // SAFETY: `buf` is writable for its length.
                while unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
            }
        }
    }

    impl Drop for Events {
        fn drop(&mut self) {
            // SAFETY: the descriptor is ours and closed once.
            unsafe { libc::close(self.fd) };
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod inotify {
    //! No inotify here: the backstop alone.

    use std::path::Path;
    use std::time::Duration;

    pub(super) struct Events;

    impl Events {
        pub(super) fn new(_file: &Path) -> std::io::Result<Self> {
            Err(std::io::Error::other("inotify is Linux only"))
        }

        pub(super) fn wait(&self, timeout: Duration) {
            std::thread::sleep(timeout);
        }
    }
}

//! The store's write lock across processes, taken with a deadline.
//!
//! LMDB serialises writers of every process with a mutex in `lock.mdb` that
//! has no timed wait: a process stopped (SIGSTOP, a debugger, a suspended
//! laptop's child) while it holds it blocks every other writer forever. Every
//! write transaction of ours is therefore begun under this lock first, a
//! `flock` on `write.lock` in the store's directory, which can be tried and
//! retried until a deadline. LMDB's mutex is then free in every case but a
//! foreign tool writing to the same files.
//!
//! A dead holder releases it at once (the kernel drops the locks of a closed
//! file); within one process, the writer's lead already lets only one thread
//! write at a time.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The lock file's name in the store's directory.
pub(crate) const WRITE_LOCK_FILE: &str = "write.lock";

/// The first pause between two tries; pauses double up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_micros(20);
const MAX_PAUSE: Duration = Duration::from_millis(2);

/// The write lock of one store (one open file per store and process).
pub(crate) struct WriteLock {
    file: File,
    path: PathBuf,
}

/// The lock, held; released when dropped.
pub(crate) struct Held<'a> {
    lock: &'a WriteLock,
}

impl WriteLock {
    /// Opens (creating, owner-only) the lock file of the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(WRITE_LOCK_FILE);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        let file = options.open(&path).map_err(|source| Error::Open {
            path: path.clone(),
            reason: format!("cannot open the write lock file: {source}"),
        })?;
        Ok(Self { file, path })
    }

    /// Takes the lock, trying again until `give_up` says to stop (it is asked
    /// between tries, with how long this call has waited). `Ok(None)`: given up.
    pub fn acquire(&self, mut give_up: impl FnMut(Duration) -> bool) -> Result<Option<Held<'_>>> {
        let start = Instant::now();
        let mut pause = FIRST_PAUSE;
        loop {
            match self.file.try_lock() {
                Ok(()) => return Ok(Some(Held { lock: self })),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(source)) => {
                    return Err(Error::Io {
                        path: self.path.clone(),
                        source,
                    });
                }
            }
            if give_up(start.elapsed()) {
                return Ok(None);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// Takes the lock or fails with [`Error::Busy`] after `timeout`.
    pub fn acquire_within(&self, store: &Path, timeout: Duration) -> Result<Held<'_>> {
        self.acquire(|waited| waited >= timeout)?
            .ok_or_else(|| Error::Busy {
                path: store.to_owned(),
                waited: timeout,
            })
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.lock.file.unlock() {
            // Closing the file (with the store) releases it in any case.
            tracing::error!(path = %self.lock.path.display(), %err, "cannot release the write lock");
        }
    }
}

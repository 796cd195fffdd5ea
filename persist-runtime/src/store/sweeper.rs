//! Purging expired records: a job the writer runs, and a thread that sends it periodically.
//!
//! Expired records are never returned by reads; the sweep only gives their
//! space back. It walks the expiry index from its start (the oldest expiry)
//! to now, so it touches only what expired, never the whole store.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use super::write_ops::index_key;
use super::writer::{WriteFn, Writer};
use crate::envelope;
use crate::error::{Error, Result};

/// The most records one sweep job deletes (one transaction); a sweep runs as
/// many jobs as needed.
const SWEEP_CHUNK: usize = 10_000;

/// A job deleting up to [`SWEEP_CHUNK`] expired records; returns how many.
fn sweep_chunk_job() -> WriteFn<usize> {
    Box::new(|ctx| {
        let shared = ctx.shared;
        let lmdb = |e| shared.lmdb(e);
        let now = ctx.now_ms;
        let end = index_key(now.saturating_add(1), b"");
        let range = (Bound::Unbounded, Bound::Excluded(end.as_slice()));
        let mut due: Vec<Vec<u8>> = Vec::new();
        for item in shared.expiry.range(ctx.txn, &range).map_err(lmdb)? {
            let (k, ()) = item.map_err(lmdb)?;
            due.push(k.to_vec());
            if due.len() >= SWEEP_CHUNK {
                break;
            }
        }
        let mut purged = 0;
        for entry in &due {
            shared.expiry.delete(ctx.txn, entry).map_err(lmdb)?;
            let Some((expires, key)) = entry.split_first_chunk::<8>() else {
                continue; // not an index entry of ours: dropped above
            };
            let Some(bytes) = ctx.get(key)? else { continue };
            let key_text = String::from_utf8_lossy(key);
            let header = match envelope::decode_header(&key_text, bytes) {
                Ok(header) => header,
                Err(err) => {
                    // Never delete what we cannot read: keep the record, say so.
                    tracing::warn!(%err, "sweep: kept a record whose envelope does not decode");
                    continue;
                }
            };
            // Only delete the record if it still carries this expiry.
            if header.expires_ms == Some(u64::from_be_bytes(*expires)) && header.is_expired(now) {
                shared.records.delete(ctx.txn, key).map_err(lmdb)?;
                purged += 1;
            }
        }
        Ok(purged)
    })
}

/// A job that purges everything expired, chunk by chunk inside one job.
pub(crate) fn sweep_job() -> WriteFn<usize> {
    let mut chunk = sweep_chunk_job();
    Box::new(move |ctx| {
        let mut total = 0;
        loop {
            let n = chunk(ctx)?;
            total += n;
            if n < SWEEP_CHUNK {
                return Ok(total);
            }
        }
    })
}

/// The background thread that sweeps every `interval`.
pub(crate) struct Sweeper {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Sweeper {
    pub fn start(writer: Arc<Writer>, interval: Duration, path: &Path) -> Result<Self> {
        let (stop, stopped) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mcp-persist-sweeper".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    match writer.write_blocking(sweep_job()) {
                        Ok(0) => {}
                        Ok(n) => tracing::debug!(purged = n, "swept expired records"),
                        Err(err) => {
                            tracing::warn!(%err, "sweeping expired records failed; will retry")
                        }
                    }
                }
            })
            .map_err(|source| Error::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the mcp-persist sweeper thread panicked");
        }
    }
}

//! The change log on Redis: a stream (`mcp-persist:{app}:changes`), one
//! entry per change added in the MULTI of the change itself, trimmed with
//! `MAXLEN ~`; read with `XRANGE`, followed with `XREAD BLOCK` by one thread
//! per store (other processes' commits wake watchers at once).
//!
//! - **Sequence numbers** are the entries' stream ids, `ms-n`, as
//!   `ms << 20 | n` (increasing like the ids; `n` stays far below 2^20:
//!   that many changes in one millisecond are beyond any server).
//! - **Lags**: ids are sparse, so a trim is seen by counts: `XINFO STREAM`
//!   gives how many entries the stream ever had and how many it holds, in
//!   the same MULTI as the read; a cursor that knows its entry's index
//!   (every watcher after its first read) tells exactly how many it missed.

use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::Value;

use super::RedisEngine;
use crate::error::{Error, Result};
use crate::store::changes::{self, BACKSTOP, Cursor, Read, Signal};

/// Bits of the id's sequence part in a sequence number.
const N_BITS: u32 = 20;

/// The stream id of sequence number `seq`.
fn stream_id(seq: u64) -> String {
    format!("{}-{}", seq >> N_BITS, seq & ((1 << N_BITS) - 1))
}

/// The sequence number of stream id `id` (`ms-n`).
fn seq_of(id: &[u8]) -> Option<u64> {
    let id = std::str::from_utf8(id).ok()?;
    let (ms, n) = id.split_once('-')?;
    let (ms, n): (u64, u64) = (ms.parse().ok()?, n.parse().ok()?);
    Some(ms << N_BITS | n.min((1 << N_BITS) - 1))
}

/// What `XINFO STREAM` says that matters here.
#[derive(Debug, Default)]
struct Info {
    /// The reply was a stream's and had no `entries-added` (Redis < 7.0).
    too_old: bool,
    /// Entries ever added.
    added: u64,
    /// Entries held.
    length: u64,
    /// The id of the oldest entry held.
    first: Option<u64>,
    /// The id of the newest entry ever added.
    last: u64,
}

impl Info {
    /// From the flat key/value reply; a stream that does not exist (an
    /// error reply) is an empty log.
    fn parse(value: &Value) -> Self {
        let mut info = Info::default();
        let Value::Array(items) = value else {
            return info;
        };
        info.too_old = !items
            .iter()
            .any(|v| matches!(v, Value::BulkString(name) if name == b"entries-added"));
        for pair in items.chunks(2) {
            let [Value::BulkString(name), value] = pair else {
                continue;
            };
            match (name.as_slice(), value) {
                (b"entries-added", Value::Int(n)) => info.added = *n as u64,
                (b"length", Value::Int(n)) => info.length = *n as u64,
                (b"last-generated-id", Value::BulkString(id)) => {
                    info.last = seq_of(id).unwrap_or(0);
                }
                (b"first-entry", Value::Array(entry)) => {
                    info.first = match entry.first() {
                        Some(Value::BulkString(id)) => seq_of(id),
                        _ => None,
                    };
                }
                _ => {}
            }
        }
        info
    }

    /// The index (1-based, over the stream's life) of the oldest entry held.
    fn first_index(&self) -> u64 {
        self.added.saturating_sub(self.length) + 1
    }

    /// Refuses a server whose streams do not count their entries.
    fn check(self, url: &str) -> Result<Self> {
        if self.too_old {
            return Err(Error::Unsupported(format!(
                "the change feed on {url} needs Redis 7.0 or later (XINFO STREAM reports no \
                 entries-added)"
            )));
        }
        Ok(self)
    }
}

/// The entries of an `XRANGE` reply: sequence number and entry bytes.
fn entries(value: &Value) -> Vec<(u64, Vec<u8>)> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let Value::Array(parts) = item else {
                return None;
            };
            let [Value::BulkString(id), Value::Array(fields)] = parts.as_slice() else {
                return None;
            };
            let bytes = fields.chunks(2).find_map(|pair| match pair {
                [Value::BulkString(name), Value::BulkString(bytes)] if name == b"e" => {
                    Some(bytes.clone())
                }
                _ => None,
            })?;
            Some((seq_of(id)?, bytes))
        })
        .collect()
}

impl RedisEngine {
    /// Where a watcher starting now is: after the newest entry.
    pub(super) fn stream_position(&self) -> Result<Cursor> {
        let key = self.keys.changes.clone();
        let info = self
            .call(|con| {
                let value: Value = redis::cmd("XINFO")
                    .arg("STREAM")
                    .arg(&key)
                    .query(con)
                    .or_else(no_stream)?;
                Ok(Info::parse(&value))
            })?
            .check(&self.keys.url)?;
        Ok(Cursor {
            seq: info.last,
            index: Some(info.added),
        })
    }

    /// Up to `limit` entries after `cursor` under `prefix`.
    pub(super) fn read_stream(&self, cursor: Cursor, prefix: &[u8], limit: usize) -> Result<Read> {
        let key = self.keys.changes.clone();
        let after = format!("({}", stream_id(cursor.seq));
        let upto = stream_id(cursor.seq);
        let (info, before, fresh) = self.call(|con| {
            let mut pipe = redis::pipe();
            pipe.atomic();
            pipe.cmd("XINFO").arg("STREAM").arg(&key);
            pipe.cmd("XRANGE")
                .arg(&key)
                .arg(&after)
                .arg("+")
                .arg("COUNT")
                .arg(limit.max(1));
            // A cursor without its index (a resume): the held entries up to it.
            if cursor.index.is_none() {
                pipe.cmd("XRANGE").arg(&key).arg("-").arg(&upto);
            }
            match pipe.query::<Vec<Value>>(con) {
                Ok(replies) => {
                    let info = replies.first().map(Info::parse).unwrap_or_default();
                    let fresh = replies.get(1).map(entries).unwrap_or_default();
                    let before = replies.get(2).map(|v| entries(v).len() as u64);
                    Ok((info, before, fresh))
                }
                Err(err) => no_stream(err).map(|_| (Info::default(), Some(0), Vec::new())),
            }
        })?;
        let info = info.check(&self.keys.url)?;
        let trimmed = info.added.saturating_sub(info.length);
        let lag = |index: u64| {
            info.first
                .filter(|_| info.length > 0 && info.first_index() > index + 1)
                .map(|first| (first, info.first_index() - index - 1))
        };
        let (index, lagged) = match (cursor.index, before) {
            (Some(index), _) => (index, lag(index)),
            // Before every held entry, after a trim: a lag of at most the
            // trimmed entries (the cursor's own place is not known).
            (None, Some(0)) if trimmed > 0 && info.first.is_some_and(|f| f > cursor.seq) => {
                (0, info.first.map(|first| (first, trimmed)))
            }
            (None, before) => (trimmed + before.unwrap_or(0), None),
        };
        if let Some((first, missed)) = lagged {
            return Ok(Read {
                changes: Vec::new(),
                scanned_to: Cursor {
                    seq: first - 1,
                    index: Some(info.first_index() - 1),
                },
                lagged: Some((first, missed)),
            });
        }
        let mut read = Read {
            changes: Vec::new(),
            scanned_to: Cursor {
                seq: cursor.seq,
                index: Some(index),
            },
            lagged: None,
        };
        for (seq, bytes) in fresh {
            read.scanned_to = Cursor {
                seq,
                index: read.scanned_to.index.map(|i| i + 1),
            };
            if let Some(change) =
                changes::decode(seq, &bytes).filter(|c| c.key.as_bytes().starts_with(prefix))
            {
                read.changes.push(change);
            }
        }
        Ok(read)
    }

    /// A receiver of this store's wake-ups; the first call starts the
    /// thread following the stream for other processes' changes.
    pub(super) fn subscribe_stream(&self) -> tokio::sync::watch::Receiver<u64> {
        let client = self.client.clone();
        let key = self.keys.changes.clone();
        let url = self.keys.url.clone();
        let timeout = self.network_timeout;
        self.signal
            .subscribe(move |signal| follow_stream(client, key, url, timeout, signal))
    }
}

/// A missing stream is an empty log; any other error stands.
fn no_stream(err: redis::RedisError) -> redis::RedisResult<Value> {
    if err.to_string().contains("no such key") {
        Ok(Value::Nil)
    } else {
        Err(err)
    }
}

/// Bumps `signal` when the stream gets an entry (`XREAD BLOCK`), and every
/// [`BACKSTOP`] in any case, until the store is gone. A failing server is
/// logged once per outage and tried again each backstop; watchers see the
/// failure themselves when they read.
fn follow_stream(
    client: redis::Client,
    key: Vec<u8>,
    url: Arc<str>,
    timeout: Duration,
    signal: Weak<Signal>,
) {
    let spawned = std::thread::Builder::new()
        .name("mcp-persist-watch".into())
        .spawn(move || {
            let block = BACKSTOP.as_millis() as u64;
            let mut con = None;
            let mut last = "$".to_owned();
            let mut failing = false;
            loop {
                let step = (|| -> redis::RedisResult<()> {
                    if con.is_none() {
                        let c = client.get_connection_with_timeout(timeout)?;
                        c.set_read_timeout(Some(timeout + BACKSTOP))?;
                        c.set_write_timeout(Some(timeout))?;
                        con = Some(c);
                    }
                    let Some(c) = con.as_mut() else {
                        return Ok(());
                    };
                    let got: Value = redis::cmd("XREAD")
                        .arg("COUNT")
                        .arg(256)
                        .arg("BLOCK")
                        .arg(block)
                        .arg("STREAMS")
                        .arg(&key)
                        .arg(&last)
                        .query(c)?;
                    // [[stream, [[id, fields], ...]]]: the newest id read.
                    if let Value::Array(streams) = &got
                        && let Some(Value::Array(stream)) = streams.first()
                        && let Some(entries_value) = stream.get(1)
                        && let Some((seq, _)) = entries(entries_value).last()
                    {
                        last = stream_id(*seq);
                    }
                    Ok(())
                })();
                match step {
                    Ok(()) => failing = false,
                    Err(err) => {
                        con = None;
                        if !failing {
                            tracing::warn!(url = %url, %err, "watching the store: cannot follow the change stream; trying again every {BACKSTOP:?}");
                        }
                        failing = true;
                        std::thread::sleep(BACKSTOP);
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_and_sequence_numbers_keep_their_order() {
        let ids = [
            "0-0",
            "0-1",
            "1796365095116-0",
            "1796365095116-7",
            "1796365095117-0",
        ];
        let seqs: Vec<u64> = ids
            .iter()
            .map(|id| seq_of(id.as_bytes()).unwrap())
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        for (id, seq) in ids.iter().zip(&seqs) {
            assert_eq!(stream_id(*seq), *id);
        }
        assert_eq!(seq_of(b"x-1"), None);
    }
}

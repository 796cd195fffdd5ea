//! Newest-first bounded lists (`#[persisted(key = "...", list, max_len = N)]`).
//!
//! Each item is its own record at `namespace:key/<sequence as 16 hex digits>`,
//! so items expire one by one and a push touches only the newest entries.
//! A push appends and trims to `max_len` in the same write transaction.

use std::fmt::Write as _;
use std::ops::ControlFlow;

use crate::envelope::{Header, Meta, Stored};
use crate::error::{Error, Result};
use crate::key::{RecordKey, namespace_prefix};
use crate::persisted::Persisted;
use crate::place::Place;
use crate::records::{Ttl, decode_record, next_header, write_back_if_migrated};
use crate::scope::Scope;
use crate::spec::Kind;
use crate::store::{KeyRange, Order, WriteFn};

/// `namespace:key/` (after the scope's prefix), the prefix of every item of
/// the list under `scope`.
fn item_prefix<T: Persisted>(scope: Option<&Scope>) -> Result<String> {
    let mut prefix = namespace_prefix(&T::SPEC, scope)?;
    prefix.push_str(T::SPEC.key);
    prefix.push('/');
    Ok(prefix)
}

fn max_len<T: Persisted>() -> Option<usize> {
    match T::SPEC.kind {
        Kind::List { max_len } => max_len,
        _ => None,
    }
}

pub(crate) fn push_job<T: Persisted>(
    value: &T,
    scope: Option<&Scope>,
    ttl: Ttl,
) -> Result<WriteFn<Header>> {
    let data = crate::records::encode(value)?;
    let prefix = item_prefix::<T>(scope)?;
    // The longest item key, checked once up front.
    RecordKey::checked(&T::SPEC, format!("{prefix}{:016x}", u64::MAX))?;
    Ok(Box::new(move |ctx| {
        let last = ctx
            .last_key_under(prefix.as_bytes())?
            .map(|k| k[prefix.len()..].to_vec());
        let seq = match last {
            None => 0,
            Some(suffix) => parse_seq(&suffix)
                .and_then(|s| s.checked_add(1))
                .ok_or_else(|| Error::Decode {
                    key: format!("{prefix}{}", String::from_utf8_lossy(&suffix)),
                    type_name: T::SPEC.type_name,
                    reason: "list item key does not end in a 16-digit sequence number".into(),
                })?,
        };
        let mut key = prefix.clone();
        let _ = write!(key, "{seq:016x}");
        let header = next_header::<T>(None, ctx.now_ms, ttl);
        ctx.put(key.as_bytes(), None, &header, &data)?;
        if let Some(max) = max_len::<T>() {
            // Newest first: keep the first `max` live items, drop the rest.
            let mut live = 0;
            for (key, header) in ctx.scan_headers(&prefix, true)? {
                if header.is_expired(ctx.now_ms) || live >= max {
                    ctx.remove(key.as_bytes(), Some(&header))?;
                } else {
                    live += 1;
                }
            }
        }
        Ok(header)
    }))
}

fn parse_seq(suffix: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(suffix).ok()?;
    (text.len() == 16).then(|| u64::from_str_radix(text, 16).ok())?
}

/// Adds `value` as the newest item of the list (trimming it to `max_len`), returning the metadata the write gave the item.
pub(crate) async fn push_with_meta<T: Persisted>(
    at: Place<'_>,
    value: &T,
    ttl: Ttl,
) -> Result<Meta> {
    let write = at.store.submit(push_job(value, at.scope, ttl));
    Ok(write.await?.meta())
}

/// Up to `limit` live items, newest first, with their metadata.
pub(crate) fn recent_stored<T: Persisted>(at: Place<'_>, limit: usize) -> Result<Vec<Stored<T>>> {
    let store = at.store;
    let prefix = item_prefix::<T>(at.scope)?;
    let now = store.now_ms();
    let mut migrated = Vec::new();
    let mut items = Vec::new();
    let range = KeyRange::prefix(prefix.as_bytes());
    store.scan_records(range, Order::Reverse, |k, bytes| {
        if items.len() >= limit {
            return Ok(ControlFlow::Break(()));
        }
        let key = String::from_utf8_lossy(k);
        let (header, value) = decode_record::<T>(&key, bytes)?;
        if header.version < T::SPEC.version {
            migrated.push((key.into_owned(), header));
        }
        if !header.is_expired(now) {
            items.push(Stored {
                value,
                meta: header.meta(),
            });
        }
        Ok(ControlFlow::Continue(()))
    })?;
    for (key, header) in &migrated {
        write_back_if_migrated::<T>(store, key, header);
    }
    Ok(items)
}

pub(crate) fn clear_job<T: Persisted>(scope: Option<&Scope>) -> Result<WriteFn<usize>> {
    let prefix = item_prefix::<T>(scope)?;
    Ok(Box::new(move |ctx| {
        let now = ctx.now_ms;
        let mut live = 0;
        for (key, header) in ctx.scan_headers(&prefix, false)? {
            ctx.remove(key.as_bytes(), Some(&header))?;
            live += usize::from(!header.is_expired(now));
        }
        Ok(live)
    }))
}

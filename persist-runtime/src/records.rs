//! Typed operations on records of a [`Persisted`] type: the generic code
//! behind the accessors `#[persisted]` generates.
//!
//! Reads run inline in a short read transaction. Writes are jobs for the
//! writer thread: the value is encoded on the caller's thread, the job reads
//! what it must, writes, and is acknowledged once its batch is committed.

use std::fmt::Display;
use std::ops::ControlFlow;
use std::time::Duration;

use crate::clock::duration_ms;
use crate::envelope::{self, Header, Meta, Stored};
use crate::error::{Error, Result};
use crate::key::{self, RecordKey};
use crate::persisted::{self, Persisted};
use crate::place::Place;
use crate::scope::Scope;
use crate::store::{KeyRange, Order, Store, WriteFn};

/// How long a record lives, overriding its type's `ttl`.
///
/// A save chooses the record's expiry policy; every later write of the
/// record that does not choose one (`update`, `update_or_insert` on a live
/// record) keeps it, re-arming it from the time of that write: a record
/// saved with `Never` never expires, one saved with `After(d)` expires `d`
/// after its last write, one saved with `Default` follows its type's `ttl`.
/// To change the policy, save the record again with another `Ttl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ttl {
    /// The type's `ttl` (none if it declares none).
    #[default]
    Default,
    /// This write never expires.
    Never,
    /// This write expires after the given time.
    After(Duration),
}

impl Ttl {
    /// The expiry (epoch ms) of a record whose type's ttl is `type_ttl`,
    /// written at `now_ms`.
    fn expiry(self, type_ttl: Option<Duration>, now_ms: u64) -> Option<u64> {
        let ttl = match self {
            Ttl::Default => type_ttl,
            Ttl::Never => None,
            Ttl::After(d) => Some(d),
        };
        ttl.map(|d| now_ms.saturating_add(duration_ms(d)))
    }

    /// How the envelope remembers a write's choice (see `Header::ttl_ms`).
    pub(crate) fn stored(self) -> Option<u64> {
        match self {
            Ttl::Default => None,
            Ttl::Never => Some(0),
            Ttl::After(d) => Some(duration_ms(d).max(1)),
        }
    }

    /// The choice a record's envelope remembers.
    pub(crate) fn of_stored(ttl_ms: Option<u64>) -> Self {
        match ttl_ms {
            None => Ttl::Default,
            Some(0) => Ttl::Never,
            Some(ms) => Ttl::After(Duration::from_millis(ms)),
        }
    }
}

/// Options of a paginated listing of keyed records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Only records whose first key field starts with this text.
    pub prefix: Option<String>,
    /// At most this many records (all if `None`).
    pub limit: Option<usize>,
    /// Continue after this cursor (from [`Page::next_cursor`]).
    pub cursor: Option<String>,
}

/// One page of a listing, in key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The records of this page, with their metadata.
    pub items: Vec<Stored<T>>,
    /// Pass this as [`ListOptions::cursor`] to get the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// Decodes a stored envelope as `T`: a record of the current version as is;
/// one of an older version through the type's migration if it has one (else
/// as is: fields added with `#[serde(default)]` need none); one of a newer
/// version is an error. The returned header is the stored one, so a caller
/// can tell a migrated record (`header.version < T::SPEC.version`).
#[inline]
pub(crate) fn decode_record<T: Persisted>(key: &str, bytes: &[u8]) -> Result<(Header, T)> {
    // The common case, a record of the current version, decoded in one step.
    if let Some((header, value)) = envelope::split(bytes)
        && header.version == T::SPEC.version
        && let Ok(value) = serde_json::from_slice::<T>(value)
    {
        return Ok((header, value));
    }
    decode_other_record(key, bytes)
}

/// [`decode_record`] for every case but the common one.
#[inline(never)]
fn decode_other_record<T: Persisted>(key: &str, bytes: &[u8]) -> Result<(Header, T)> {
    let spec = &T::SPEC;
    let newer = |header: &Header| Error::NewerVersion {
        key: key.to_owned(),
        type_name: spec.type_name,
        stored: header.version,
        supported: spec.version,
    };
    let first_try = envelope::decode::<T>(key, spec.type_name, bytes);
    match first_try {
        Ok((header, value)) if header.version == spec.version => return Ok((header, value)),
        Ok((header, _)) if header.version > spec.version => return Err(newer(&header)),
        Ok(decoded) if spec.migrate.is_none() => return Ok(decoded),
        _ => {}
    }
    let (header, json) = envelope::decode::<serde_json::Value>(key, spec.type_name, bytes)?;
    if header.version > spec.version {
        return Err(newer(&header));
    }
    match spec.migrate {
        Some(migrate) if header.version < spec.version => {
            let failed = |reason: String| Error::Migration {
                key: key.to_owned(),
                type_name: spec.type_name,
                from: header.version,
                to: spec.version,
                reason,
            };
            let migrated = migrate(json, header.version).map_err(failed)?;
            let value = serde_json::from_value(migrated)
                .map_err(|e| failed(format!("the migrated value does not decode: {e}")))?;
            Ok((header, value))
        }
        _ => first_try,
    }
}

/// After a read that migrated a record, writes it back in the current
/// version, in the background (the read does not wait for a commit).
pub(crate) fn write_back_if_migrated<T: Persisted>(store: &Store, key: &str, header: &Header) {
    if header.version >= T::SPEC.version || T::SPEC.migrate.is_none() {
        return;
    }
    let key = key.to_owned();
    store.write_detached(
        "writing back a migrated record",
        Box::new(move |ctx| {
            let Some(bytes) = ctx.get(key.as_bytes())? else {
                return Ok(());
            };
            let (old, value) = decode_record::<T>(&key, bytes)?;
            if old.version >= T::SPEC.version {
                return Ok(()); // someone else got there first
            }
            let data = encode(&value)?;
            let header = Header {
                version: T::SPEC.version,
                ..old
            };
            ctx.put(key.as_bytes(), Some(&old), &header, &data)
        }),
    );
}

/// Encodes a value to store. JSON has no NaN or infinity: serde_json writes
/// them as `null`, which would store a record that no longer decodes (an f32
/// field given 1e39 through a tool, say; found by the `tool_call` fuzz
/// target). So an encoding with a `null` in it is decoded once more, and
/// refused if it does not read back.
pub(crate) fn encode<T: Persisted>(value: &T) -> Result<Vec<u8>> {
    let refuse = |reason: String| Error::Encode {
        type_name: T::SPEC.type_name,
        reason,
    };
    let data = serde_json::to_vec(value).map_err(|e| refuse(e.to_string()))?;
    if data.windows(4).any(|w| w == b"null")
        && let Err(e) = serde_json::from_slice::<T>(&data)
    {
        return Err(refuse(format!(
            "it would not read back ({e}): a float that is NaN or infinite (out of range) \
             becomes null in JSON"
        )));
    }
    Ok(data)
}

/// The header of a new write of `T` replacing `old` (whose creation time it keeps
/// if `old` is still live).
pub(crate) fn next_header<T: Persisted>(old: Option<&Header>, now_ms: u64, ttl: Ttl) -> Header {
    header_after(old, now_ms, T::SPEC.version, T::SPEC.ttl, ttl)
}

/// The header of a write at `now_ms` over a record whose header was `old`,
/// for schema `version`, a type whose ttl is `type_ttl` and the write's
/// `ttl`: the creation time is kept unless the old record had expired.
pub(crate) fn header_after(
    old: Option<&Header>,
    now_ms: u64,
    version: u32,
    type_ttl: Option<Duration>,
    ttl: Ttl,
) -> Header {
    let created_ms = old
        .filter(|h| !h.is_expired(now_ms))
        .map_or(now_ms, |h| h.created_ms);
    Header {
        version,
        created_ms,
        updated_ms: now_ms,
        expires_ms: ttl.expiry(type_ttl, now_ms),
        ttl_ms: ttl.stored(),
    }
}

/// Refuses a change that would move a record to another key (its key
/// fields changed inside an update or a patch).
pub(crate) fn check_key_kept<T: Persisted>(
    key: &RecordKey,
    scope: Option<&Scope>,
    value: &T,
) -> Result<()> {
    let new_key = value.record_key(scope)?;
    if new_key != *key {
        return Err(Error::KeyChanged {
            type_name: T::SPEC.type_name,
            key: key.to_string(),
            new_key: new_key.to_string(),
        });
    }
    Ok(())
}

/// Refuses to overwrite a record written by a newer schema version.
fn check_not_newer<T: Persisted>(key: &str, old: Option<&Header>) -> Result<()> {
    match old {
        Some(h) if h.version > T::SPEC.version => Err(Error::NewerVersion {
            key: key.to_owned(),
            type_name: T::SPEC.type_name,
            stored: h.version,
            supported: T::SPEC.version,
        }),
        _ => Ok(()),
    }
}

/// The key of the record of `T` with key fields `params`, under `scope`
/// for a per-user type.
pub fn key_of<T: Persisted>(scope: Option<&Scope>, params: &[&dyn Display]) -> Result<RecordKey> {
    RecordKey::render_with(&T::SPEC, persisted::escapes_of::<T>(), scope, params)
}

/// Loads the live record at `key` with its metadata.
pub(crate) fn load_stored_at<T: Persisted>(store: &Store, key: &str) -> Result<Option<Stored<T>>> {
    let mut value = None;
    let header = load_into(store, key, &mut value)?;
    Ok(header.zip(value).map(|(header, value)| Stored {
        value,
        meta: header.meta(),
    }))
}

/// Decodes the live record at `key` into `out` (left `None` if there is
/// none) and returns its header. The value is decoded straight into `out`:
/// records are moved as little as possible on this path.
pub(crate) fn load_into<T: Persisted>(
    store: &Store,
    key: &str,
    out: &mut Option<T>,
) -> Result<Option<Header>> {
    let header = store.read_record(key.as_bytes(), |bytes| {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let (header, value) = decode_record::<T>(key, bytes)?;
        // The clock is read only for records that can expire.
        if header.expires_ms.is_some() && header.is_expired(store.now_ms()) {
            return Ok(None);
        }
        *out = Some(value);
        Ok(Some(header))
    })?;
    if let Some(header) = &header {
        write_back_if_migrated::<T>(store, key, header);
    }
    Ok(header)
}

/// Whether a live record is stored at `key`.
pub(crate) fn exists_at(store: &Store, key: &str) -> Result<bool> {
    store.read_record(key.as_bytes(), |bytes| match bytes {
        None => Ok(false),
        Some(bytes) => {
            let header = envelope::decode_header(key, bytes)?;
            // The clock is read only for records that can expire (as in `load`).
            Ok(header.expires_ms.is_none() || !header.is_expired(store.now_ms()))
        }
    })
}

pub(crate) fn save_job<T: Persisted>(
    value: &T,
    scope: Option<&Scope>,
    ttl: Ttl,
) -> Result<WriteFn<Header>> {
    let key = value.record_key(scope)?;
    let data = encode(value)?;
    Ok(Box::new(move |ctx| {
        let old = ctx.header_to_replace(key.as_str())?;
        check_not_newer::<T>(key.as_str(), old.as_ref())?;
        let header = next_header::<T>(old.as_ref(), ctx.now_ms, ttl);
        ctx.put(key.as_bytes(), old.as_ref(), &header, &data)?;
        Ok(header)
    }))
}

/// Saves `value` at its key, returning the metadata the write gave the record.
pub(crate) async fn save_with_meta<T: Persisted>(
    at: Place<'_>,
    value: &T,
    ttl: Ttl,
) -> Result<Meta> {
    let write = at.store.submit(save_job(value, at.scope, ttl));
    Ok(write.await?.meta())
}

/// How `update` starts when no live record exists.
pub(crate) enum Missing {
    /// Nothing is written; the update returns `None`.
    Skip,
    /// Start from this value (JSON of the initial value).
    Insert(Vec<u8>),
}

/// The job behind every update: `f` may refuse the change with an error, in
/// which case nothing is written.
fn try_update_job<T: Persisted, F>(
    key: RecordKey,
    scope: Option<Scope>,
    missing: Missing,
    mut f: F,
) -> WriteFn<Option<Stored<T>>>
where
    F: FnMut(&mut T) -> Result<()> + Send + 'static,
{
    Box::new(move |ctx| {
        let now = ctx.now_ms;
        let current = match ctx.get(key.as_bytes())? {
            Some(bytes) => Some(decode_record::<T>(key.as_str(), bytes)?),
            None => None,
        };
        let (old, mut value) = match current {
            Some((header, value)) if !header.is_expired(now) => (Some(header), value),
            stale => {
                let Missing::Insert(initial) = &missing else {
                    return Ok(None);
                };
                let value = serde_json::from_slice(initial).map_err(|e| Error::Decode {
                    key: key.to_string(),
                    type_name: T::SPEC.type_name,
                    reason: e.to_string(),
                })?;
                (stale.map(|(header, _)| header), value)
            }
        };
        f(&mut value)?;
        check_key_kept(&key, scope.as_ref(), &value)?;
        let data = encode(&value)?;
        // The record keeps its own expiry policy (a stale one does not).
        let ttl = old
            .filter(|h| !h.is_expired(now))
            .map_or(Ttl::Default, |h| Ttl::of_stored(h.ttl_ms));
        let header = next_header::<T>(old.as_ref(), now, ttl);
        ctx.put(key.as_bytes(), old.as_ref(), &header, &data)?;
        Ok(Some(Stored {
            value,
            meta: header.meta(),
        }))
    })
}

/// The job of an update (`T::update`): `f` applied to the live record at
/// `key` in one write transaction (no update is lost between threads or
/// processes); `None`, and nothing written, if there is none (`Missing::Skip`).
/// `f` may run more than once (the batch is retried after the map grew).
///
/// Reads inside `f`: a read of the store (through a `Store` clone `f`
/// captured, say, loading another record) sees the last committed state:
/// not the writes that ran before it in the same batch (the writer commits
/// many callers' writes in one transaction), nor this update's own change.
pub(crate) fn update_job<T: Persisted, F>(
    key: RecordKey,
    scope: Option<Scope>,
    missing: Missing,
    mut f: F,
) -> WriteFn<Option<T>>
where
    F: FnMut(&mut T) + Send + 'static,
{
    let mut job = try_update_job::<T, _>(key, scope, missing, move |v: &mut T| {
        f(v);
        Ok(())
    });
    Box::new(move |ctx| Ok(job(ctx)?.map(|s| s.value)))
}

/// The job of an update that starts from `initial` when no live record
/// exists at its key; returns the stored value.
pub(crate) fn upsert_job<T, F>(initial: &T, scope: Option<&Scope>, f: F) -> Result<WriteFn<T>>
where
    T: Persisted,
    F: FnMut(&mut T) + Send + 'static,
{
    let key = initial.record_key(scope)?;
    let mut job = update_job(key, scope.cloned(), Missing::Insert(encode(initial)?), f);
    Ok(Box::new(move |ctx| inserted(job(ctx)?)))
}

fn inserted<T: Persisted>(value: Option<T>) -> Result<T> {
    value.ok_or_else(|| Error::WriterGone("an upsert returned no value".into()))
}

pub(crate) fn delete_job(key: RecordKey) -> WriteFn<bool> {
    Box::new(move |ctx| {
        let old = ctx.header_to_replace(key.as_str())?;
        let live = old.is_some_and(|h| !h.is_expired(ctx.now_ms));
        let existed = ctx.remove(key.as_bytes(), old.as_ref())?;
        Ok(existed && (live || old.is_none()))
    })
}

/// Deletes the record of `T` at `key`.
pub(crate) async fn delete_key(store: &Store, key: RecordKey) -> Result<bool> {
    store.submit(Ok(delete_job(key))).await
}

/// Lists live records of `T` (under the scope of `at`) in key order, a
/// page at a time.
pub(crate) fn list<T: Persisted>(at: Place<'_>, opts: &ListOptions) -> Result<Page<T>> {
    let spec = &T::SPEC;
    let store = at.store;
    let prefix = key::search_prefix(spec, at.scope, opts.prefix.as_deref().unwrap_or(""))?;
    // A cursor names the last key of a page: one of this type in this scope.
    let after = match &opts.cursor {
        Some(cursor) if cursor.starts_with(&key::namespace_prefix(spec, at.scope)?) => {
            Some(cursor.as_bytes())
        }
        Some(cursor) => {
            return Err(Error::InvalidCursor {
                type_name: spec.type_name,
                cursor: cursor.clone(),
            });
        }
        None => None,
    };
    let range = KeyRange {
        prefix: prefix.as_bytes(),
        after,
    };
    let limit = opts.limit.unwrap_or(usize::MAX);
    let now = store.now_ms();
    let mut migrated = Vec::new();
    let mut items = Vec::new();
    let mut next_cursor = None;
    let mut last_key = String::new();
    store.scan_records(range, Order::Forward, |k, bytes| {
        let key = String::from_utf8_lossy(k);
        if items.len() == limit {
            // Is there another live record after this page?
            if !envelope::decode_header(&key, bytes)?.is_expired(now) {
                next_cursor = Some(std::mem::take(&mut last_key));
                return Ok(ControlFlow::Break(()));
            }
            return Ok(ControlFlow::Continue(()));
        }
        let (header, value) = decode_record::<T>(&key, bytes)?;
        if header.is_expired(now) {
            return Ok(ControlFlow::Continue(()));
        }
        if header.version < T::SPEC.version {
            migrated.push((key.to_string(), header));
        }
        items.push(Stored {
            value,
            meta: header.meta(),
        });
        last_key = key.into_owned();
        Ok(ControlFlow::Continue(()))
    })?;
    let page = Page { items, next_cursor };
    for (key, header) in &migrated {
        write_back_if_migrated::<T>(store, key, header);
    }
    Ok(page)
}

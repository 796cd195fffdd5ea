//! Type-agnostic access to a store: the door that bypasses types.
//!
//! [`Store::admin`] opens it: raw records by full key, export and import,
//! backup, statistics and checks. It is the API of the `mcp-persist`
//! command line and of operators' own tools, which see a store from outside
//! and do not know its Rust types. Nothing here decodes, validates,
//! migrates or expires a record as its type would: a server's own code uses
//! the accessors `#[persisted]` generates instead.
//!
//! Every method blocks the calling thread until it is done (writes until
//! they are committed): it is made for command lines and scripts. From async
//! code, call it in `tokio::task::spawn_blocking`.

//!
//! - this file: raw records by full key ([`Admin::get_raw`], `put_json`, ...);
//! - `transfer.rs`: JSONL export and import ([`Admin::export_jsonl`], [`Admin::import_jsonl`]);
//! - `maintenance.rs`: backup, statistics, checks, re-keying, erasing a user
//!   ([`Admin::backup_to`], [`Admin::stats`], [`Admin::check`], [`Admin::rekey`],
//!   [`Admin::erase_scope`]).

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod maintenance;
mod transfer;

use std::ops::ControlFlow;

use serde_json::Value;

pub use crate::envelope::Header;
pub use crate::key::split_key;
pub use maintenance::{NamespaceStats, RekeyReport, StoreStats};
pub use transfer::{ImportBatch, ImportReport};

use crate::envelope;
use crate::error::{Error, Result};
use crate::key::MAX_KEY_LEN;
use crate::records::{self, Ttl};
use crate::store::{KeyRange, Order, Store};

/// One stored record as seen from outside.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// The full key, `namespace:key`.
    pub key: String,
    /// Size of the stored envelope in bytes.
    pub size: usize,
    /// The envelope's header, or why it does not decode.
    pub header: std::result::Result<Header, String>,
    /// The id of the key that sealed the value (encryption at rest).
    pub sealed_with: Option<String>,
}

impl RawRecord {
    /// The namespace part of the key (before the first `:`, after the
    /// scope of a per-user record).
    pub fn namespace(&self) -> &str {
        split_key(&self.key)
            .1
            .split_once(':')
            .map_or("", |(ns, _)| ns)
    }

    /// The user whose record this is (`None` for a shared record): see
    /// [`split_key`].
    pub fn scope(&self) -> Option<String> {
        split_key(&self.key).0
    }
}

pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.contains(':') {
        return Err(Error::InvalidRawKey {
            key: key.chars().take(80).collect(),
        });
    }
    Ok(())
}

/// Type-agnostic access to a [`Store`], from [`Store::admin`]: the door that
/// bypasses types, for the command line and operators (see the [module](self)).
///
/// ```
/// # fn main() -> Result<(), persist_runtime::Error> {
/// let store = persist_runtime::Store::memory()?;
/// let admin = store.admin();
/// admin.put_json(
///     "notes:a",
///     &serde_json::json!({"text": "hi"}),
///     persist_runtime::Ttl::Never,
/// )?;
/// assert_eq!(admin.raw_keys("notes:")?, ["notes:a"]);
/// assert!(admin.check()?.is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Admin<'s> {
    store: &'s Store,
}

impl Store {
    /// Type-agnostic access to this store: raw records by full key,
    /// export/import, backup, statistics and checks. The door that bypasses
    /// types, for the command line and operators; a server's own code uses
    /// the accessors `#[persisted]` generates instead.
    pub fn admin(&self) -> Admin<'_> {
        Admin { store: self }
    }
}
impl Admin<'_> {
    /// The raw stored envelope at a full key (`namespace:key`), whatever it
    /// holds: for export, inspection and rescue of records that do not decode.
    pub fn get_raw(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.store
            .read_record(key.as_bytes(), |bytes| Ok(bytes.map(<[u8]>::to_vec)))
    }

    /// Full keys of every stored record starting with `prefix`, in key order
    /// (expired records not yet purged included).
    pub fn raw_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        self.each_record(prefix, |k, _| {
            keys.push(String::from_utf8_lossy(k).into_owned());
            true
        })?;
        Ok(keys)
    }

    /// Every record whose key starts with `prefix`, in key order, up to `limit`.
    pub fn scan(&self, prefix: &str, limit: Option<usize>) -> Result<Vec<RawRecord>> {
        let mut out = Vec::new();
        self.each_record(prefix, |k, v| {
            if limit.is_some_and(|l| out.len() >= l) {
                return false;
            }
            let key = String::from_utf8_lossy(k).into_owned();
            let header = envelope::check(&key, v).map_err(|e| e.to_string());
            out.push(RawRecord {
                key,
                size: v.len(),
                header,
                sealed_with: envelope::split_sealed(v).map(|s| s.key_id.to_owned()),
            });
            true
        })?;
        Ok(out)
    }

    /// Calls `f` with each record (key, envelope bytes as stored: sealed
    /// ones too, whose headers are in clear) whose key starts with `prefix`,
    /// in key order and in one read transaction, until it says stop.
    fn each_record(&self, prefix: &str, mut f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        let range = KeyRange::prefix(prefix.as_bytes());
        self.store.scan_stored(range, Order::Forward, |k, v| {
            Ok(if f(k, v) {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            })
        })
    }

    /// The whole envelope at `key` as JSON (`None` if absent).
    pub fn get_envelope(&self, key: &str) -> Result<Option<Value>> {
        let Some(bytes) = self.get_raw(key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Decode {
                key: key.to_owned(),
                type_name: "mcp-persist envelope",
                reason: e.to_string(),
            })
    }

    /// Stores `data` at `key`, keeping the stored envelope's version and
    /// creation time (version 1 for a new key), with the expiry `ttl`
    /// chooses: [`Ttl::Never`] or [`Ttl::After`] are the record's own (later
    /// typed writes keep them); [`Ttl::Default`] leaves it to the record's
    /// type (nothing here knows it: the record does not expire until its
    /// type's next write).
    pub fn put_json(&self, key: &str, data: &Value, ttl: Ttl) -> Result<()> {
        check_key(key)?;
        let key = key.to_owned();
        let data = serde_json::to_vec(data).map_err(|e| Error::Encode {
            type_name: "JSON value",
            reason: e.to_string(),
        })?;
        self.store.write_blocking(Box::new(move |ctx| {
            let old = ctx.header_to_replace(&key)?;
            let version = old.map_or(1, |h| h.version);
            let header = records::header_after(old.as_ref(), ctx.now_ms, version, None, ttl);
            ctx.put(key.as_bytes(), old.as_ref(), &header, &data)
        }))
    }

    /// Deletes the record at `key`, whatever it holds. Returns whether it existed.
    pub fn delete_raw(&self, key: &str) -> Result<bool> {
        let key = key.to_owned();
        self.store.write_blocking(Box::new(move |ctx| {
            let old = ctx.header_to_replace(&key)?;
            ctx.remove(key.as_bytes(), old.as_ref())
        }))
    }
}

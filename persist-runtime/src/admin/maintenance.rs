//! Keeping a store: hot backups, statistics, checks, re-keying to the
//! current encryption key, erasing one user's records.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::Admin;
use crate::crypt;
use crate::envelope;
use crate::error::{Error, Result};
use crate::scope::Scope;
use crate::store::{KeyRange, Order};

/// Counts of a store, for `stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Records and their bytes per namespace.
    pub namespaces: BTreeMap<String, NamespaceStats>,
    /// Size of `data.mdb` on disk (`None` for a store on a server).
    pub file_bytes: Option<u64>,
    /// Size of the memory map (`None` for a store on a server).
    pub map_bytes: Option<u64>,
    /// Records expired but not yet purged.
    pub expired_pending: usize,
    /// Sealed records (encryption at rest) per id of the key that sealed
    /// them: known without any key, so a store opened without keys tells
    /// what it holds, and a rotation what is left to `rekey`.
    pub sealed: BTreeMap<String, usize>,
}

/// Records and live bytes of one namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NamespaceStats {
    /// Number of records.
    pub records: usize,
    /// Bytes of their envelopes.
    pub bytes: u64,
}

/// Records deleted per write transaction by [`Admin::erase_scope`].
const ERASE_BATCH: usize = 1000;

/// What [`Admin::rekey`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RekeyReport {
    /// Records sealed anew under the current key (older key, or plain).
    pub resealed: usize,
    /// Records that were already sealed under it.
    pub current: usize,
    /// Records left as they are because they do not decode.
    pub skipped: usize,
}

impl Admin<'_> {
    /// Deletes every record of `scope` (of every per-user type; expired
    /// ones too), in write transactions of at most 1000 records so that
    /// servers writing meanwhile never wait long. Returns how many were
    /// deleted. No other user's record and no shared record is touched: the
    /// scope's key prefix ends with `/`, so erasing `bob` leaves `bob2`.
    /// Records the user writes while the erase runs are erased too; a write
    /// that lands after it returns is kept.
    pub fn erase_scope(&self, scope: &Scope) -> Result<usize> {
        let prefix = scope.key_prefix().as_bytes().to_vec();
        let mut erased = 0;
        loop {
            let mut keys = Vec::with_capacity(ERASE_BATCH);
            self.store
                .scan_stored(KeyRange::prefix(&prefix), Order::Forward, |k, _| {
                    keys.push(k.to_vec());
                    Ok(if keys.len() < ERASE_BATCH {
                        ControlFlow::Continue(())
                    } else {
                        ControlFlow::Break(())
                    })
                })?;
            if keys.is_empty() {
                return Ok(erased);
            }
            erased += self.store.write_blocking(Box::new(move |ctx| {
                ctx.prefetch(&keys)?;
                let mut deleted = 0;
                for key in &keys {
                    let name = String::from_utf8_lossy(key);
                    let old = ctx.header_to_replace(&name)?;
                    deleted += usize::from(ctx.remove(key, old.as_ref())?);
                }
                Ok(deleted)
            }))?;
        }
    }

    /// A hot, compacted copy of the store into directory `dest` (created
    /// owner-only; it must not hold a store already). Safe while servers write.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        crate::store::create_private_dir(dest)?;
        let target = dest.join("data.mdb");
        if target.exists() {
            return Err(Error::Open {
                path: dest.to_owned(),
                reason: "a store is already there; back up into an empty directory".into(),
            });
        }
        self.store.copy_compacted_to(&target)?;
        // Owner-only, like the store (inside a directory only its user reaches).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).map_err(
                |source| Error::Io {
                    path: target.clone(),
                    source,
                },
            )?;
        }
        Ok(())
    }

    /// Per-namespace counts, sizes, expired records not yet purged, and
    /// sealed records per key id.
    pub fn stats(&self) -> Result<StoreStats> {
        let mut stats = StoreStats {
            expired_pending: self.store.expired_pending()?,
            ..StoreStats::default()
        };
        for record in self.scan("", None)? {
            let ns = stats
                .namespaces
                .entry(record.namespace().to_owned())
                .or_default();
            ns.records += 1;
            ns.bytes += record.size as u64;
            if let Some(key_id) = record.sealed_with {
                *stats.sealed.entry(key_id).or_default() += 1;
            }
        }
        stats.file_bytes = self
            .store
            .path()
            .map(|dir| std::fs::metadata(dir.join("data.mdb")).map_or(0, |m| m.len()));
        stats.map_bytes = self.store.map_bytes();
        Ok(stats)
    }

    /// The id of the key this store seals writes with, if it encrypts.
    pub fn current_key_id(&self) -> Option<String> {
        self.store.keyring().map(|k| k.current().id().to_owned())
    }

    /// Seals every record under the current key of the store's keyring:
    /// records sealed with an older key, and plain ones (so `rekey` also
    /// encrypts a store that was not). In write transactions of at most
    /// 1000 records, while servers run (they must already hold the new key
    /// as current and the old ones to read). Timestamps and expiry are kept.
    /// A record that does not decode is left as it is and counted.
    /// `progress` is told how many records were looked at, after each batch.
    pub fn rekey(&self, progress: &mut dyn FnMut(usize)) -> Result<RekeyReport> {
        let keys = self.store.keyring().ok_or_else(|| Error::InvalidKey {
            origin: "rekey".into(),
            reason: format!(
                "the store was opened without keys: give them (a key file, or {}); the first \
                 one seals everything",
                crypt::KEY_FILE_ENV_VAR
            ),
        })?;
        let current = keys.current().id().to_owned();
        let mut report = RekeyReport::default();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let (mut todo, mut seen, mut last) = (Vec::new(), 0, None);
            self.store.scan_stored(
                KeyRange {
                    prefix: b"",
                    after: after.as_deref(),
                },
                Order::Forward,
                |k, v| {
                    seen += 1;
                    last = Some(k.to_vec());
                    match envelope::split_sealed(v) {
                        Some(sealed) if sealed.key_id == current => report.current += 1,
                        _ => todo.push(k.to_vec()),
                    }
                    Ok(if seen < ERASE_BATCH {
                        ControlFlow::Continue(())
                    } else {
                        ControlFlow::Break(())
                    })
                },
            )?;
            if !todo.is_empty() {
                let (resealed, skipped) = self.store.write_blocking(Box::new(move |ctx| {
                    ctx.prefetch(&todo)?;
                    let (mut resealed, mut skipped) = (0, 0);
                    for key in &todo {
                        let name = String::from_utf8_lossy(key).into_owned();
                        let Some(plain) = ctx.get(key)? else {
                            continue; // deleted meanwhile
                        };
                        // The value's bytes as they are; another form of
                        // envelope through the JSON parser.
                        let (header, data) = match envelope::split(plain) {
                            Some((header, data)) => (header, data.to_vec()),
                            None => match envelope::decode::<Value>(&name, "JSON value", plain) {
                                Ok((header, value)) => (header, value.to_string().into_bytes()),
                                Err(err) => {
                                    tracing::warn!(%err, "rekey: left a record that does not decode as it is");
                                    skipped += 1;
                                    continue;
                                }
                            },
                        };
                        ctx.put(key, Some(&header), &header, &data)?;
                        resealed += 1;
                    }
                    Ok((resealed, skipped))
                }))?;
                report.resealed += resealed;
                report.skipped += skipped;
            }
            progress(report.resealed + report.current + report.skipped);
            if seen < ERASE_BATCH {
                return Ok(report);
            }
            after = last;
        }
    }

    /// Keys whose envelope does not decode, with why. Changes nothing.
    ///
    /// The whole envelope is parsed as JSON: reading the header skips the
    /// value, and skipping does not check the UTF-8 of its strings (the
    /// `envelope` fuzz target found such a record reported as fine).
    pub fn check(&self) -> Result<Vec<(String, String)>> {
        let mut bad = Vec::new();
        let keys = self.store.keyring();
        self.each_record("", |k, v| {
            let key = String::from_utf8_lossy(k).into_owned();
            let why = match envelope::check(&key, v) {
                Err(e) => Some(e.to_string()),
                // A sealed record is checked whole where the store has keys
                // (it opens, and what it holds is JSON); else its header only.
                Ok(_) if envelope::split_sealed(v).is_some() => match keys {
                    Some(keys) => match crypt::open(Some(keys), k, v) {
                        Ok(plain) => serde_json::from_slice::<Value>(&plain)
                            .err()
                            .map(|e| e.to_string()),
                        Err(e) => Some(e.to_string()),
                    },
                    None => None,
                },
                Ok(_) => serde_json::from_slice::<Value>(v)
                    .err()
                    .map(|e| e.to_string()),
            };
            if let Some(why) = why {
                bad.push((key, why));
            }
            true
        })?;
        Ok(bad)
    }
}

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

pub use crate::key::split_key;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::{duration_ms, to_system_time};
use crate::crypt;
use crate::envelope::{self, Header};
use crate::error::{Error, Result};
use crate::key::MAX_KEY_LEN;
use crate::scope::Scope;
use crate::store::{KeyRange, Order, Store};

/// One stored record as seen from outside.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// The full key, `namespace:key`.
    pub key: String,
    /// Size of the stored envelope in bytes.
    pub size: usize,
    /// The envelope's header, or why it does not decode.
    pub header: std::result::Result<RawHeader, String>,
    /// The id of the key that sealed the value (encryption at rest).
    pub sealed_with: Option<String>,
}

/// The envelope header, in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RawHeader {
    /// Schema version.
    pub version: u32,
    /// Created, ms since the epoch.
    pub created_ms: u64,
    /// Last written, ms since the epoch.
    pub updated_ms: u64,
    /// Expiry, ms since the epoch.
    pub expires_ms: Option<u64>,
    /// The record's own time to live in ms (0: never), when a write chose
    /// one over its type's; `None`: its type's.
    pub ttl_ms: Option<u64>,
}

impl From<Header> for RawHeader {
    fn from(h: Header) -> Self {
        Self {
            version: h.version,
            created_ms: h.created_ms,
            updated_ms: h.updated_ms,
            expires_ms: h.expires_ms,
            ttl_ms: h.ttl_ms,
        }
    }
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

/// What an import did, or would do (`dry_run`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Keys that were not stored.
    pub added: usize,
    /// Keys stored with other content.
    pub replaced: usize,
    /// Keys stored with the same content.
    pub unchanged: usize,
}

/// Records deleted per write transaction by [`Admin::erase_scope`].
const ERASE_BATCH: usize = 1000;

fn check_key(key: &str) -> Result<()> {
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
/// admin.put_json("notes:a", &serde_json::json!({"text": "hi"}), None)?;
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
            let header = envelope::check(&key, v)
                .map(RawHeader::from)
                .map_err(|e| e.to_string());
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
    /// creation time (version 1 for a new key). `ttl`: `None` never expires,
    /// `Some(d)` expires after `d`; later updates keep that choice.
    pub fn put_json(&self, key: &str, data: &Value, ttl: Option<Duration>) -> Result<()> {
        check_key(key)?;
        let key = key.to_owned();
        let data = serde_json::to_vec(data).map_err(|e| Error::Encode {
            type_name: "JSON value",
            reason: e.to_string(),
        })?;
        self.store.write_blocking(Box::new(move |ctx| {
            let old = ctx.header_to_replace(&key)?;
            let now = ctx.now_ms;
            let live = old.filter(|h| !h.is_expired(now));
            let header = Header {
                version: old.map_or(1, |h| h.version),
                created_ms: live.map_or(now, |h| h.created_ms),
                updated_ms: now,
                expires_ms: ttl.map(|d| now.saturating_add(duration_ms(d))),
                // An explicit choice: later updates keep it.
                ttl_ms: Some(ttl.map_or(0, |d| duration_ms(d).max(1))),
            };
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

    /// Writes every record whose key starts with `prefix` (`""`: all) as
    /// one JSON line `{"key": .., "envelope": {..}}` (a record whose envelope
    /// is not JSON: `{"key": .., "raw": "<text>"}`), in key order, from one
    /// read transaction. Returns how many lines were written. `progress` is
    /// called every 1000 records. One user's records: [`Admin::export_scope`].
    ///
    /// Records sealed at rest (see [`crate::crypt`]) are written sealed, as
    /// stored: the file holds no value in clear, and imports back into a
    /// store that has their key. [`Admin::export_jsonl_decrypted`] writes
    /// them opened.
    pub fn export_jsonl(
        &self,
        prefix: &str,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(usize),
    ) -> Result<usize> {
        self.export(prefix, false, out, progress)
    }

    /// [`Admin::export_jsonl`] with every sealed record opened: values in
    /// clear, for moving data out of the store's encryption on purpose.
    /// Fails ([`Error::Decrypt`]) on a record the store's keys do not open.
    pub fn export_jsonl_decrypted(
        &self,
        prefix: &str,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(usize),
    ) -> Result<usize> {
        self.export(prefix, true, out, progress)
    }

    fn export(
        &self,
        prefix: &str,
        opened: bool,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(usize),
    ) -> Result<usize> {
        let io = |source| Error::Io {
            path: "export".into(),
            source,
        };
        let mut n = 0;
        let keys = self.store.keyring();
        self.store.scan_stored(
            KeyRange::prefix(prefix.as_bytes()),
            Order::Forward,
            |k, v| {
                let opened_bytes;
                let v = if opened {
                    opened_bytes = crypt::open(keys, k, v)?;
                    &*opened_bytes
                } else {
                    v
                };
                let key = String::from_utf8_lossy(k);
                let line = match envelope::split_sealed(v) {
                    // The header as JSON, the sealed bytes as base64.
                    Some(sealed) => {
                        let mut head = sealed.head.to_vec();
                        head.push(b'}');
                        let mut envelope: Value =
                            serde_json::from_slice(&head).map_err(|e| Error::Decode {
                                key: key.clone().into_owned(),
                                type_name: "mcp-persist envelope",
                                reason: e.to_string(),
                            })?;
                        envelope["x"] = crypt::export_sealed(sealed.sealed).into();
                        json!({"key": key, "envelope": envelope})
                    }
                    None => match serde_json::from_slice::<Value>(v) {
                        Ok(envelope) => json!({"key": key, "envelope": envelope}),
                        Err(_) => json!({"key": key, "raw": String::from_utf8_lossy(v)}),
                    },
                };
                writeln!(out, "{line}").map_err(io)?;
                n += 1;
                if n % 1000 == 0 {
                    progress(n);
                }
                Ok(ControlFlow::Continue(()))
            },
        )?;
        out.flush().map_err(io)?;
        Ok(n)
    }

    /// Every record of `scope`'s (of every per-user type), as
    /// [`Admin::export_jsonl`] writes them, full keys included: what a user
    /// asking for their data receives, and what [`Admin::import_jsonl`]
    /// takes back.
    pub fn export_scope(
        &self,
        scope: &Scope,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(usize),
    ) -> Result<usize> {
        self.export_jsonl(scope.key_prefix(), out, progress)
    }

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

    /// Imports JSON lines as written by [`Admin::export_jsonl`], all or
    /// nothing in one write transaction. Every line is checked before anything
    /// is written; an error names the line (and column). With `dry_run`,
    /// reports what would change and writes nothing.
    pub fn import_jsonl(&self, input: &mut dyn BufRead, dry_run: bool) -> Result<ImportReport> {
        self.import(ImportBatch::parse(input)?, dry_run)
    }

    /// Writes the records of `batch`, all or nothing in one write transaction.
    /// With `dry_run`, reports what would change and writes nothing. A key
    /// given twice counts as the store would see it: added, then replaced
    /// (or unchanged).
    ///
    /// Sealed lines (an export of an encrypted store) are opened with this
    /// store's keys first ([`Error::Decrypt`] naming the key otherwise) and
    /// written as this store writes: sealed under its current key, or plain.
    pub fn import(&self, batch: ImportBatch, dry_run: bool) -> Result<ImportReport> {
        let keys = self.store.keyring();
        let records = batch
            .records
            .into_iter()
            .map(|(key, header, payload)| match payload {
                Payload::Plain(data) => Ok((key, header, data)),
                Payload::Sealed(bytes) => {
                    let plain = crypt::open(keys, key.as_bytes(), &bytes)?;
                    let data = envelope::split(&plain).map(|(_, d)| d.to_vec());
                    let data = data.ok_or_else(|| Error::Decode {
                        key: key.clone(),
                        type_name: "mcp-persist envelope",
                        reason: "the opened envelope is not of the written form".into(),
                    })?;
                    Ok((key, header, data))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let keys: Vec<Vec<u8>> = records
            .iter()
            .map(|(k, ..)| k.as_bytes().to_vec())
            .collect();
        self.store.write_blocking(Box::new(move |ctx| {
            ctx.prefetch(&keys)?;
            let mut tally = Tally::default();
            for (key, header, data) in &records {
                let old = match tally.written(key) {
                    Some(bytes) => Some(bytes),
                    None => ctx.get(key.as_bytes())?.map(<[u8]>::to_vec),
                };
                if tally.count(key, old, envelope::encode(header, data)) && !dry_run {
                    let old = ctx.header_to_replace(key)?;
                    ctx.put(key.as_bytes(), old.as_ref(), header, data)?;
                }
            }
            Ok(tally.report)
        }))
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

/// An import's counts as the store sees them: a key given twice is compared
/// with what this import wrote for it the first time.
#[derive(Default)]
struct Tally<'a> {
    report: ImportReport,
    written: HashMap<&'a str, Vec<u8>>,
}

impl<'a> Tally<'a> {
    /// What this import wrote (or would write) at `key` so far.
    fn written(&self, key: &str) -> Option<Vec<u8>> {
        self.written.get(key).cloned()
    }

    /// Counts `new` replacing `old` at `key`; `true` if it changes the record.
    fn count(&mut self, key: &'a str, old: Option<Vec<u8>>, new: Vec<u8>) -> bool {
        match old {
            None => self.report.added += 1,
            Some(old) if old == new => {
                self.report.unchanged += 1;
                return false;
            }
            Some(_) => self.report.replaced += 1,
        }
        self.written.insert(key, new);
        true
    }
}

/// The lines of an import file, every one checked, ready to be written by
/// [`Admin::import`]. Parsing first means a bad file is refused before any
/// store is opened (or created).
#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    records: Vec<(String, Header, Payload)>,
}

/// The value of an import line: its JSON, or a sealed envelope.
#[derive(Debug, Clone)]
enum Payload {
    Plain(Vec<u8>),
    Sealed(Vec<u8>),
}

impl ImportBatch {
    /// Reads and checks JSON lines as written by [`Admin::export_jsonl`]
    /// (blank lines are skipped). An error names the line (and column).
    pub fn parse(input: &mut dyn BufRead) -> Result<Self> {
        let mut records = Vec::new();
        for (i, line) in input.lines().enumerate() {
            let line_no = i + 1;
            let line = line.map_err(|source| Error::Io {
                path: "import".into(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            records.push(parse_import_line(&line, line_no)?);
        }
        Ok(Self { records })
    }

    /// The number of records (lines that are not blank).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// What importing into an empty store would do (a dry run where there
    /// is no store yet).
    pub fn report_on_empty(&self) -> ImportReport {
        let mut tally = Tally::default();
        for (key, header, payload) in &self.records {
            let old = tally.written(key);
            let new = match payload {
                Payload::Plain(data) => envelope::encode(header, data),
                Payload::Sealed(bytes) => bytes.clone(),
            };
            tally.count(key, old, new);
        }
        tally.report
    }
}

fn parse_import_line(line: &str, line_no: usize) -> Result<(String, Header, Payload)> {
    let bad = |reason: String| Error::Import {
        line: line_no,
        reason,
    };
    let value: Value =
        serde_json::from_str(line).map_err(|e| bad(format!("column {}: {e}", e.column())))?;
    let key = value["key"]
        .as_str()
        .ok_or_else(|| bad("no \"key\" string".into()))?
        .to_owned();
    check_key(&key).map_err(|e| bad(e.to_string()))?;
    let env = value.get("envelope").ok_or_else(|| {
        bad("no \"envelope\" (records exported as \"raw\" cannot be imported)".into())
    })?;
    let num = |field: &str| env.get(field).and_then(Value::as_u64);
    let header = Header {
        version: num("v")
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| bad("envelope has no version \"v\"".into()))?,
        created_ms: num("c").ok_or_else(|| bad("envelope has no \"c\"".into()))?,
        updated_ms: num("u").ok_or_else(|| bad("envelope has no \"u\"".into()))?,
        expires_ms: num("e"),
        ttl_ms: num("t"),
    };
    // A sealed envelope: the exact bytes it was stored as, to open later.
    if let (Some(key_id), Some(sealed)) = (
        env.get("k").and_then(Value::as_str),
        env.get("x").and_then(Value::as_str),
    ) {
        let sealed = crypt::import_sealed(sealed)
            .ok_or_else(|| bad("envelope's sealed value \"x\" is not base64".into()))?;
        let mut bytes = envelope::sealed_head(&header, key_id, sealed.len() + 2);
        bytes.extend_from_slice(b"}\0");
        bytes.extend_from_slice(&sealed);
        if envelope::split_sealed(&bytes).is_none() {
            return Err(bad(format!(
                "envelope has a key id {key_id:?} that is not one"
            )));
        }
        return Ok((key, header, Payload::Sealed(bytes)));
    }
    let data = env
        .get("d")
        .ok_or_else(|| bad("envelope has no data \"d\"".into()))?;
    let data = serde_json::to_vec(data).map_err(|e| bad(e.to_string()))?;
    Ok((key, header, Payload::Plain(data)))
}

/// Milliseconds since the epoch as RFC 3339 text.
pub fn format_ms(ms: u64) -> String {
    humantime::format_rfc3339_millis(to_system_time(ms)).to_string()
}

/// The envelope codec, reachable for the fuzz targets in `fuzz/` and their
/// regression tests (`tests/e2e/tests/fuzz_seeds.rs`), which live outside this crate.
/// Not public API: it may change in any release.
#[doc(hidden)]
pub mod fuzzing {
    use super::RawHeader;
    use crate::envelope::{self, Header};
    use crate::error::Result;

    fn header(raw: RawHeader) -> Header {
        Header {
            version: raw.version,
            created_ms: raw.created_ms,
            updated_ms: raw.updated_ms,
            expires_ms: raw.expires_ms,
            ttl_ms: raw.ttl_ms,
        }
    }

    /// `envelope::encode`.
    pub fn encode(raw: RawHeader, data: &[u8]) -> Vec<u8> {
        envelope::encode(&header(raw), data)
    }

    /// `envelope::split_sealed`: the header and key id of a sealed envelope.
    pub fn split_sealed(bytes: &[u8]) -> Option<(RawHeader, String)> {
        envelope::split_sealed(bytes).map(|s| (s.header.into(), s.key_id.to_owned()))
    }

    /// The keyring of the fuzz targets: one fixed key, id `fuzz`.
    fn ring() -> &'static crate::Keyring {
        static RING: std::sync::OnceLock<crate::Keyring> = std::sync::OnceLock::new();
        RING.get_or_init(|| {
            let key = crate::EncryptionKey::new("fuzz", [7; 32]).expect("a valid id");
            crate::Keyring::new(key, []).expect("one key")
        })
    }

    /// `crypt::seal` at `key` with the fuzz key.
    pub fn seal(key: &[u8], raw: RawHeader, data: &[u8]) -> Result<Vec<u8>> {
        crate::crypt::seal(ring(), key, &header(raw), data)
    }

    /// `crypt::open` at `key` with the fuzz key: the plain envelope.
    pub fn open(key: &[u8], bytes: &[u8]) -> Result<Vec<u8>> {
        crate::crypt::open(Some(ring()), key, bytes).map(|plain| plain.into_owned())
    }

    /// `envelope::split`: the header and value bytes of the exact written form.
    pub fn split(bytes: &[u8]) -> Option<(RawHeader, &[u8])> {
        envelope::split(bytes).map(|(h, value)| (h.into(), value))
    }

    /// `envelope::decode_header`.
    pub fn decode_header(bytes: &[u8]) -> Result<RawHeader> {
        envelope::decode_header("fuzz", bytes).map(Into::into)
    }

    /// `envelope::check`.
    pub fn check(bytes: &[u8]) -> Result<RawHeader> {
        envelope::check("fuzz", bytes).map(Into::into)
    }

    /// `envelope::decode` as a JSON value.
    pub fn decode_value(bytes: &[u8]) -> Result<(RawHeader, serde_json::Value)> {
        envelope::decode::<serde_json::Value>("fuzz", "Value", bytes).map(|(h, v)| (h.into(), v))
    }
}

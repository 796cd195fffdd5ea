//! JSONL export and import: every record as one line, sealed records as
//! stored (base64), all-or-nothing imports checked line by line first.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::ops::ControlFlow;

use serde::Serialize;
use serde_json::{Value, json};

use super::{Admin, check_key};
use crate::crypt;
use crate::envelope::{self, Header};
use crate::error::{Error, Result};
use crate::scope::Scope;
use crate::store::{KeyRange, Order};

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

impl Admin<'_> {
    /// Writes every record whose key starts with `prefix` (`""`: all) as
    /// one JSON line `{"key": .., "envelope": {..}}` (a record whose envelope
    /// is not JSON: `{"key": .., "raw": "<text>"}`), in key order, from one
    /// read transaction. Returns how many lines were written. `progress` is
    /// called every 1000 records. One user's records: [`Admin::export_scope`].
    ///
    /// Records sealed at rest (see [`Keyring`](crate::Keyring)) are written sealed, as
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

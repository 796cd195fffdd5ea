//! Encryption keys: `keygen` and `rekey`.

use std::path::Path;

use persist_runtime::{EncryptionKey, Keyring};
use serde_json::{Value, json};

use super::{Context, now_ms};
use crate::failure::{Failure, fail};
use crate::output::{self, Out};

/// `keygen`: a new key, printed or put first in `file` (owner-only).
pub fn keygen(id: Option<String>, file: Option<&Path>, out: &Out) -> Result<(), Failure> {
    let id = id.unwrap_or_else(|| format!("k{}", now_ms() / 1000));
    let key = EncryptionKey::generate(&id)?;
    let Some(file) = file else {
        out.value(&json!({"id": id, "line": key.to_line()}), &key.to_line());
        return Ok(());
    };
    // A rotation keeps the older keys after the new one (checked first).
    let older = match file.exists() {
        true => {
            let ring = Keyring::from_file(file)?;
            if ring.ids().contains(&id.as_str()) {
                return Err(fail(
                    2,
                    format!("{} already has a key {id:?}", file.display()),
                ));
            }
            std::fs::read_to_string(file)
                .map_err(|e| fail(2, format!("cannot read {}: {e}", file.display())))?
        }
        false => String::new(),
    };
    let text = format!("{}\n{older}", key.to_line());
    let dir = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".mcp-persist-key")
        .tempfile_in(dir)
        .map_err(|e| fail(2, format!("cannot write in {}: {e}", dir.display())))?;
    std::fs::write(temp.path(), text)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| fail(2, format!("cannot write {}: {e}", temp.path().display())))?;
    temp.persist(file)
        .map_err(|e| fail(2, format!("cannot replace {}: {}", file.display(), e.error)))?;
    out.done(
        &json!({"id": id, "file": file}),
        &format!(
            "key {id:?} is now the first (current) key of {}{}",
            file.display(),
            if older.is_empty() {
                ""
            } else {
                "; the older keys stay to read what they sealed: run `rekey`"
            }
        ),
    );
    Ok(())
}

/// `rekey`: seals every record under the current key of `--key-file`.
pub fn rekey(cx: &Context<'_>) -> Result<(), Failure> {
    let store = cx.open()?;
    let mut progress = output::progress_reporter("looked at");
    let report = store.admin().rekey(&mut progress)?;
    cx.out.done(
        &serde_json::to_value(report).unwrap_or(Value::Null),
        &format!(
            "sealed {} records anew under key {:?}; {} were already; {} left as they \
             are (they do not decode: see `check`)",
            report.resealed,
            store.admin().current_key_id().unwrap_or_default(),
            report.current,
            report.skipped
        ),
    );
    Ok(())
}

//! Subcommands on single records: `keys`, `get`, `set`, `delete`.

use std::io::Read;
use std::time::Duration;

use persist_runtime::Ttl;
use serde_json::{Value, json};

use super::{Context, now_ms};
use crate::failure::{Failure, fail};
use crate::output;

/// `keys`: the records under `prefix` (at most `limit`), as a table.
pub fn keys(cx: &Context<'_>, prefix: Option<&str>, limit: Option<usize>) -> Result<(), Failure> {
    let store = cx.open()?;
    let now = now_ms();
    let records = store
        .admin()
        .scan(&cx.stored(prefix.unwrap_or("")), limit)?;
    cx.out.records(&records, cx.user_prefix().len(), now);
    Ok(())
}

/// `get`: the value at `key` (the whole envelope with `raw`), as pretty JSON.
pub fn get(cx: &Context<'_>, key: &str, raw: bool) -> Result<(), Failure> {
    let store = cx.open()?;
    let envelope = store
        .admin()
        .get_envelope(&cx.stored(key))?
        .ok_or_else(|| fail(1, format!("no record at key {key:?}{}", cx.of())))?;
    let expired = envelope["e"].as_u64().is_some_and(|e| e <= now_ms());
    if expired && !raw {
        return Err(fail(
            1,
            format!("the record at {key:?} has expired (use --raw to see it)"),
        ));
    }
    output::pretty(if raw { &envelope } else { &envelope["d"] });
    Ok(())
}

/// `set`: stores the JSON `value` (`-`: read from stdin) at `key`.
pub fn set(
    cx: &Context<'_>,
    key: &str,
    value: String,
    ttl: Option<Duration>,
) -> Result<(), Failure> {
    let store = cx.open()?;
    let text = if value == "-" {
        let mut buf = String::new();
        std::io::stdin()
            .read_to_string(&mut buf)
            .map_err(|e| fail(2, format!("cannot read stdin: {e}")))?;
        buf
    } else {
        value
    };
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        fail(
            2,
            format!(
                "invalid JSON at line {}, column {}: {e}; nothing was written",
                e.line(),
                e.column()
            ),
        )
    })?;
    let ttl = ttl.map_or(Ttl::Never, Ttl::After);
    store.admin().put_json(&cx.stored(key), &value, ttl)?;
    cx.out
        .done(&json!({"set": key}), &format!("set {key}{}", cx.of()));
    Ok(())
}

/// `delete`: removes the record at `key`.
pub fn delete(cx: &Context<'_>, key: &str) -> Result<(), Failure> {
    let store = cx.open()?;
    if !store.admin().delete_raw(&cx.stored(key))? {
        return Err(fail(1, format!("no record at key {key:?}{}", cx.of())));
    }
    cx.out.done(
        &json!({"deleted": key}),
        &format!("deleted {key}{}", cx.of()),
    );
    Ok(())
}

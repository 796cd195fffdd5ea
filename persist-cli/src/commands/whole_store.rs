//! Subcommands on the store as a whole: `path`, `sweep`, `backup`,
//! `stats`, `check`.

use std::path::Path;

use serde_json::json;

use super::Context;
use crate::failure::{Failure, fail};
use crate::location::{self, Target};

/// `path`: where the store lives (and how that was found).
pub fn path(cx: &Context<'_>) -> Result<(), Failure> {
    match location::locate(cx.select)? {
        Target::Dir(dir, how) => cx.out.value(
            &json!({"path": dir, "resolved_from": how}),
            &dir.display().to_string(),
        ),
        Target::Server { url, app } => {
            let store = location::connect(cx.select, &url, &app)?;
            cx.out
                .value(&json!({"url": store.url(), "app": app}), store.location());
        }
    }
    Ok(())
}

/// `sweep`: purges expired records now.
pub fn sweep(cx: &Context<'_>) -> Result<(), Failure> {
    let store = cx.open()?;
    let purged = store.sweep_expired().blocking()?;
    cx.out.done(
        &json!({"purged": purged}),
        &format!("purged {purged} expired records"),
    );
    Ok(())
}

/// `backup`: a hot, compacted copy of the store into `dest`.
pub fn backup(cx: &Context<'_>, dest: &Path) -> Result<(), Failure> {
    let store = cx.open()?;
    store.admin().backup_to(dest)?;
    cx.out.done(
        &json!({"backup": dest}),
        &format!("backed up to {}", dest.display()),
    );
    Ok(())
}

/// `stats`: records and bytes per namespace, and the store's sizes.
pub fn stats(cx: &Context<'_>) -> Result<(), Failure> {
    let store = cx.open()?;
    cx.out.stats(&store.admin().stats()?);
    Ok(())
}

/// `check`: the records that do not decode; a failure if there are any.
pub fn check(cx: &Context<'_>) -> Result<(), Failure> {
    let store = cx.open()?;
    let bad = store.admin().check()?;
    cx.out.problems(&bad);
    if !bad.is_empty() {
        return Err(fail(2, format!("{} records do not decode", bad.len())));
    }
    Ok(())
}

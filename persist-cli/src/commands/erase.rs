//! `erase`: a user's records, deleted for good.

use std::io::IsTerminal;

use persist_runtime::Scope;
use serde_json::json;

use super::Context;
use crate::failure::{Failure, fail};

/// `erase`: deletes every record of the user of `--scope`, asking first
/// unless `yes`.
pub fn erase(cx: &Context<'_>, yes: bool) -> Result<(), Failure> {
    let scope = cx
        .scope
        .as_ref()
        .ok_or_else(|| fail(2, "erase needs --scope USER: whose records"))?;
    let store = cx.open()?;
    let count = store.admin().raw_keys(scope.key_prefix())?.len();
    if count == 0 {
        return Err(fail(1, format!("no records of user {:?}", scope.as_str())));
    }
    if !yes {
        confirm(scope, count)?;
    }
    let erased = store.admin().erase_scope(scope)?;
    cx.out.done(
        &json!({"erased": erased, "scope": scope.as_str()}),
        &format!("erased {erased} records of user {:?}", scope.as_str()),
    );
    Ok(())
}

/// Asks on the terminal before an erase; refuses when nobody can answer.
fn confirm(scope: &Scope, count: usize) -> Result<(), Failure> {
    let what = format!(
        "erase {count} records of user {:?} for good",
        scope.as_str()
    );
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            2,
            format!(
                "refusing to {what} without --yes (stdin is not a terminal); nothing was erased"
            ),
        ));
    }
    eprint!("{what}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| fail(2, format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(fail(2, "not confirmed; nothing was erased"))
    }
}

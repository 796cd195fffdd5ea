//! Finding and opening the selected store, as `Store::open` would.

use std::path::{Path, PathBuf};

use persist_runtime::settings::{DIR_ENV_VAR, URL_ENV_VAR};
use persist_runtime::{Keyring, Store, StoreBuilder, resolve_dir};

use crate::args::Select;
use crate::failure::{Failure, fail};

/// Where the selected store is.
pub enum Target {
    /// A directory, and how it was resolved, in words.
    Dir(PathBuf, String),
    /// An application on a Redis server.
    Server { url: String, app: String },
}

/// The selected store, as `Store::open` would find it.
pub fn locate(select: &Select) -> Result<Target, Failure> {
    let from_env = || {
        std::env::var(URL_ENV_VAR)
            .ok()
            .filter(|url| !url.is_empty())
    };
    match (&select.app, &select.dir) {
        (_, Some(dir)) => Ok(Target::Dir(dir.clone(), format!("--dir {}", dir.display()))),
        (Some(app), None) => {
            if let Some(url) = select.url.clone().or_else(from_env) {
                return Ok(Target::Server {
                    url,
                    app: app.clone(),
                });
            }
            let dir = resolve_dir(app)?;
            let how = match std::env::var_os(DIR_ENV_VAR).filter(|v| !v.is_empty()) {
                Some(base) => format!("--app {app} under {DIR_ENV_VAR}={}", base.to_string_lossy()),
                None => {
                    format!("--app {app} in the platform data directory ({DIR_ENV_VAR} is not set)")
                }
            };
            Ok(Target::Dir(dir, how))
        }
        (None, None) => Err(fail(
            2,
            "select a store with --app NAME, --dir PATH or --url URL --app NAME",
        )),
    }
}

/// Opens an existing store; never creates a directory (a server's
/// application holds nothing until written to, and is opened as it is).
pub fn open(select: &Select) -> Result<Store, Failure> {
    match locate(select)? {
        Target::Dir(dir, how) => {
            if !has_store(&dir) {
                return Err(no_store(&dir, &how, ""));
            }
            open_at(select, &dir)
        }
        Target::Server { url, app } => connect(select, &url, &app),
    }
}

/// Connects to the application `app` on the server at `url`, without a
/// background sweeper.
pub fn connect(select: &Select, url: &str, app: &str) -> Result<Store, Failure> {
    Ok(builder(select)?.connect(url, app)?)
}

/// Opens (or creates) the store in `dir`, without a background sweeper.
pub fn open_at(select: &Select, dir: &Path) -> Result<Store, Failure> {
    Ok(builder(select)?.open_at(dir)?)
}

/// How the CLI opens stores: no background sweeper; the keys of
/// `--key-file` (else `MCP_PERSIST_KEY_FILE`, which the store reads itself).
fn builder(select: &Select) -> Result<StoreBuilder, Failure> {
    let builder = Store::builder().sweep_interval(None);
    Ok(match &select.key_file {
        Some(path) => builder.encryption(Keyring::from_file(path)?),
        None => builder,
    })
}

/// Whether `dir` holds a store.
pub fn has_store(dir: &Path) -> bool {
    dir.join("data.mdb").is_file()
}

/// "No store at DIR", with how DIR was found and `hint`.
pub fn no_store(dir: &Path, how: &str, hint: &str) -> Failure {
    fail(
        1,
        format!("no store at {} (resolved from {how}){hint}", dir.display()),
    )
}

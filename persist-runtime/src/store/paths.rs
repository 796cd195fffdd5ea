//! Where a store lives: the platform data directory, or `MCP_PERSIST_DIR`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The environment variable that replaces the platform data directory.
/// Each application gets its own subdirectory below it.
pub const DIR_ENV_VAR: &str = "MCP_PERSIST_DIR";

/// The directory `Store::open(app)` uses: `$MCP_PERSIST_DIR/<app>` when the
/// variable is set and not empty, else the platform's local data directory
/// for `app` (`~/.local/share/<app>` on Linux, `~/Library/Application
/// Support/<app>` on macOS, `%LOCALAPPDATA%\<app>\data` on Windows).
pub fn resolve_dir(app: &str) -> Result<PathBuf> {
    validate_app(app)?;
    if let Some(base) = std::env::var_os(DIR_ENV_VAR).filter(|v| !v.is_empty()) {
        return Ok(Path::new(&base).join(app));
    }
    directories::ProjectDirs::from("", "", app)
        .map(|dirs| dirs.data_local_dir().to_owned())
        .ok_or_else(|| Error::NoDataDir {
            app: app.to_owned(),
        })
}

fn validate_app(app: &str) -> Result<()> {
    let ok = (1..=64).contains(&app.len())
        && !app.starts_with('.')
        && app
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidAppName {
            app: app.to_owned(),
        })
    }
}

/// Creates `dir` (and missing parents) owner-only on Unix, and checks it is a directory.
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Open {
            path: dir.to_owned(),
            reason: "the path exists and is not a directory".into(),
        });
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_are_checked() {
        for bad in ["", ".hidden", "a/b", "..", "x y", &"a".repeat(65)] {
            assert!(
                matches!(validate_app(bad), Err(Error::InvalidAppName { .. })),
                "{bad:?}"
            );
        }
        for good in ["my-app", "db_ops.v2", "A1"] {
            assert!(validate_app(good).is_ok(), "{good}");
        }
    }
}

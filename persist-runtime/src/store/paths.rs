//! Where a store lives: the platform data directory, or `MCP_PERSIST_DIR`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
#[cfg(unix)]
use crate::owner_only;

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

pub(super) fn validate_app(app: &str) -> Result<()> {
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
    if let Some(link) = dangling_link(dir) {
        let target = std::fs::read_link(&link).unwrap_or_default();
        return Err(Error::Open {
            path: dir.to_owned(),
            reason: format!(
                "{} is a symbolic link to {}, which does not exist: create that directory \
                 or point the link (or {DIR_ENV_VAR}) elsewhere",
                link.display(),
                target.display()
            ),
        });
    }
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

/// The first of `path` and its ancestors that is a symbolic link to nothing.
fn dangling_link(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .find(|p| {
            std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
                && std::fs::metadata(p).is_err()
        })
        .map(Path::to_owned)
}

/// The files of a store in its directory.
pub(crate) const STORE_FILES: [&str; 3] = ["data.mdb", "lock.mdb", super::lmdb::WRITE_LOCK_FILE];

/// Refuses a store another user could read or change, as ssh does for its
/// keys: the directory must belong to this user and be writable by nobody
/// else, and each store file that exists must be a regular file of this
/// user's that nobody else can read or write (no symbolic link, which could
/// point the store's writes at a file of the victim's choosing). Inside such
/// a directory nobody else can plant or swap a file after this check. The
/// checks are [`owner_only`]'s; a refusal is an [`Error::Open`] naming the
/// directory or file.
#[cfg(unix)]
pub(crate) fn check_private(dir: &Path) -> Result<()> {
    let refuse = |path: &Path| {
        let path = path.to_owned();
        move |reason| Error::Open { path, reason }
    };
    owner_only::check_dir(dir, "the store directory", refuse(dir))?;
    for name in STORE_FILES {
        let file = dir.join(name);
        owner_only::check_file_if_present(&file, "the store file", refuse(&file))?;
    }
    Ok(())
}

/// Removes the files of a store whose creation failed (and its directory,
/// if this open created it and it is empty now).
pub(crate) fn remove_new_store(dir: &Path, remove_dir: bool) {
    for name in STORE_FILES {
        match std::fs::remove_file(dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => {
                tracing::warn!(path = %dir.join(name).display(), %err, "cannot remove a half-made store file")
            }
        }
    }
    if remove_dir {
        let _ = std::fs::remove_dir(dir); // not empty: someone else's files, kept
    }
}

/// Not Unix: the platform's own permissions apply.
#[cfg(not(unix))]
pub(crate) fn check_private(_dir: &Path) -> Result<()> {
    Ok(())
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

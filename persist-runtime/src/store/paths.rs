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
/// a directory nobody else can plant or swap a file after this check.
#[cfg(unix)]
pub(crate) fn check_private(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;

    let refuse = |path: &Path, reason: String| Error::Open {
        path: path.to_owned(),
        reason,
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let meta = std::fs::metadata(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    if meta.uid() != me {
        return Err(refuse(
            dir,
            format!(
                "the store directory belongs to user id {}, not to this user ({me}): another \
                 user could read or replace the store; use a directory of your own",
                meta.uid()
            ),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(refuse(
            dir,
            format!(
                "the store directory is writable by other users (mode {mode:04o}): they could \
                 plant or swap the store's files; run `chmod 700 {}`",
                dir.display()
            ),
        ));
    }
    for name in STORE_FILES {
        let file = dir.join(name);
        let meta = match std::fs::symlink_metadata(&file) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Io { path: file, source }),
        };
        if meta.file_type().is_symlink() {
            return Err(refuse(
                &file,
                "the store file is a symbolic link: the store's writes would go where it \
                 points; remove the link (a store's files are never links)"
                    .into(),
            ));
        }
        if !meta.is_file() {
            return Err(refuse(&file, "the store file is not a regular file".into()));
        }
        if meta.uid() != me {
            return Err(refuse(
                &file,
                format!(
                    "the store file belongs to user id {}, not to this user ({me}): it may have \
                     been planted by another user; move it aside",
                    meta.uid()
                ),
            ));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(refuse(
                &file,
                format!(
                    "the store file can be read or written by other users (mode {mode:04o}): \
                     run `chmod 600 {}`",
                    file.display()
                ),
            ));
        }
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

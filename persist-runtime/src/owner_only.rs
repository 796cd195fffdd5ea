//! The one check of files and directories that must be their owner's
//! alone (a store's directory and files, a key file, a tokens file), as ssh
//! checks its keys.
//!
//! On Unix the path is opened without following a symbolic link
//! (`O_NOFOLLOW`), and the *opened* file is examined (`fstat`), so nothing
//! can be swapped in between the check and the use: it must be of the
//! expected kind, belong to the effective user, and be out of other users'
//! reach. A file's content is read from that same descriptor, and only once
//! the check has passed. What is only checked, never read (a store's
//! directory and files, which LMDB opens itself), is examined without a
//! readable descriptor (see `imp::examine`). Elsewhere the platform's own
//! permissions apply and nothing is checked.
//!
//! A refusal's reason is given to the caller's `refuse`, which makes it the
//! caller's [`Error`] variant; a path that cannot be opened or examined is
//! an [`Error::Io`].

use std::path::Path;

use crate::error::{Error, Result};

/// What a checked path must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) enum Kind {
    /// A regular file; nobody but its owner may read or write it (`0600`).
    File,
    /// A directory; nobody but its owner may write in it (`0700`, or `0755`:
    /// what is inside is checked on its own).
    Dir,
}

/// Reads the text file at `path` once it passes the check (a regular file of
/// this user's that only they can read or write). `what` names it at the
/// start of a refusal's reason (`"the key file"`).
pub(crate) fn read_to_string(
    path: &Path,
    what: &str,
    refuse: impl FnOnce(String) -> Error,
) -> Result<String> {
    use std::io::Read as _;

    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    #[cfg(unix)]
    let mut file = imp::open_checked(path, Kind::File, what, refuse)?;
    #[cfg(not(unix))]
    let mut file = {
        let _ = (what, refuse);
        std::fs::File::open(path).map_err(io)?
    };
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    Ok(text)
}

/// Checks the directory at `path` (see [`Kind::Dir`]), without reading it
/// (see [`imp::examine`]).
#[cfg(unix)]
pub(crate) fn check_dir(
    path: &Path,
    what: &str,
    refuse: impl FnOnce(String) -> Error,
) -> Result<()> {
    imp::examine(path, Kind::Dir, what, refuse)
}

/// Checks the file at `path` if there is one (see [`Kind::File`]), without
/// opening it for reading (see [`imp::examine`]: safe on a store file this
/// process has locked); whether there is. A symbolic link, even a dangling
/// one, is refused.
#[cfg(unix)]
pub(crate) fn check_file_if_present(
    path: &Path,
    what: &str,
    refuse: impl FnOnce(String) -> Error,
) -> Result<bool> {
    match imp::examine(path, Kind::File, what, refuse) {
        Ok(()) => Ok(true),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(unix)]
mod imp {
    use std::fs::{File, Metadata, OpenOptions};
    use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
    use std::path::Path;

    use super::Kind;
    use crate::error::{Error, Result};

    /// Opens `path` without following a final symbolic link and checks the
    /// opened file: the only way to the file that the check vouches for.
    pub(super) fn open_checked(
        path: &Path,
        kind: Kind,
        what: &str,
        refuse: impl FnOnce(String) -> Error,
    ) -> Result<File> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        // Read-only: never creates or truncates. O_NONBLOCK: a FIFO planted
        // here does not hang the open (it is then refused as not a regular
        // file); it changes nothing for regular files and directories.
        let opened = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path);
        let file = match opened {
            Ok(file) => file,
            Err(err) if is_symlink(&err, path) => {
                return Err(refuse(symlink_reason(kind, path, what)));
            }
            Err(err) => return Err(io(err)),
        };
        let meta = file.metadata().map_err(io)?;
        match refusal(&meta, kind, path, what) {
            None => Ok(file),
            Some(reason) => Err(refuse(reason)),
        }
    }

    /// Checks `path` without opening it for reading or writing. A process
    /// that closes *any* descriptor of a file loses its POSIX record locks
    /// on it, and LMDB holds one on `lock.mdb` while a store is open: a
    /// readable descriptor opened and closed here would silently release
    /// it, and another process would then take the store for unused and
    /// reset its reader table. On Linux the path is opened with `O_PATH`
    /// (whose close leaves locks alone; with `O_NOFOLLOW` it opens a
    /// symbolic link itself, refused from its `fstat`) and the descriptor
    /// examined. Elsewhere it is examined with `lstat`: the descriptor-less
    /// way, as safe for what the callers check, the files of a directory
    /// that has just passed this check, where nobody else can swap them.
    pub(super) fn examine(
        path: &Path,
        kind: Kind,
        what: &str,
        refuse: impl FnOnce(String) -> Error,
    ) -> Result<()> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let meta = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
            .open(path)
            .and_then(|file| file.metadata())
            .map_err(io)?;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let meta = std::fs::symlink_metadata(path).map_err(io)?;
        match refusal(&meta, kind, path, what) {
            None => Ok(()),
            Some(reason) => Err(refuse(reason)),
        }
    }

    /// Why a symbolic link is refused where a `kind` is expected.
    fn symlink_reason(kind: Kind, path: &Path, what: &str) -> String {
        format!(
            "{what} is a symbolic link: whoever can change the link chooses what is used \
             through it, so links are refused; put the {} itself at {}",
            noun(kind),
            path.display()
        )
    }

    /// Whether `err`, from opening `path` with `O_NOFOLLOW`, is because the
    /// path is a symbolic link (`ELOOP`; `EMLINK` on FreeBSD), rather than a
    /// loop of links in its parents.
    fn is_symlink(err: &std::io::Error, path: &Path) -> bool {
        matches!(err.raw_os_error(), Some(code) if code == libc::ELOOP || code == libc::EMLINK)
            && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
    }

    /// Why the file `meta` (of `path`, not followed if a link) is refused
    /// as a `kind` of this (effective) user's, or `None` when it passes.
    fn refusal(meta: &Metadata, kind: Kind, path: &Path, what: &str) -> Option<String> {
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            return Some(symlink_reason(kind, path, what));
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        let found = if file_type.is_dir() {
            "a directory"
        } else if file_type.is_file() {
            "a regular file"
        } else if file_type.is_fifo() {
            "a named pipe"
        } else if file_type.is_socket() {
            "a socket"
        } else if file_type.is_block_device() || file_type.is_char_device() {
            "a device"
        } else {
            "neither a file nor a directory"
        };
        let expected = match kind {
            Kind::File => file_type.is_file(),
            Kind::Dir => file_type.is_dir(),
        };
        if !expected {
            return Some(format!(
                "{what} is {found}, not {}",
                match kind {
                    Kind::File => "a regular file",
                    Kind::Dir => "a directory",
                }
            ));
        }
        if meta.uid() != me {
            return Some(format!(
                "{what} belongs to user id {}, not to this user ({me}): another user could \
                 read or change it (or may have planted it); use a {} of your own",
                meta.uid(),
                noun(kind)
            ));
        }
        let mode = meta.mode() & 0o7777;
        match kind {
            Kind::File if mode & 0o077 != 0 => Some(format!(
                "{what} can be read or written by other users (mode {mode:04o}): run \
                 `chmod 600 {}`",
                path.display()
            )),
            Kind::Dir if mode & 0o022 != 0 => Some(format!(
                "{what} is writable by other users (mode {mode:04o}): they could plant or swap \
                 files in it; run `chmod 700 {}`",
                path.display()
            )),
            Kind::File | Kind::Dir => None,
        }
    }

    /// `file` or `directory`.
    fn noun(kind: Kind) -> &'static str {
        match kind {
            Kind::File => "file",
            Kind::Dir => "directory",
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;

    /// A refusal as `Error::Open`, so that its reason can be read back.
    fn refuse(reason: String) -> Error {
        Error::Open {
            path: "test".into(),
            reason,
        }
    }

    /// The reason of a refusal; panics on success or on another error.
    fn reason(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(Error::Open { reason, .. }) => reason,
            other => panic!("not a refusal: {other:?}"),
        }
    }

    fn file_with_mode(dir: &Path, name: &str, mode: u32) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, b"secret\n").expect("written");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    #[test]
    fn an_owner_only_file_passes_and_is_read() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = file_with_mode(dir.path(), "key", 0o600);
        let text = read_to_string(&path, "the key file", refuse).expect("passes");
        assert_eq!(text, "secret\n");
        assert!(check_file_if_present(&path, "the key file", refuse).expect("passes"));
    }

    #[test]
    fn a_file_others_can_read_is_refused_naming_its_mode_and_the_fix() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = file_with_mode(dir.path(), "key", 0o640);
        let why = reason(read_to_string(&path, "the key file", refuse));
        assert!(why.starts_with("the key file "), "{why}");
        assert!(why.contains("mode 0640"), "{why}");
        assert!(
            why.contains(&format!("chmod 600 {}", path.display())),
            "{why}"
        );
    }

    #[test]
    fn a_symlink_to_an_owner_only_file_is_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let target = file_with_mode(dir.path(), "key", 0o600);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("a link");
        let why = reason(read_to_string(&link, "the key file", refuse));
        assert!(why.contains("symbolic link"), "{why}");
        // A dangling one too, even where a missing file is allowed.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("missing"), &dangling).expect("a link");
        let why = reason(check_file_if_present(&dangling, "the store file", refuse));
        assert!(why.contains("symbolic link"), "{why}");
    }

    #[test]
    fn a_directory_where_a_file_is_expected_is_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("a directory");
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let why = reason(read_to_string(&sub, "the key file", refuse));
        assert!(why.contains("is a directory, not a regular file"), "{why}");
        // ... and a file where a directory is.
        let file = file_with_mode(dir.path(), "file", 0o600);
        let why = reason(check_dir(&file, "the store directory", refuse));
        assert!(why.contains("is a regular file, not a directory"), "{why}");
    }

    #[test]
    fn a_named_pipe_is_refused_without_hanging() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("a path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let why = reason(read_to_string(&fifo, "the key file", refuse));
        assert!(why.contains("named pipe"), "{why}");
    }

    #[test]
    fn directories_others_can_write_are_refused_and_owner_only_ones_pass() {
        let dir = tempfile::tempdir().expect("a temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        check_dir(dir.path(), "the store directory", refuse).expect("passes");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let why = reason(check_dir(dir.path(), "the store directory", refuse));
        assert!(
            why.contains("mode 0777") && why.contains("chmod 700"),
            "{why}"
        );
    }

    /// Closing any descriptor of a file drops the process's POSIX locks on
    /// it; LMDB holds one on `lock.mdb` while the store is open. Checking
    /// the store's files again (another open of the store) must keep it.
    #[cfg(target_os = "linux")]
    #[test]
    fn checking_a_locked_store_file_keeps_the_lock() {
        use std::os::fd::AsRawFd;

        let dir = tempfile::tempdir().expect("a temp dir");
        let path = file_with_mode(dir.path(), "lock.mdb", 0o600);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("opened");
        let lock = |l_type: i32| {
            // SAFETY: all-zero is a valid flock.
            let mut lock: libc::flock = unsafe { std::mem::zeroed() };
            lock.l_type = l_type as libc::c_short;
            lock.l_whence = libc::SEEK_SET as libc::c_short;
            lock.l_len = 1;
            lock
        };
        let mut held = lock(libc::F_RDLCK);
        // SAFETY: a valid descriptor and flock.
        assert_eq!(
            unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &mut held) },
            0
        );

        assert!(check_file_if_present(&path, "the store file", refuse).expect("passes"));

        // Another process asks whether it could take the byte exclusively.
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("a path");
        // SAFETY: the child only makes system calls, then _exits.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // SAFETY: async-signal-safe calls only, in the child.
            unsafe {
                let fd = libc::open(c_path.as_ptr(), libc::O_RDWR);
                let mut probe = lock(libc::F_WRLCK);
                let locked = fd >= 0
                    && libc::fcntl(fd, libc::F_GETLK, &mut probe) == 0
                    && probe.l_type != libc::F_UNLCK as libc::c_short;
                libc::_exit(if locked { 0 } else { 1 });
            }
        }
        assert!(child > 0, "fork failed");
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the check released this process's lock (status {status})"
        );
        drop(file);
    }

    #[test]
    fn a_missing_file_is_absent_not_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let missing = dir.path().join("missing");
        assert!(!check_file_if_present(&missing, "the store file", refuse).expect("absent"));
        assert!(matches!(
            read_to_string(&missing, "the key file", refuse),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            println!("skipped: giving a file to another user needs root");
            return;
        }
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = file_with_mode(dir.path(), "key", 0o600);
        std::os::unix::fs::chown(&path, Some(65534), None).expect("chown");
        let why = reason(read_to_string(&path, "the key file", refuse));
        assert!(why.contains("belongs to user id 65534"), "{why}");
        // Root can read it: the refusal is the check's, not the system's.
        assert_eq!(std::fs::read(&path).expect("readable by root"), b"secret\n");
    }
}

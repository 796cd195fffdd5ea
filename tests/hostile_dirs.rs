//! Issue 11, items 12 and 14: a store in a directory other users can reach,
//! planted files, a dangling `MCP_PERSIST_DIR`, and a full disk.
#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use mcp_persist::{Error, Store};

fn open_error(dir: &std::path::Path) -> String {
    match Store::builder().sweep_interval(None).open_at(dir) {
        Ok(_) => panic!("{} opened", dir.display()),
        Err(err @ Error::Open { .. }) => err.to_string(),
        Err(other) => panic!("not an Open error: {other}"),
    }
}

#[test]
fn a_directory_other_users_can_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = open_error(dir.path());
    assert!(
        err.contains("writable by other users") && err.contains("chmod 700"),
        "{err}"
    );
}

#[test]
fn planted_store_files_are_refused_and_their_targets_untouched() {
    // A symbolic link planted as data.mdb.
    let dir = tempfile::tempdir().unwrap();
    let victim = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(victim.path(), b"precious").unwrap();
    std::os::unix::fs::symlink(victim.path(), dir.path().join("data.mdb")).unwrap();
    let err = open_error(dir.path());
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read(victim.path()).unwrap(), b"precious");

    // A store file others can read.
    let dir = tempfile::tempdir().unwrap();
    drop(
        Store::builder()
            .sweep_interval(None)
            .open_at(dir.path())
            .unwrap(),
    );
    let data = dir.path().join("data.mdb");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = open_error(dir.path());
    assert!(
        err.contains("mode 0644") && err.contains("chmod 600"),
        "{err}"
    );
}

#[test]
fn files_of_another_user_are_refused() {
    // SAFETY: no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        println!("skipped: chown needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    drop(
        Store::builder()
            .sweep_interval(None)
            .open_at(dir.path())
            .unwrap(),
    );
    let lock = dir.path().join("lock.mdb");
    assert!(
        Command::new("chown")
            .arg("65534")
            .arg(&lock)
            .status()
            .unwrap()
            .success()
    );
    let err = open_error(dir.path());
    assert!(err.contains("belongs to user id 65534"), "{err}");
    let other = tempfile::tempdir().unwrap();
    assert!(
        Command::new("chown")
            .arg("65534")
            .arg(other.path())
            .status()
            .unwrap()
            .success()
    );
    let err = open_error(other.path());
    assert!(err.contains("belongs to user id 65534"), "{err}");
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[test]
fn a_dangling_symlink_says_so() {
    let base = tempfile::tempdir().unwrap();
    let link = base.path().join("persist");
    std::os::unix::fs::symlink(base.path().join("missing"), &link).unwrap();
    let err = open_error(&link.join("app"));
    assert!(
        err.contains("does not exist") && err.contains("symbolic link"),
        "{err}"
    );
}

/// Creating a store on a full disk used to kill the process with SIGBUS
/// (LMDB writes lock.mdb through a memory map). Needs root to mount a tmpfs.
#[test]
fn creating_a_store_on_a_full_disk_is_an_error_and_leaves_nothing() {
    let mnt = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(mnt.path())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        println!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    let fill = mnt.path().join("fill");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k"])
        .arg(format!("of={}", fill.display()))
        .stderr(std::process::Stdio::null())
        .status();
    let target = mnt.path().join("new");
    let result = Store::builder().sweep_interval(None).open_at(&target);
    let leftover = target.exists();
    let _ = Command::new("umount").arg(mnt.path()).status();
    let err = result
        .expect_err("a store opened on a full disk")
        .to_string();
    assert!(err.to_lowercase().contains("no space left"), "{err}");
    assert!(!leftover, "a half-made store was left behind");
}

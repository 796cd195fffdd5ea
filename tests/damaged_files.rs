//! Damaged or hostile places give clear errors at open, never a crash or a
//! hang; the in-memory fallback is explicit.

mod common;

use common::{Progress, progress};
use mcp_persist::{Error, Store};

fn store_with_data(dir: &std::path::Path) {
    let store = Store::open_at(dir).unwrap();
    for i in 0..2000 {
        progress(&format!("book-{i}"), i)
            .save(&store)
            .blocking()
            .unwrap();
    }
}

#[test]
fn a_truncated_data_file_is_a_clear_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    store_with_data(dir.path());
    let data = dir.path().join("data.mdb");
    let len = std::fs::metadata(&data).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    let err = Store::open_at(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn garbage_in_place_of_the_data_file_is_a_clear_error() {
    for garbage in [
        vec![0u8; 16 * 1024],
        b"hello, not a database".to_vec(),
        vec![0xff; 3],
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data.mdb"), &garbage).unwrap();
        let err = Store::open_at(dir.path()).unwrap_err();
        assert!(
            matches!(err, Error::Open { .. } | Error::Lmdb { .. }),
            "{err}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_directory_without_write_permission_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("locked");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    if std::fs::write(dir.join("probe"), b"x").is_ok() {
        // Running as root: permissions do not apply, nothing to test here.
        eprintln!("skipped: permissions are not enforced for this user");
        return;
    }
    let err = Store::open_at(&dir).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err}");
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
}

#[test]
fn open_or_memory_falls_back_loudly_and_only_when_needed() {
    let base = tempfile::tempdir().unwrap();
    // SAFETY: this test binary reads MCP_PERSIST_DIR only in this test.
    unsafe { std::env::set_var(mcp_persist::settings::DIR_ENV_VAR, base.path()) };
    let store = Store::open_or_memory("fine-app").unwrap();
    assert!(!store.is_memory());
    progress("x", 1).save(&store).blocking().unwrap();

    std::fs::write(
        base.path().join("broken-app"),
        b"a file where the directory should be",
    )
    .unwrap();
    let store = Store::open_or_memory("broken-app").unwrap();
    assert!(store.is_memory(), "the fallback is an in-memory store");
    progress("y", 2).save(&store).blocking().unwrap();
    assert_eq!(
        Progress::load(&store, "y")
            .blocking()
            .unwrap()
            .unwrap()
            .page,
        2
    );
}

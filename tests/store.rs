//! Opening stores: paths, sharing, permissions, damaged places, map growth.

mod common;

use common::{Progress, progress};
use mcp_persist::{Error, Store};

#[test]
fn opening_the_same_directory_twice_shares_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let a = Store::open_at(dir.path()).unwrap();
    let b = Store::open_at(dir.path().join(".")).unwrap();
    progress("x", 1).save(&a).blocking().unwrap();
    assert_eq!(Progress::load(&b, "x").blocking().unwrap().unwrap().page, 1);
    assert_eq!(a.path(), b.path());
}

#[test]
fn reopening_after_close_works() {
    let dir = tempfile::tempdir().unwrap();
    for page in 0..5 {
        let store = Store::open_at(dir.path()).unwrap();
        if page > 0 {
            assert_eq!(
                Progress::load(&store, "x")
                    .blocking()
                    .unwrap()
                    .unwrap()
                    .page,
                page - 1
            );
        }
        progress("x", page).save(&store).blocking().unwrap();
    }
}

#[test]
fn app_stores_live_under_the_override_directory() {
    let base = tempfile::tempdir().unwrap();
    // SAFETY: this test binary reads MCP_PERSIST_DIR only in this test.
    unsafe { std::env::set_var(mcp_persist::settings::DIR_ENV_VAR, base.path()) };
    let dir = mcp_persist::resolve_dir("reading-app").unwrap();
    assert_eq!(dir, base.path().join("reading-app"));
    let store = Store::open("reading-app").unwrap();
    progress("x", 1).save(&store).blocking().unwrap();
    assert!(base.path().join("reading-app").join("data.mdb").is_file());
    assert!(matches!(
        Store::open("../escape"),
        Err(Error::InvalidAppName { .. })
    ));
}

#[cfg(unix)]
#[test]
fn store_directory_and_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("nested").join("store");
    let store = Store::open_at(&dir).unwrap();
    progress("x", 1).save(&store).blocking().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("data.mdb")), 0o600);
    assert_eq!(mode(&dir.join("lock.mdb")), 0o600);
}

#[test]
fn a_path_that_is_a_file_is_a_clear_error() {
    let base = tempfile::tempdir().unwrap();
    let file = base.path().join("file");
    std::fs::write(&file, b"not a dir").unwrap();
    let err = Store::open_at(&file).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err}");
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn a_garbage_data_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.mdb"), vec![0x5a; 64 * 1024]).unwrap();
    let err = Store::open_at(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err}");
}

#[test]
fn memory_stores_are_separate_and_removed_on_drop() {
    let a = Store::memory().unwrap();
    let b = Store::memory().unwrap();
    assert!(a.is_memory());
    progress("x", 1).save(&a).blocking().unwrap();
    assert_eq!(Progress::load(&b, "x").blocking().unwrap(), None);
    let path = a.path().expect("an embedded store").to_owned();
    assert!(path.exists());
    drop(a);
    assert!(!path.exists());
}

#[test]
fn a_tiny_map_grows_to_hold_what_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .map_size(64 * 1024)
        .durability(mcp_persist::Durability::NoSync)
        .sweep_interval(None)
        .open_at(dir.path())
        .unwrap();
    let blob = "x".repeat(4000);
    for i in 0..2000 {
        let mut p = progress(&format!("{i:05}-{blob}")[..200], i);
        p.book_id.push_str(&i.to_string());
        p.save(&store).blocking().unwrap();
    }
    assert_eq!(Progress::list(&store).blocking().unwrap().len(), 2000);
}

#[test]
fn the_map_ceiling_is_a_clear_error_and_keeps_what_was_stored() {
    let store = Store::builder()
        .map_size(256 * 1024)
        .max_map_size(512 * 1024)
        .memory()
        .unwrap();
    progress("first", 1).save(&store).blocking().unwrap();
    let big = "y".repeat(300);
    let mut last_err = None;
    for i in 0..20_000 {
        if let Err(e) = progress(&format!("{i}{big}")[..300], i)
            .save(&store)
            .blocking()
        {
            last_err = Some(e);
            break;
        }
    }
    let err = last_err.expect("the store never filled up");
    assert!(matches!(err, Error::StoreFull { .. }), "{err}");
    assert_eq!(
        Progress::load(&store, "first")
            .blocking()
            .unwrap()
            .unwrap()
            .page,
        1
    );
}

//! Encryption at rest: no value in clear in the files or in an export,
//! records that cannot be moved, swapped or altered unnoticed, clear errors
//! without the right key, and rotation while another process writes.
//!
//! Children are this test binary run again with `--exact child_role` and the
//! role in an environment variable (as in `processes.rs`).

mod common;
#[path = "common/raw_lmdb.rs"]
mod raw_lmdb;

use std::path::Path;
use std::process::Command;

use mcp_persist::{EncryptionKey, Error, Keyring, Store, persisted};
use raw_lmdb::raw_records;

/// A note whose text must never be readable from the files.
#[persisted(key = "notes/{title}")]
#[derive(Debug, Clone, PartialEq)]
struct Note {
    title: String,
    text: String,
}

const MARKER: &str = "PLAINTEXT-MARKER";

fn note(i: usize) -> Note {
    Note {
        title: format!("t{i:04}"),
        text: format!("{MARKER}-{i:04} the secret of note {i}"),
    }
}

fn ring(current: &EncryptionKey, older: &[&EncryptionKey]) -> Keyring {
    Keyring::new(current.clone(), older.iter().map(|k| (*k).clone())).unwrap()
}

fn open(dir: &Path, keys: Option<Keyring>) -> Store {
    let builder = Store::builder().sweep_interval(None);
    match keys {
        Some(keys) => builder.encryption(keys),
        None => builder,
    }
    .open_at(dir)
    .unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn the_files_and_an_export_hold_no_value_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let key = EncryptionKey::generate("k1").unwrap();
    let store = open(dir.path(), Some(ring(&key, &[])));
    for i in 0..1000 {
        note(i).save(&store).blocking().unwrap();
    }
    assert_eq!(
        Note::load(&store, "t0007").blocking().unwrap(),
        Some(note(7))
    );
    assert_eq!(Note::list(&store).blocking().unwrap().len(), 1000);
    let mut sealed = Vec::new();
    let n = store
        .admin()
        .export_jsonl("", &mut sealed, &mut |_| {})
        .unwrap();
    assert_eq!(n, 1000);
    assert!(
        !contains(&sealed, MARKER),
        "an export without the flag is sealed"
    );
    let mut opened = Vec::new();
    store
        .admin()
        .export_jsonl_decrypted("", &mut opened, &mut |_| {})
        .unwrap();
    assert!(contains(&opened, &format!("{MARKER}-0999")));
    drop(store);
    let data = std::fs::read(dir.path().join("data.mdb")).unwrap();
    assert!(contains(&data, "notes/t0999"), "keys stay in clear");
    assert!(!contains(&data, MARKER), "a value is in clear in data.mdb");

    // The sealed export goes back into a store with the key, and only there.
    let other = tempfile::tempdir().unwrap();
    let copy = open(other.path(), Some(ring(&key, &[])));
    let report = copy.admin().import_jsonl(&mut &sealed[..], false).unwrap();
    assert_eq!(report.added, 1000);
    assert_eq!(
        Note::load(&copy, "t0999").blocking().unwrap(),
        Some(note(999))
    );
    let third = tempfile::tempdir().unwrap();
    let without = open(third.path(), None);
    let refused = without.admin().import_jsonl(&mut &sealed[..], false);
    assert!(matches!(refused, Err(Error::Decrypt { .. })), "{refused:?}");
    assert!(
        Note::list(&without).blocking().unwrap().is_empty(),
        "all or nothing"
    );
}

#[test]
fn swapped_altered_or_foreign_records_are_refused_and_kept_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let key = EncryptionKey::generate("k1").unwrap();
    let store = open(dir.path(), Some(ring(&key, &[])));
    for i in 0..3 {
        note(i).save(&store).blocking().unwrap();
    }
    drop(store);
    let (a, b, c) = (
        b"note:notes/t0000",
        b"note:notes/t0001",
        b"note:notes/t0002",
    );
    let before = {
        let (env, db) = raw_records(dir.path());
        let rtxn = env.read_txn().unwrap();
        let get = |k: &[u8]| db.get(&rtxn, k).unwrap().unwrap().to_vec();
        let (va, vb, mut vc) = (get(a), get(b), get(c));
        let mid = vc.len() - 10;
        // One bit of the ciphertext flipped.
        vc[mid] ^= 1;
        drop(rtxn);
        let mut wtxn = env.write_txn().unwrap();
        db.put(&mut wtxn, a, &vb).unwrap();
        db.put(&mut wtxn, b, &va).unwrap();
        db.put(&mut wtxn, c, &vc).unwrap();
        wtxn.commit().unwrap();
        [vb, va, vc]
    };
    let store = open(dir.path(), Some(ring(&key, &[])));
    for title in ["t0000", "t0001", "t0002"] {
        let err = Note::load(&store, title).blocking().unwrap_err();
        assert!(
            matches!(&err, Error::Decrypt { key_id, .. } if key_id == "k1"),
            "{err:?}"
        );
        assert!(err.to_string().contains("altered or moved"), "{err}");
    }
    // No write through the store changed them, the failed loads included.
    let updated = Note::update(&store, "t0000", |n| n.text.clear()).blocking();
    assert!(matches!(updated, Err(Error::Decrypt { .. })), "{updated:?}");
    drop(store);
    let (env, db) = raw_records(dir.path());
    let rtxn = env.read_txn().unwrap();
    for (k, v) in [a.as_slice(), b, c].into_iter().zip(&before) {
        assert_eq!(db.get(&rtxn, k).unwrap().unwrap(), v.as_slice());
    }
}

#[test]
fn without_the_right_key_reads_say_so_and_listings_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let key = EncryptionKey::generate("k1").unwrap();
    let store = open(dir.path(), Some(ring(&key, &[])));
    note(1).save(&store).blocking().unwrap();
    drop(store);
    let bare = open(dir.path(), None);
    let err = Note::load(&bare, "t0001").blocking().unwrap_err();
    assert!(err.to_string().contains("MCP_PERSIST_KEY_FILE"), "{err}");
    // Nor does it write a value in clear over the sealed one, nor beside it.
    let overwrite = note(1).save(&bare).blocking().unwrap_err();
    assert!(overwrite.to_string().contains("in clear"), "{overwrite}");
    let beside = note(2).save(&bare).blocking().unwrap_err();
    assert!(
        matches!(&beside, Error::KeysRequired { key_id, .. } if key_id == "k1"),
        "{beside:?}"
    );
    assert!(
        beside.to_string().contains("MCP_PERSIST_KEY_FILE"),
        "{beside}"
    );
    assert!(!Note::exists(&bare, "t0002").blocking().unwrap());
    // Keys, headers, expiry and checks need no key.
    assert_eq!(bare.admin().raw_keys("").unwrap(), ["note:notes/t0001"]);
    assert_eq!(bare.admin().check().unwrap(), []);
    let stats = bare.admin().stats().unwrap();
    assert_eq!(stats.namespaces["note"].records, 1);
    // What it holds is said without a key: one record sealed with k1.
    assert_eq!(
        stats.sealed.into_iter().collect::<Vec<_>>(),
        [("k1".to_owned(), 1)]
    );
    assert_eq!(
        bare.admin().scan("", None).unwrap()[0]
            .sealed_with
            .as_deref(),
        Some("k1")
    );
    drop(bare);
    let other = EncryptionKey::generate("k9").unwrap();
    let wrong = open(dir.path(), Some(ring(&other, &[])));
    let err = Note::load(&wrong, "t0001").blocking().unwrap_err();
    assert!(
        err.to_string().contains("k9") && err.to_string().contains("\"k1\""),
        "{err}"
    );
    // A check with keys opens every record and reports those that do not.
    assert_eq!(wrong.admin().check().unwrap().len(), 1);
}

#[test]
fn rekey_encrypts_a_plain_store_and_retires_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let plain = open(dir.path(), None);
    for i in 0..1500 {
        note(i).save(&plain).blocking().unwrap();
    }
    drop(plain);
    let (k1, k2) = (
        EncryptionKey::generate("k1").unwrap(),
        EncryptionKey::generate("k2").unwrap(),
    );
    let store = open(dir.path(), Some(ring(&k1, &[])));
    let report = store.admin().rekey(&mut |_| {}).unwrap();
    assert_eq!((report.resealed, report.current), (1500, 0));
    drop(store);
    let data = std::fs::read(dir.path().join("data.mdb")).unwrap();
    // Freed pages may still hold old bytes until reused: compacted, none.
    let copy = tempfile::tempdir().unwrap();
    open(dir.path(), Some(ring(&k1, &[])))
        .admin()
        .backup_to(copy.path())
        .unwrap();
    let compacted = std::fs::read(copy.path().join("data.mdb")).unwrap();
    assert!(!contains(&compacted, MARKER));
    drop(data);
    let store = open(dir.path(), Some(ring(&k2, &[&k1])));
    let report = store.admin().rekey(&mut |_| {}).unwrap();
    assert_eq!((report.resealed, report.current), (1500, 0));
    drop(store);
    let only_new = open(dir.path(), Some(ring(&k2, &[])));
    assert_eq!(Note::list(&only_new).blocking().unwrap().len(), 1500);
    let sealed = only_new.admin().stats().unwrap().sealed;
    assert_eq!(
        sealed.into_iter().collect::<Vec<_>>(),
        [("k2".to_owned(), 1500)]
    );
    assert_eq!(only_new.admin().rekey(&mut |_| {}).unwrap().current, 1500);
}

const ROLE: &str = "MCP_PERSIST_TEST_ROLE";
const DIR: &str = "MCP_PERSIST_TEST_DIR";
const KEYS: &str = "MCP_PERSIST_TEST_KEYS";

/// Does nothing unless run as a child by a test below.
#[test]
fn child_role() {
    let (Ok(role), Ok(dir), Ok(keys)) =
        (std::env::var(ROLE), std::env::var(DIR), std::env::var(KEYS))
    else {
        return;
    };
    assert_eq!(role, "writer");
    let store = open(Path::new(&dir), Some(Keyring::parse(&keys, "env").unwrap()));
    for i in 5000..5400 {
        note(i).save(&store).blocking().unwrap();
        // Rewrites of records the rotation is sealing anew.
        let mut n = note(i % 700);
        n.text.push_str(" (rewritten)");
        n.save(&store).blocking().unwrap();
    }
}

#[test]
fn a_rotation_while_another_process_writes_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (k1, k2) = (
        EncryptionKey::generate("k1").unwrap(),
        EncryptionKey::generate("k2").unwrap(),
    );
    let store = open(dir.path(), Some(ring(&k1, &[])));
    for i in 0..3000 {
        note(i).save(&store).blocking().unwrap();
    }
    drop(store);
    // Servers are deployed with the new key first, the old one to read.
    let lines = format!("{}\n{}\n", k2.to_line(), k1.to_line());
    let mut writer = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
        .env(ROLE, "writer")
        .env(DIR, dir.path())
        .env(KEYS, &lines)
        .spawn()
        .unwrap();
    let store = open(dir.path(), Some(Keyring::parse(&lines, "test").unwrap()));
    let report = store.admin().rekey(&mut |_| {}).unwrap();
    assert!(writer.wait().unwrap().success());
    assert!(report.resealed + report.current >= 3000, "{report:?}");
    drop(store);
    let only_new = open(dir.path(), Some(ring(&k2, &[])));
    let all = Note::list(&only_new).blocking().unwrap();
    assert_eq!(
        all.len(),
        3400,
        "every record, readable with the new key alone"
    );
    assert!(
        all.iter()
            .filter(|n| n.text.ends_with("(rewritten)"))
            .count()
            >= 400
    );
}

mod backends {
    use super::*;

    on_each_backend! {
        #[test]
        fn a_store_without_keys_writes_no_value_into_an_encrypted_one() {
            let (keep, store, _clock) = disk_store();
            note(1).save(&store).blocking().unwrap();
            drop(store);
            let key = EncryptionKey::generate("k7").unwrap();
            let sealed = keep.open(Store::builder().sweep_interval(None).encryption(ring(&key, &[])));
            note(2).save(&sealed).blocking().unwrap();
            drop(sealed);
            let bare = keep.open(Store::builder().sweep_interval(None));
            let refused = note(3).save(&bare).blocking().unwrap_err();
            assert!(matches!(&refused, Error::KeysRequired { key_id, .. } if key_id == "k7"), "{refused:?}");
            // Plain records of before stay readable; deleting needs no key.
            assert_eq!(Note::load(&bare, "t0001").blocking().unwrap(), Some(note(1)));
            assert!(Note::delete(&bare, "t0001").blocking().unwrap());
            assert!(!Note::exists(&bare, "t0003").blocking().unwrap());
        }

        #[test]
        fn values_are_sealed_on_every_engine() {
            let (keep, store, _clock) = disk_store();
            drop(store);
            let key = EncryptionKey::generate("k1").unwrap();
            let sealed = keep.open(Store::builder().sweep_interval(None).encryption(ring(&key, &[])));
            note(3).save(&sealed).blocking().unwrap();
            assert_eq!(Note::load(&sealed, "t0003").blocking().unwrap(), Some(note(3)));
            let raw = sealed.admin().get_raw("note:notes/t0003").unwrap();
            assert!(raw.is_some_and(|b| contains(&b, MARKER)), "reads open it");
            let mut export = Vec::new();
            sealed.admin().export_jsonl("", &mut export, &mut |_| {}).unwrap();
            assert!(!contains(&export, MARKER));
            if let common::Keep::Redis(server) = &keep {
                let stored = server.command(&["GET", "mcp-persist:{tests}:r:note:notes/t0003"]);
                assert!(stored.contains(r#""k":"k1"}"#), "{stored}");
                assert!(!stored.contains(MARKER), "{stored}");
            }
        }
    }
}

/// Cached for an hour.
#[persisted(key = "cache/{name}", ttl = "1h")]
#[derive(Debug, Clone, PartialEq)]
struct Cached {
    name: String,
    secret: String,
}

#[test]
fn expired_sealed_records_are_swept_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = EncryptionKey::generate("k1").unwrap();
    let clock = mcp_persist::ManualClock::new();
    let store = Store::builder()
        .sweep_interval(None)
        .clock(clock.clone())
        .encryption(ring(&key, &[]))
        .open_at(dir.path())
        .unwrap();
    for name in ["a", "b"] {
        Cached {
            name: name.into(),
            secret: MARKER.into(),
        }
        .save(&store)
        .blocking()
        .unwrap();
    }
    drop(store);
    clock.advance(std::time::Duration::from_secs(2 * 3600));
    let bare = Store::builder()
        .sweep_interval(None)
        .clock(clock)
        .open_at(dir.path())
        .unwrap();
    assert_eq!(bare.expired_pending().unwrap(), 2);
    assert_eq!(bare.sweep_expired().blocking().unwrap(), 2);
    assert!(bare.admin().raw_keys("").unwrap().is_empty());
}

/// On Redis a replica without keys that connected before the store was
/// first encrypted learns of it with its next write (the mark is read and
/// watched with the write's first read), and writes nothing in clear.
#[test]
fn a_replica_without_keys_that_connected_before_the_first_seal_writes_nothing_in_clear() {
    let Some((keep, bare, _clock)) = common::redis_store() else {
        return;
    };
    note(1).save(&bare).blocking().unwrap();
    let key = EncryptionKey::generate("k5").unwrap();
    let sealed = keep.open(
        Store::builder()
            .sweep_interval(None)
            .encryption(ring(&key, &[])),
    );
    note(2).save(&sealed).blocking().unwrap();
    let refused = note(3).save(&bare).blocking().unwrap_err();
    assert!(
        matches!(&refused, Error::KeysRequired { key_id, .. } if key_id == "k5"),
        "{refused:?}"
    );
    assert!(!Note::exists(&sealed, "t0003").blocking().unwrap());
}

//! Format 1 (FORMAT.md Part 1), frozen: `tests/fixtures/format-v1/` holds
//! stores and exports written by this format's code, and every later build
//! must keep reading them as they are (FORMAT.md §2.7).
//!
//! - `plain/data.mdb`: a store without keys, with every kind of record and a
//!   change log holding every kind of entry ([`PLAIN`], [`PLAIN_LOG`]).
//! - `sealed/data.mdb`: a store with keys: one record written in clear
//!   before any key, records sealed under two key ids ([`SEALED`],
//!   [`SEALED_LOG`]).
//! - `sealed/keys.txt`: the keyring of `sealed/`, **test-only and
//!   deliberately public** ([`KEYS_TXT`]). Read with [`Keyring::parse`],
//!   since `Keyring::from_file` refuses the 0644 that a checkout gives.
//! - `plain.jsonl`, `sealed.jsonl`: `export_jsonl("")` of each store.
//! - `SHA256SUMS`: the sums of the files above, also pinned in [`SUMS`].
//!
//! **The fixture is never regenerated.** Its files are pinned by SHA-256, so
//! a regeneration fails [`fixture_files_are_the_committed_ones`]. A change
//! of the stored format gets a new fixture directory (`format-v2/`) next to
//! this one, and this test stays as it is. The generator
//! ([`generate_fixture`], ignored) writes only into a new directory named
//! by `FIXTURE_OUT`, never over the committed fixture.
//!
//! The stores were written by an x86_64 (little-endian, 64-bit) build: LMDB
//! files are not portable across endianness or word size, so the raw-file
//! tests cannot pass on a big-endian host (the exports can).
//!
//! Every test opens a copy in a temporary directory, never the fixture in
//! place (an open creates `lock.mdb`, and a read could write back).
//! All records were written with `ManualClock::at_ms(W)` moved forward by
//! hand, `sweep_interval(None)` and the default change-log size; the stores
//! are read at [`READ_MS`]. Timeline of `plain/`: at `W` the singleton and
//! the keyed record; at `W+10` its update and everything else, including a
//! record with a 1 ms TTL; at `W+20` the sweep that expires it (the EXPIRE
//! entry), then a record that expires at `W+21` and is never swept. Of
//! `sealed/`: at `W` the plain record (no keys), at `W+10` the `fx-old` seal
//! (keyring: `fx-old` only), at `W+20` the `fx-new` seals (the full
//! keyring). Plain `data.mdb` comes out the same on every run; sealed ones
//! do not (random salt).

#[path = "common/raw_lmdb.rs"]
mod raw_lmdb;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use heed::types::Bytes;
use mcp_persist::admin::{Header, ImportReport, fuzzing};
use mcp_persist::{
    Change, ChangeKind, Error, Keyring, ManualClock, Meta, Persisted, Scope, Store, Ttl, Watched,
    persisted,
};
use serde_json::{Value, json};

/// A singleton.
#[persisted(key = "settings", namespace = "fx_settings")]
#[derive(Debug, Clone, PartialEq)]
struct Settings {
    theme: String,
    limit: u32,
}

/// Keyed by two fields: `/`, `%` and `-` (the literal after `owner`) are escaped.
#[persisted(key = "doc/{owner}-{name}", namespace = "fx_doc")]
#[derive(Debug, Clone, PartialEq)]
struct Doc {
    owner: String,
    name: String,
    body: String,
}

/// A type with a TTL of its own.
#[persisted(key = "session/{id}", namespace = "fx_session", ttl = "1d")]
#[derive(Debug, Clone, PartialEq)]
struct Session {
    id: String,
    user: String,
}

/// A list.
#[persisted(key = "events", namespace = "fx_events", list, max_len = 10)]
#[derive(Debug, Clone, PartialEq)]
struct Event {
    what: String,
}

/// Per user.
#[persisted(key = "notes/{title}", namespace = "fx_note", scope = "user")]
#[derive(Debug, Clone, PartialEq)]
struct Note {
    title: String,
    text: String,
}

/// Schema version 3 (`"v":3` in its envelope).
#[persisted(key = "profile/{id}", namespace = "fx_profile", version = 3)]
#[derive(Debug, Clone, PartialEq)]
struct Profile {
    id: String,
    first: String,
    last: String,
}

/// Records that are deleted, swept, or left expired.
#[persisted(key = "temp/{id}", namespace = "fx_temp")]
#[derive(Debug, Clone, PartialEq)]
struct Temp {
    id: String,
}

/// The records of the sealed store.
#[persisted(key = "secret/{id}", namespace = "fx_secret")]
#[derive(Debug, Clone, PartialEq)]
struct Secret {
    id: String,
    text: String,
}

/// When the first record was written (2026-09-21T14:13:20Z), in ms.
const W: u64 = 1_790_000_000_000;
/// When the tests read the stores: every TTL of an hour or more is still
/// running, and `fx_temp:temp/stale` has expired (not swept).
const READ_MS: u64 = W + 1_000;
const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
/// The scope of the per-user records; `/` and `%` are escaped in its prefix.
const SCOPE: &str = "a/b%c";

/// The keyring of `sealed/`: `fx-new` = bytes 0x20..=0x3F (current),
/// `fx-old` = bytes 0x00..=0x1F. Public on purpose: never use it for data.
const KEYS_TXT: &str = "\
# mcp-persist test fixture keyring: TEST-ONLY and DELIBERATELY PUBLIC.
# Never use these keys for real data.
fx-new:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=
fx-old:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
";

/// One stored record, as format 1 writes it (FORMAT.md 1.2, 1.3).
struct Rec {
    key: &'static str,
    v: u32,
    c: u64,
    u: u64,
    e: Option<u64>,
    t: Option<u64>,
    /// Sealed under this key id (`None`: plain).
    k: Option<&'static str>,
    /// The value's JSON, exactly as it follows `"d":`.
    d: &'static str,
}

const DOC: &str = "fx_doc:doc/a%2Fb%25c-x%2Dy";
const NOTE: &str = "@a%2Fb%25c/fx_note:notes/first";

const fn rec(key: &'static str, c: u64, u: u64, d: &'static str) -> Rec {
    Rec {
        key,
        v: 1,
        c,
        u,
        e: None,
        t: None,
        k: None,
        d,
    }
}

/// Every record of `plain/`, in key order.
const PLAIN: &[Rec] = &[
    rec(NOTE, W + 10, W + 10, r#"{"title":"first","text":"mine"}"#),
    // Updated at W+10: created != updated.
    rec(
        DOC,
        W,
        W + 10,
        r#"{"owner":"a/b%c","name":"x-y","body":"second draft"}"#,
    ),
    rec(
        "fx_events:events/0000000000000000",
        W + 10,
        W + 10,
        r#"{"what":"first"}"#,
    ),
    rec(
        "fx_events:events/0000000000000001",
        W + 10,
        W + 10,
        r#"{"what":"second"}"#,
    ),
    // Pushed with its own TTL.
    Rec {
        e: Some(W + 10 + HOUR),
        t: Some(HOUR),
        ..rec(
            "fx_events:events/0000000000000002",
            W + 10,
            W + 10,
            r#"{"what":"third"}"#,
        )
    },
    Rec {
        v: 3,
        ..rec(
            "fx_profile:profile/p1",
            W + 10,
            W + 10,
            r#"{"id":"p1","first":"Ada","last":"Lovelace"}"#,
        )
    },
    // `admin().put_json` always writes `t` (0: never expires).
    Rec {
        t: Some(0),
        ..rec("fx_raw:raw/1", W + 10, W + 10, r#"{"a":"x","b":[1,2]}"#)
    },
    // The type's TTL: `e`, no `t`.
    Rec {
        e: Some(W + 10 + DAY),
        ..rec(
            "fx_session:session/s1",
            W + 10,
            W + 10,
            r#"{"id":"s1","user":"emma"}"#,
        )
    },
    // `Ttl::After(1h)`.
    Rec {
        e: Some(W + 10 + HOUR),
        t: Some(HOUR),
        ..rec(
            "fx_session:session/s2",
            W + 10,
            W + 10,
            r#"{"id":"s2","user":"anne"}"#,
        )
    },
    // `Ttl::Never`.
    Rec {
        t: Some(0),
        ..rec(
            "fx_session:session/s3",
            W + 10,
            W + 10,
            r#"{"id":"s3","user":"fanny"}"#,
        )
    },
    rec(
        "fx_settings:settings",
        W,
        W,
        r#"{"theme":"dark","limit":7}"#,
    ),
    // Expired at W+21, never swept: still in `records` and `expiry`.
    Rec {
        e: Some(W + 21),
        t: Some(1),
        ..rec("fx_temp:temp/stale", W + 20, W + 20, r#"{"id":"stale"}"#)
    },
];

/// Every record of `sealed/`, in key order.
const SEALED: &[Rec] = &[
    Rec {
        k: Some("fx-new"),
        ..rec(NOTE, W + 20, W + 20, r#"{"title":"first","text":"sealed"}"#)
    },
    Rec {
        e: Some(W + 20 + HOUR),
        t: Some(HOUR),
        k: Some("fx-new"),
        ..rec(
            "fx_secret:secret/new",
            W + 20,
            W + 20,
            r#"{"id":"new","text":"sealed under fx-new"}"#,
        )
    },
    Rec {
        k: Some("fx-old"),
        ..rec(
            "fx_secret:secret/old",
            W + 10,
            W + 10,
            r#"{"id":"old","text":"sealed under fx-old"}"#,
        )
    },
    // Written before the store had keys.
    rec(
        "fx_secret:secret/plain",
        W,
        W,
        r#"{"id":"plain","text":"before any key"}"#,
    ),
];

/// Change-log kind bytes (FORMAT.md 1.4).
const PUT: u8 = 1;
const DELETE: u8 = 2;
const EXPIRE: u8 = 3;
const CREATE: u8 = 4;

/// One change-log entry: kind byte, stored key, and for a put `(v, c, u, e)`.
struct Entry {
    kind: u8,
    key: &'static str,
    head: Option<(u32, u64, u64, Option<u64>)>,
}

const fn put(kind: u8, key: &'static str, v: u32, c: u64, u: u64, e: Option<u64>) -> Entry {
    Entry {
        kind,
        key,
        head: Some((v, c, u, e)),
    }
}

const fn removed(kind: u8, key: &'static str) -> Entry {
    Entry {
        kind,
        key,
        head: None,
    }
}

/// The change log of `plain/`, from seq 1: every entry kind.
const PLAIN_LOG: &[Entry] = &[
    put(CREATE, "fx_settings:settings", 1, W, W, None),
    put(CREATE, DOC, 1, W, W, None),
    put(PUT, DOC, 1, W, W + 10, None),
    put(
        CREATE,
        "fx_session:session/s1",
        1,
        W + 10,
        W + 10,
        Some(W + 10 + DAY),
    ),
    put(
        CREATE,
        "fx_session:session/s2",
        1,
        W + 10,
        W + 10,
        Some(W + 10 + HOUR),
    ),
    put(CREATE, "fx_session:session/s3", 1, W + 10, W + 10, None),
    put(
        CREATE,
        "fx_events:events/0000000000000000",
        1,
        W + 10,
        W + 10,
        None,
    ),
    put(
        CREATE,
        "fx_events:events/0000000000000001",
        1,
        W + 10,
        W + 10,
        None,
    ),
    put(
        CREATE,
        "fx_events:events/0000000000000002",
        1,
        W + 10,
        W + 10,
        Some(W + 10 + HOUR),
    ),
    put(CREATE, NOTE, 1, W + 10, W + 10, None),
    put(CREATE, "fx_profile:profile/p1", 3, W + 10, W + 10, None),
    put(CREATE, "fx_raw:raw/1", 1, W + 10, W + 10, None),
    put(CREATE, "fx_temp:temp/gone", 1, W + 10, W + 10, None),
    removed(DELETE, "fx_temp:temp/gone"),
    put(
        CREATE,
        "fx_temp:temp/swept",
        1,
        W + 10,
        W + 10,
        Some(W + 11),
    ),
    removed(EXPIRE, "fx_temp:temp/swept"),
    put(
        CREATE,
        "fx_temp:temp/stale",
        1,
        W + 20,
        W + 20,
        Some(W + 21),
    ),
];

/// The change log of `sealed/`, from seq 1.
const SEALED_LOG: &[Entry] = &[
    put(CREATE, "fx_secret:secret/plain", 1, W, W, None),
    put(CREATE, "fx_secret:secret/old", 1, W + 10, W + 10, None),
    put(
        CREATE,
        "fx_secret:secret/new",
        1,
        W + 20,
        W + 20,
        Some(W + 20 + HOUR),
    ),
    put(CREATE, NOTE, 1, W + 20, W + 20, None),
];

/// The fixture's files and their SHA-256.
const SUMS: &[(&str, &str)] = &[
    (
        "plain/data.mdb",
        "6c464b13c7e4aa47c2e6fd933a6b34459e26cddd0e40566815e43983ecfb83b6",
    ),
    (
        "plain.jsonl",
        "535a396ec300ff08e4b202d884deca98669ac3bd322f427e226ba441e93f2136",
    ),
    (
        "sealed/data.mdb",
        "225d627d404d2f55fe004ee4b4f40655845f85d6293b863e881083f8a88faa56",
    ),
    (
        "sealed/keys.txt",
        "e94dd2b08cb00ea50798a255453cf40c1611e91f71f231c64a2d5261742c9e7a",
    ),
    (
        "sealed.jsonl",
        "ac95cd9e1baf311556bfb8c5efcdaf3ea349ff3c0cf2ace98e7322adb0e4c2c3",
    ),
];

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-v1")
}

fn keyring() -> Keyring {
    Keyring::parse(KEYS_TXT, "the fixture keyring").expect("the fixture keyring")
}

/// The plain envelope of `r`: `{"v":V,"c":C,"u":U[,"e":E][,"t":T],"d":DATA}`.
fn plain_envelope(r: &Rec) -> Vec<u8> {
    format!("{},\"d\":{}}}", head(r), r.d).into_bytes()
}

/// The header part of an envelope, without its closing brace.
fn head(r: &Rec) -> String {
    let mut head = format!("{{\"v\":{},\"c\":{},\"u\":{}", r.v, r.c, r.u);
    if let Some(e) = r.e {
        head += &format!(",\"e\":{e}");
    }
    if let Some(t) = r.t {
        head += &format!(",\"t\":{t}");
    }
    head
}

fn raw_header(r: &Rec) -> Header {
    fuzzing::header(r.v, r.c, r.u, r.e, r.t)
}

fn meta(v: u32, c: u64, u: u64, e: Option<u64>) -> Meta {
    let at = |ms| UNIX_EPOCH + Duration::from_millis(ms);
    Meta {
        version: v,
        created_at: at(c),
        updated_at: at(u),
        expires_at: e.map(at),
    }
}

fn rec_meta(r: &Rec) -> Meta {
    meta(r.v, r.c, r.u, r.e)
}

/// The export line of a plain record (or of a sealed one opened):
/// serialized through `serde_json::Value`, so every object's keys sorted.
fn export_line(r: &Rec) -> String {
    let envelope: Value = serde_json::from_slice(&plain_envelope(r)).expect("an envelope");
    format!("{}\n", json!({"key": r.key, "envelope": envelope}))
}

/// The entry bytes of FORMAT.md 1.4.
fn entry_bytes(entry: &Entry) -> Vec<u8> {
    let mut out = vec![entry.kind];
    if let Some((v, c, u, e)) = entry.head {
        out.extend_from_slice(&v.to_be_bytes());
        out.extend_from_slice(&c.to_be_bytes());
        out.extend_from_slice(&u.to_be_bytes());
        out.extend_from_slice(&e.unwrap_or(u64::MAX).to_be_bytes());
    }
    out.extend_from_slice(entry.key.as_bytes());
    out
}

/// The [`Change`] a watcher gives for the entry at `seq`.
fn change(seq: u64, entry: &Entry) -> Change {
    let kind = match entry.kind {
        PUT | CREATE => ChangeKind::Put,
        DELETE => ChangeKind::Delete,
        EXPIRE => ChangeKind::Expire,
        other => panic!("no kind {other}"),
    };
    Change {
        seq,
        kind,
        key: entry.key.to_owned(),
        meta: entry.head.map(|(v, c, u, e)| meta(v, c, u, e)),
        created: entry.kind == CREATE,
    }
}

/// A copy of the committed fixture store `which` (`plain` or `sealed`) in a
/// new temporary directory.
fn copy_of(which: &str) -> tempfile::TempDir {
    copy_at(&fixture(), which)
}

/// A copy of the store `which` of the fixture at `root`.
fn copy_at(root: &Path, which: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = dir.path().join("data.mdb");
    std::fs::copy(root.join(which).join("data.mdb"), &data).expect("copy the fixture");
    // A checkout gives git's 0644; a store must be owner-only.
    #[cfg(unix)]
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    dir
}

fn open(dir: &Path, clock: &ManualClock, keys: Option<Keyring>) -> Store {
    let builder = Store::builder().clock(clock.clone()).sweep_interval(None);
    match keys {
        Some(keys) => builder.encryption(keys),
        None => builder,
    }
    .open_at(dir)
    .expect("open the store")
}

fn open_copy(which: &str, keys: Option<Keyring>) -> (tempfile::TempDir, Store) {
    let dir = copy_of(which);
    let store = open(dir.path(), &ManualClock::at_ms(READ_MS), keys);
    (dir, store)
}

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Every database of the environment in `dir`, opened read-only with heed:
/// the unnamed one under `""`, then `records`, `expiry`, `changes`, `meta`.
fn raw_databases(dir: &Path) -> BTreeMap<&'static str, Pairs> {
    const NAMES: [&str; 5] = ["", "records", "expiry", "changes", "meta"];
    let mut options = heed::EnvOpenOptions::new();
    options.map_size(64 << 20).max_dbs(4);
    // SAFETY: read-only, and no other handle on this copy is open.
    let env = unsafe {
        options.flags(heed::EnvFlags::READ_ONLY);
        options.open(dir)
    }
    .expect("open the copy read-only");
    let rtxn = env.read_txn().expect("read txn");
    let dbs = env
        .open_databases_and_commit(rtxn, |opener, rtxn| {
            let mut dbs = Vec::new();
            for name in NAMES {
                let db = opener
                    .open_database::<Bytes, Bytes>(rtxn, (!name.is_empty()).then_some(name))?
                    .unwrap_or_else(|| panic!("no database {name:?}"));
                dbs.push(db);
            }
            let dbs: [_; 5] = dbs.try_into().expect("five");
            Ok::<_, heed::Error>(heed::CommitOrAbort::<_, ()>::Commit(dbs))
        })
        .expect("open the databases")
        .unwrap_commit();
    let rtxn = env.read_txn().expect("read txn");
    let mut out = BTreeMap::new();
    for (name, db) in NAMES.into_iter().zip(dbs) {
        let pairs = db
            .iter(&rtxn)
            .expect("iterate")
            .map(|kv| {
                let (k, v) = kv.expect("an entry");
                (k.to_vec(), v.to_vec())
            })
            .collect();
        out.insert(name, pairs);
    }
    out
}

fn keys_of(pairs: &Pairs) -> Vec<Vec<u8>> {
    pairs.iter().map(|(k, _)| k.clone()).collect()
}

/// Every change of the store's log, read with `watch_from("", 0)`.
fn log_of(store: &Store) -> Vec<Change> {
    let mut watcher = store.watch_from("", 0).expect("a watcher");
    let mut changes = Vec::new();
    while let Some(item) = watcher.try_next().expect("read the log") {
        match item {
            Watched::Change(change) => changes.push(change),
            Watched::Lagged { .. } => panic!("the fixture's log is not trimmed"),
        }
    }
    changes
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sums_text(sums: &[(&str, String)]) -> String {
    sums.iter()
        .map(|(file, sum)| format!("{sum}  {file}\n"))
        .collect()
}

/// The raw databases of one store against its tables: every key of every
/// database in order, byte for byte, and every value that is not random.
fn check_raw(dir: &Path, records: &[Rec], log: &[Entry], meta: &[(&str, &str)]) {
    let dbs = raw_databases(dir);
    assert_eq!(
        keys_of(&dbs[""]),
        [&b"changes"[..], b"expiry", b"meta", b"records"],
        "the named databases"
    );

    let stored = &dbs["records"];
    let keys: Vec<&str> = records.iter().map(|r| r.key).collect();
    assert!(keys.is_sorted(), "the table is in key order");
    assert_eq!(
        keys_of(stored),
        keys.iter()
            .map(|k| k.as_bytes().to_vec())
            .collect::<Vec<_>>()
    );
    for (r, (_, bytes)) in records.iter().zip(stored) {
        check_envelope(r, bytes);
    }

    let mut expiry: Vec<Vec<u8>> = records
        .iter()
        .filter_map(|r| {
            r.e.map(|e| [&e.to_be_bytes()[..], r.key.as_bytes()].concat())
        })
        .collect();
    expiry.sort();
    assert_eq!(keys_of(&dbs["expiry"]), expiry, "expiry: u64be(e) || key");
    assert!(dbs["expiry"].iter().all(|(_, v)| v.is_empty()));

    let changes: Pairs = log
        .iter()
        .zip(1u64..)
        .map(|(entry, seq)| (seq.to_be_bytes().to_vec(), entry_bytes(entry)))
        .collect();
    assert_eq!(dbs["changes"], changes, "the change log, byte for byte");

    let meta: Pairs = meta
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
    assert_eq!(dbs["meta"], meta);
}

/// One stored envelope against its row: plain ones byte for byte, sealed
/// ones up to the scheme byte, and their length.
fn check_envelope(r: &Rec, bytes: &[u8]) {
    match r.k {
        None => {
            assert_eq!(
                String::from_utf8_lossy(bytes),
                String::from_utf8_lossy(&plain_envelope(r)),
                "{}",
                r.key
            );
            // The fast path takes it, and the header reads back.
            let (header, value) = fuzzing::split(bytes).expect("the fast path");
            assert_eq!(
                (header, value),
                (raw_header(r), r.d.as_bytes()),
                "{}",
                r.key
            );
            assert_eq!(
                fuzzing::decode_header(bytes).expect("a header"),
                raw_header(r)
            );
        }
        Some(id) => {
            let head = format!("{},\"k\":\"{id}\"", head(r));
            let prefix = [head.as_bytes(), b"}\0\x01"].concat();
            assert_eq!(
                String::from_utf8_lossy(&bytes[..prefix.len().min(bytes.len())]),
                String::from_utf8_lossy(&prefix),
                "{}",
                r.key
            );
            // NUL, scheme, salt 16, nonce 12, tag 16.
            assert_eq!(bytes.len(), head.len() + 1 + 46 + r.d.len(), "{}", r.key);
            // The nonce's first four bytes are zero.
            let nonce = &bytes[prefix.len() + 16..prefix.len() + 28];
            assert_eq!(nonce[..4], [0; 4], "{}", r.key);
            assert_eq!(
                fuzzing::split_sealed(bytes),
                Some((raw_header(r), id.to_owned())),
                "{}",
                r.key
            );
        }
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn export(store: &Store, decrypted: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let admin = store.admin();
    let n = if decrypted {
        admin.export_jsonl_decrypted("", &mut out, &mut |_| {})
    } else {
        admin.export_jsonl("", &mut out, &mut |_| {})
    }
    .expect("export");
    assert_eq!(n, out.iter().filter(|&&b| b == b'\n').count());
    out
}

fn lines(records: &[Rec]) -> String {
    records.iter().map(export_line).collect()
}

/// Every check that needs no pinned sum, on the fixture at `root` (the
/// committed one, or the generator's output before it is copied).
fn check_all(root: &Path) {
    check_raw(copy_at(root, "plain").path(), PLAIN, PLAIN_LOG, &[]);
    check_raw(
        copy_at(root, "sealed").path(),
        SEALED,
        SEALED_LOG,
        &[("encrypted", "fx-new")],
    );
    assert_eq!(
        String::from_utf8_lossy(&read(&root.join("plain.jsonl"))),
        lines(PLAIN),
        "plain.jsonl"
    );
    assert_eq!(
        String::from_utf8_lossy(&read(&root.join("sealed/keys.txt"))),
        KEYS_TXT
    );
    // The sealed values are nowhere in clear, in the file or its export.
    for file in ["sealed/data.mdb", "sealed.jsonl"] {
        let bytes = read(&root.join(file));
        for r in SEALED.iter().filter(|r| r.k.is_some()) {
            assert!(
                !bytes.windows(r.d.len()).any(|w| w == r.d.as_bytes()),
                "{file}: {} in clear",
                r.key
            );
        }
    }
}

#[test]
fn fixture_files_are_the_committed_ones() {
    let root = fixture();
    let sums: Vec<(&str, String)> = SUMS
        .iter()
        .map(|(file, _)| (*file, sha256_hex(&read(&root.join(file)))))
        .collect();
    let pinned: Vec<(&str, String)> = SUMS
        .iter()
        .map(|(file, sum)| (*file, (*sum).to_owned()))
        .collect();
    assert_eq!(
        sums, pinned,
        "the format-1 fixture changed: it must never be regenerated"
    );
    assert_eq!(
        String::from_utf8_lossy(&read(&root.join("SHA256SUMS"))),
        sums_text(&pinned)
    );
    let total: u64 = SUMS
        .iter()
        .map(|(file, _)| std::fs::metadata(root.join(file)).map_or(0, |m| m.len()))
        .sum();
    assert!(total < 200_000, "the fixture stays small: {total} bytes");
}

#[test]
fn raw_databases_and_exports_are_as_format_1_wrote_them() {
    check_all(&fixture());
}

#[test]
fn the_plain_store_reads_back() {
    let (_dir, store) = open_copy("plain", None);
    let admin = store.admin();
    assert_eq!(
        admin.raw_keys("").expect("keys"),
        PLAIN.iter().map(|r| r.key).collect::<Vec<_>>()
    );
    for r in PLAIN {
        let raw = admin.get_raw(r.key).expect("get_raw").expect("stored");
        assert_eq!(
            String::from_utf8_lossy(&raw),
            String::from_utf8_lossy(&plain_envelope(r))
        );
    }
    // Today's rendering of each key is the stored one.
    let doc = Doc {
        owner: "a/b%c".into(),
        name: "x-y".into(),
        body: "second draft".into(),
    };
    let scope = Scope::new(SCOPE).expect("a scope");
    assert_eq!(scope.key_prefix(), "@a%2Fb%25c/");
    let note = Note {
        title: "first".into(),
        text: "mine".into(),
    };
    assert_eq!(doc.record_key(None).expect("a key").as_str(), DOC);
    assert_eq!(note.record_key(Some(&scope)).expect("a key").as_str(), NOTE);

    let row = |key: &str| PLAIN.iter().find(|r| r.key == key).expect("a row");
    assert_eq!(
        Settings::load_with_meta(&store).blocking().expect("load"),
        Some(mcp_persist::Stored {
            value: Settings {
                theme: "dark".into(),
                limit: 7
            },
            meta: rec_meta(row("fx_settings:settings")),
        })
    );
    let stored = Doc::load_with_meta(&store, "a/b%c", "x-y")
        .blocking()
        .expect("load")
        .expect("stored");
    assert_eq!(stored.value, doc);
    assert_eq!(stored.meta, meta(1, W, W + 10, None), "created != updated");
    for (id, user) in [("s1", "emma"), ("s2", "anne"), ("s3", "fanny")] {
        let stored = Session::load_with_meta(&store, id)
            .blocking()
            .expect("load")
            .expect("stored");
        assert_eq!(
            stored.value,
            Session {
                id: id.into(),
                user: user.into()
            }
        );
        assert_eq!(
            stored.meta,
            rec_meta(row(&format!("fx_session:session/{id}")))
        );
    }
    let events: Vec<String> = Event::recent(&store, 10)
        .blocking()
        .expect("recent")
        .into_iter()
        .map(|e| e.what)
        .collect();
    assert_eq!(events, ["third", "second", "first"], "newest first");
    assert_eq!(
        Profile::load_with_meta(&store, "p1")
            .blocking()
            .expect("load")
            .map(|s| (s.value, s.meta.version)),
        Some((
            Profile {
                id: "p1".into(),
                first: "Ada".into(),
                last: "Lovelace".into()
            },
            3
        ))
    );
    assert_eq!(
        admin.get_envelope("fx_raw:raw/1").expect("get"),
        Some(json!({"v": 1, "c": W + 10, "u": W + 10, "t": 0, "d": {"a": "x", "b": [1, 2]}}))
    );

    // The per-user record: only through its scope.
    let mine = store.scoped(&scope);
    assert_eq!(
        Note::load(&mine, "first").blocking().expect("load"),
        Some(note.clone())
    );
    assert_eq!(Note::list(&mine).blocking().expect("list"), [note]);
    let other = store.scoped(&Scope::new("a").expect("a scope"));
    assert_eq!(Note::load(&other, "first").blocking().expect("load"), None);
    assert!(Note::list(&other).blocking().expect("list").is_empty());

    // Deleted, swept, and expired but not swept: none loads; the last is stored.
    for id in ["gone", "swept", "stale"] {
        assert_eq!(
            Temp::load(&store, id).blocking().expect("load"),
            None,
            "{id}"
        );
    }
    assert_eq!(store.expired_pending().expect("pending"), 1);
    assert!(
        admin
            .raw_keys("fx_temp:")
            .expect("keys")
            .contains(&"fx_temp:temp/stale".to_owned())
    );
}

#[test]
fn the_change_logs_read_back() {
    for (which, log) in [("plain", PLAIN_LOG), ("sealed", SEALED_LOG)] {
        let (_dir, store) = open_copy(which, None);
        let expected: Vec<Change> = log
            .iter()
            .zip(1u64..)
            .map(|(entry, seq)| change(seq, entry))
            .collect();
        assert_eq!(log_of(&store), expected, "{which}");
    }
    // Every kind of entry is in the plain log.
    for kind in [PUT, DELETE, EXPIRE, CREATE] {
        assert!(PLAIN_LOG.iter().any(|e| e.kind == kind), "kind {kind}");
    }
}

#[test]
fn the_sealed_store_opens_with_the_committed_keyring_only() {
    let keys = Keyring::parse(
        &String::from_utf8_lossy(&read(&fixture().join("sealed/keys.txt"))),
        "sealed/keys.txt",
    )
    .expect("the committed keyring");
    assert_eq!(keys.ids(), ["fx-new", "fx-old"]);
    let (_dir, store) = open_copy("sealed", Some(keys));
    // Both key ids open; opened, each record is the row's plain envelope.
    for r in SEALED {
        let raw = store
            .admin()
            .get_raw(r.key)
            .expect("get_raw")
            .expect("stored");
        assert_eq!(
            String::from_utf8_lossy(&raw),
            String::from_utf8_lossy(&plain_envelope(r))
        );
    }
    assert_eq!(
        String::from_utf8_lossy(&export(&store, true)),
        lines(SEALED),
        "the decrypted export"
    );
    let secret = |id: &str, text: &str| Secret {
        id: id.into(),
        text: text.into(),
    };
    for (id, text) in [
        ("plain", "before any key"),
        ("old", "sealed under fx-old"),
        ("new", "sealed under fx-new"),
    ] {
        let row = SEALED
            .iter()
            .find(|r| r.key == format!("fx_secret:secret/{id}"))
            .expect("a row");
        let stored = Secret::load_with_meta(&store, id)
            .blocking()
            .expect("load")
            .expect("stored");
        assert_eq!(
            (stored.value, stored.meta),
            (secret(id, text), rec_meta(row))
        );
    }
    let scoped = store.scoped(&Scope::new(SCOPE).expect("a scope"));
    assert_eq!(
        Note::load(&scoped, "first").blocking().expect("load"),
        Some(Note {
            title: "first".into(),
            text: "sealed".into()
        })
    );
    assert_eq!(
        store.admin().stats().expect("stats").sealed,
        BTreeMap::from([("fx-new".to_owned(), 2), ("fx-old".to_owned(), 1)])
    );
    drop(store);

    // Without keys: the plain record reads, the sealed ones fail clearly.
    let (_dir, store) = open_copy("sealed", None);
    assert_eq!(
        Secret::load(&store, "plain").blocking().expect("load"),
        Some(secret("plain", "before any key"))
    );
    for (id, key_id) in [("old", "fx-old"), ("new", "fx-new")] {
        let err = Secret::load(&store, id).blocking().unwrap_err();
        assert!(
            matches!(&err, Error::Decrypt { key_id: k, .. } if k == key_id),
            "{err:?}"
        );
        assert!(err.to_string().contains("opened without keys"), "{err}");
        let raw = store.admin().get_raw(&format!("fx_secret:secret/{id}"));
        assert!(matches!(raw, Err(Error::Decrypt { .. })), "{raw:?}");
    }
    drop(store);

    // With the new key only, the record sealed under the old one fails.
    let only_new = Keyring::parse(
        KEYS_TXT
            .lines()
            .find(|l| l.starts_with("fx-new:"))
            .expect("fx-new"),
        "fx-new only",
    )
    .expect("one key");
    let (_dir, store) = open_copy("sealed", Some(only_new));
    let err = Secret::load(&store, "old").blocking().unwrap_err();
    assert!(
        matches!(&err, Error::Decrypt { key_id, .. } if key_id == "fx-old"),
        "{err:?}"
    );
    assert!(err.to_string().contains("no key with this id"), "{err}");
    assert!(
        Secret::load(&store, "new")
            .blocking()
            .expect("load")
            .is_some()
    );
}

/// The v1 AAD binds the stored key and the header in clear: moved, or with
/// one digit of `e` changed, a sealed record does not open.
#[test]
fn a_sealed_record_moved_or_with_its_expiry_changed_does_not_open() {
    let dir = copy_of("sealed");
    {
        let (env, db) = raw_lmdb::raw_records(dir.path());
        let mut wtxn = env.write_txn().expect("write txn");
        let old = db
            .get(&wtxn, b"fx_secret:secret/old")
            .expect("get")
            .expect("stored")
            .to_vec();
        db.put(&mut wtxn, b"fx_secret:secret/moved", &old)
            .expect("put");
        let mut new = db
            .get(&wtxn, b"fx_secret:secret/new")
            .expect("get")
            .expect("stored")
            .to_vec();
        let e = format!(",\"e\":{}", W + 20 + HOUR);
        let at = new
            .windows(e.len())
            .position(|w| w == e.as_bytes())
            .expect("the expiry in clear")
            + e.len()
            - 1;
        new[at] = if new[at] == b'9' { b'8' } else { new[at] + 1 };
        db.put(&mut wtxn, b"fx_secret:secret/new", &new)
            .expect("put");
        wtxn.commit().expect("commit");
    }
    let store = open(dir.path(), &ManualClock::at_ms(READ_MS), Some(keyring()));
    for (id, key_id) in [("moved", "fx-old"), ("new", "fx-new")] {
        let err = Secret::load(&store, id).blocking().unwrap_err();
        assert!(
            matches!(&err, Error::Decrypt { key_id: k, .. } if k == key_id),
            "{id}: {err:?}"
        );
    }
    assert!(
        Secret::load(&store, "old")
            .blocking()
            .expect("load")
            .is_some(),
        "the original still opens"
    );
}

#[test]
fn the_exports_are_what_a_fresh_export_writes_and_import_back() {
    let keys = keyring();
    for (which, records, keys) in [("plain", PLAIN, None), ("sealed", SEALED, Some(keys))] {
        let committed = read(&fixture().join(format!("{which}.jsonl")));
        let (_dir, store) = open_copy(which, keys.clone());
        assert_eq!(
            String::from_utf8_lossy(&export(&store, false)),
            String::from_utf8_lossy(&committed),
            "{which}.jsonl"
        );

        // Into a fresh store (with the same keys): added, and the same
        // records come out (sealed ones opened).
        let other = tempfile::tempdir().expect("a temp dir");
        let fresh = open(other.path(), &ManualClock::at_ms(READ_MS), keys.clone());
        let report = fresh
            .admin()
            .import_jsonl(&mut &committed[..], false)
            .expect("import");
        assert_eq!(
            report,
            ImportReport {
                added: records.len(),
                replaced: 0,
                unchanged: 0
            },
            "{which}"
        );
        assert_eq!(
            String::from_utf8_lossy(&export(&fresh, true)),
            lines(records),
            "{which} imported"
        );
    }

    // Sealed lines: the key id, and `x` = every byte after `}\0` as stored.
    let copy = copy_of("sealed");
    let stored = raw_databases(copy.path())
        .remove("records")
        .expect("records");
    let committed = read(&fixture().join("sealed.jsonl"));
    let text = String::from_utf8_lossy(&committed);
    assert_eq!(text.lines().count(), SEALED.len());
    for ((line, r), (key, stored)) in text.lines().zip(SEALED).zip(&stored) {
        let line: Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(line["key"], r.key);
        assert_eq!(key, r.key.as_bytes());
        let envelope = &line["envelope"];
        match r.k {
            None => assert_eq!(
                line,
                serde_json::from_str::<Value>(&export_line(r)).expect("json")
            ),
            Some(id) => {
                assert_eq!(envelope["k"], id);
                assert!(envelope.get("d").is_none(), "no value in clear");
                let x = base64::engine::general_purpose::STANDARD
                    .decode(envelope["x"].as_str().expect("x"))
                    .expect("base64");
                let at = stored.iter().position(|&b| b == 0).expect("a NUL");
                assert_eq!(x, stored[at + 1..], "{}", r.key);
                for (field, value) in [
                    ("v", Some(r.v.into())),
                    ("c", Some(r.c)),
                    ("u", Some(r.u)),
                    ("e", r.e),
                    ("t", r.t),
                ] {
                    assert_eq!(
                        envelope.get(field).and_then(Value::as_u64),
                        value,
                        "{} {field}",
                        r.key
                    );
                }
            }
        }
    }

    // Without keys, the sealed export does not import, and nothing is written.
    let other = tempfile::tempdir().expect("a temp dir");
    let keyless = open(other.path(), &ManualClock::at_ms(READ_MS), None);
    let refused = keyless.admin().import_jsonl(&mut &committed[..], false);
    assert!(matches!(refused, Err(Error::Decrypt { .. })), "{refused:?}");
    assert!(keyless.admin().raw_keys("").expect("keys").is_empty());
}

/// Writes a new fixture into the empty or new directory `FIXTURE_OUT`:
/// `FIXTURE_OUT=/tmp/fx cargo test -p mcp-persist --test format_v1 -- --ignored generate`.
/// The committed fixture is never regenerated (see the module).
#[test]
#[ignore = "writes a new fixture into a temp dir; copy it into tests/fixtures/format-v1 only on purpose"]
fn generate_fixture() {
    let out = PathBuf::from(
        std::env::var_os("FIXTURE_OUT").expect("FIXTURE_OUT: a new directory to write into"),
    );
    if out.exists() {
        assert!(
            std::fs::read_dir(&out)
                .expect("read FIXTURE_OUT")
                .next()
                .is_none(),
            "FIXTURE_OUT must be empty or not exist: {}",
            out.display()
        );
    }
    std::fs::create_dir_all(&out).expect("create FIXTURE_OUT");
    let committed = fixture().canonicalize().ok();
    assert!(
        committed.is_none() || out.canonicalize().ok() != committed,
        "never over the committed fixture"
    );
    let work = tempfile::tempdir().expect("a temp dir");

    // plain/
    let clock = ManualClock::at_ms(W);
    let store = open(&work.path().join("plain"), &clock, None);
    Settings {
        theme: "dark".into(),
        limit: 7,
    }
    .save(&store)
    .blocking()
    .expect("save");
    Doc {
        owner: "a/b%c".into(),
        name: "x-y".into(),
        body: "first draft".into(),
    }
    .save(&store)
    .blocking()
    .expect("save");
    clock.advance(Duration::from_millis(10));
    Doc::update(&store, "a/b%c", "x-y", |d| d.body = "second draft".into())
        .blocking()
        .expect("update");
    let session = |id: &str, user: &str| Session {
        id: id.into(),
        user: user.into(),
    };
    session("s1", "emma").save(&store).blocking().expect("save");
    session("s2", "anne")
        .save(&store)
        .ttl(Ttl::After(Duration::from_millis(HOUR)))
        .blocking()
        .expect("save");
    session("s3", "fanny")
        .save(&store)
        .ttl(Ttl::Never)
        .blocking()
        .expect("save");
    for what in ["first", "second"] {
        Event { what: what.into() }
            .push(&store)
            .blocking()
            .expect("push");
    }
    Event {
        what: "third".into(),
    }
    .push(&store)
    .ttl(Ttl::After(Duration::from_millis(HOUR)))
    .blocking()
    .expect("push");
    Note {
        title: "first".into(),
        text: "mine".into(),
    }
    .save(&store.scoped(&Scope::new(SCOPE).expect("a scope")))
    .blocking()
    .expect("save");
    Profile {
        id: "p1".into(),
        first: "Ada".into(),
        last: "Lovelace".into(),
    }
    .save(&store)
    .blocking()
    .expect("save");
    store
        .admin()
        .put_json(
            "fx_raw:raw/1",
            &json!({"a": "x", "b": [1, 2]}),
            mcp_persist::Ttl::Never,
        )
        .expect("put_json");
    let temp = |id: &str| Temp { id: id.into() };
    temp("gone").save(&store).blocking().expect("save");
    assert!(Temp::delete(&store, "gone").blocking().expect("delete"));
    temp("swept")
        .save(&store)
        .ttl(Ttl::After(Duration::from_millis(1)))
        .blocking()
        .expect("save");
    clock.advance(Duration::from_millis(10));
    assert_eq!(store.sweep_expired().blocking().expect("sweep"), 1);
    temp("stale")
        .save(&store)
        .ttl(Ttl::After(Duration::from_millis(1)))
        .blocking()
        .expect("save");
    store.admin().backup_to(&out.join("plain")).expect("backup");
    std::fs::write(out.join("plain.jsonl"), export(&store, false)).expect("write");
    drop(store);

    // sealed/
    let dir = work.path().join("sealed");
    let clock = ManualClock::at_ms(W);
    let secret = |id: &str, text: &str| Secret {
        id: id.into(),
        text: text.into(),
    };
    let store = open(&dir, &clock, None);
    secret("plain", "before any key")
        .save(&store)
        .blocking()
        .expect("save");
    drop(store);
    clock.advance(Duration::from_millis(10));
    let only_old = Keyring::parse(
        KEYS_TXT
            .lines()
            .find(|l| l.starts_with("fx-old:"))
            .expect("fx-old"),
        "fx-old only",
    )
    .expect("one key");
    let store = open(&dir, &clock, Some(only_old));
    secret("old", "sealed under fx-old")
        .save(&store)
        .blocking()
        .expect("save");
    drop(store);
    clock.advance(Duration::from_millis(10));
    let store = open(&dir, &clock, Some(keyring()));
    secret("new", "sealed under fx-new")
        .save(&store)
        .ttl(Ttl::After(Duration::from_millis(HOUR)))
        .blocking()
        .expect("save");
    Note {
        title: "first".into(),
        text: "sealed".into(),
    }
    .save(&store.scoped(&Scope::new(SCOPE).expect("a scope")))
    .blocking()
    .expect("save");
    store
        .admin()
        .backup_to(&out.join("sealed"))
        .expect("backup");
    std::fs::write(out.join("sealed/keys.txt"), KEYS_TXT).expect("write");
    std::fs::write(out.join("sealed.jsonl"), export(&store, false)).expect("write");
    drop(store);

    let sums: Vec<(&str, String)> = SUMS
        .iter()
        .map(|(file, _)| (*file, sha256_hex(&read(&out.join(file)))))
        .collect();
    std::fs::write(out.join("SHA256SUMS"), sums_text(&sums)).expect("write");
    // What the read tests check, on the new files.
    check_all(&out);
    for (file, sum) in &sums {
        println!("    (\"{file}\", \"{sum}\"),");
    }
}

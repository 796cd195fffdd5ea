//! A store written by an earlier build (`tests/fixtures/store-v1/data.mdb`)
//! still reads: same keys byte for byte (escapes included), same values, the
//! TTL and the migration of an older schema version honoured.
//!
//! The fixture is opened from a copy in a temp dir, never in place (a read
//! of a migrated record writes it back). `regenerate_fixture` (ignored)
//! rewrites it; do that only when the on-disk format is meant to change.

use std::path::PathBuf;
use std::time::Duration;

use mcp_persist::{ManualClock, Persisted, Store, persisted};

/// A singleton.
#[persisted(key = "settings", namespace = "fx_settings")]
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub theme: String,
    pub limit: u32,
}

/// Keyed by two fields; `/`, `%` and `-` (the literal after `owner`) are escaped.
#[persisted(key = "doc/{owner}-{name}", namespace = "fx_doc")]
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub owner: String,
    pub name: String,
    pub body: String,
}

/// A literal starting with a character of several bytes; a numeric key field.
#[persisted(key = "pair/{a}é{n}.json", namespace = "fx_pair")]
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub a: String,
    pub n: u32,
}

/// Expires a century after each write (the fixture is read long before).
#[persisted(key = "session/{id}", namespace = "fx_session", ttl = "36500d")]
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub user: String,
}

/// A bounded list.
#[persisted(key = "events", namespace = "fx_events", list, max_len = 10)]
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub what: String,
}

mod v1 {
    use mcp_persist::persisted;

    /// Version 1 of a profile: one name (the fixture holds one).
    #[persisted(key = "profile/{id}", namespace = "fx_profile")]
    #[derive(Debug, Clone, PartialEq)]
    pub struct Profile {
        pub id: String,
        pub name: String,
    }
}

mod v2 {
    use mcp_persist::persisted;
    use serde_json::Value;

    /// Version 2: the name is split; version 1 records are migrated on read.
    #[persisted(key = "profile/{id}", namespace = "fx_profile", version = 2, migrate = upgrade)]
    #[derive(Debug, Clone, PartialEq)]
    pub struct Profile {
        pub id: String,
        pub first: String,
        pub last: String,
    }

    pub fn upgrade(mut value: Value, _from: u32) -> Result<Value, String> {
        let name = value["name"].as_str().ok_or("no name")?.to_owned();
        let (first, last) = name.split_once(' ').unwrap_or((&name, ""));
        value["first"] = first.into();
        value["last"] = last.into();
        Ok(value)
    }
}

/// When the fixture's records were written (2026-09-21T14:13:20Z), in ms.
const WRITTEN_MS: u64 = 1_790_000_000_000;

fn settings() -> Settings {
    Settings {
        theme: "dark".into(),
        limit: 7,
    }
}

fn doc() -> Doc {
    Doc {
        owner: "a/b%c".into(),
        name: "x-y".into(),
        body: "hello".into(),
    }
}

fn pair() -> Pair {
    Pair {
        a: "xé.json".into(),
        n: 42,
    }
}

fn session() -> Session {
    Session {
        id: "s1".into(),
        user: "emma".into(),
    }
}

fn events() -> Vec<Event> {
    ["first", "second", "third"]
        .into_iter()
        .map(|what| Event { what: what.into() })
        .collect()
}

fn profile_v1() -> v1::Profile {
    v1::Profile {
        id: "p/1".into(),
        name: "Ada Lovelace".into(),
    }
}

/// Every key of the fixture, in key order, byte for byte.
const KEYS: &[&str] = &[
    "fx_doc:doc/a%2Fb%25c-x%2Dy",
    "fx_events:events/0000000000000000",
    "fx_events:events/0000000000000001",
    "fx_events:events/0000000000000002",
    "fx_pair:pair/x%C3%A9%2Ejsoné42.json",
    "fx_profile:profile/p%2F1",
    "fx_session:session/s1",
    "fx_settings:settings",
];

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1/data.mdb")
}

#[test]
fn a_store_written_by_the_first_format_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.mdb");
    std::fs::copy(fixture(), &data).unwrap();
    // A checkout gives the fixture git's 0644; a store must be owner-only.
    #[cfg(unix)]
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let store = Store::builder()
        .clock(ManualClock::at_ms(WRITTEN_MS + 1_000))
        .sweep_interval(None)
        .open_at(dir.path())
        .unwrap();

    assert_eq!(store.admin().raw_keys("").unwrap(), KEYS);
    // Today's rendering of each key is the stored one.
    assert_eq!(settings().record_key(None).unwrap().as_str(), KEYS[7]);
    assert_eq!(doc().record_key(None).unwrap().as_str(), KEYS[0]);
    assert_eq!(pair().record_key(None).unwrap().as_str(), KEYS[4]);
    assert_eq!(session().record_key(None).unwrap().as_str(), KEYS[6]);
    assert_eq!(
        v2::Profile {
            id: "p/1".into(),
            first: String::new(),
            last: String::new()
        }
        .record_key(None)
        .unwrap()
        .as_str(),
        KEYS[5]
    );

    assert_eq!(Settings::load(&store).blocking().unwrap(), Some(settings()));
    assert_eq!(
        Doc::load(&store, "a/b%c", "x-y").blocking().unwrap(),
        Some(doc())
    );
    assert_eq!(Doc::list(&store).blocking().unwrap(), vec![doc()]);
    let page = Doc::list_page(
        &store,
        mcp_persist::ListOptions {
            prefix: Some("a/b".into()),
            ..Default::default()
        },
    )
    .blocking()
    .unwrap();
    assert_eq!(
        page.items.len(),
        1,
        "the search prefix is escaped as before"
    );
    assert_eq!(
        Pair::load(&store, "xé.json", 42).blocking().unwrap(),
        Some(pair())
    );
    assert!(Pair::exists(&store, "xé.json", 42).blocking().unwrap());

    let stored = Session::load_with_meta(&store, "s1")
        .blocking()
        .unwrap()
        .unwrap();
    assert_eq!(stored.value, session());
    let expires = stored.meta.expires_at.unwrap();
    assert_eq!(
        expires.duration_since(stored.meta.updated_at).unwrap(),
        Duration::from_secs(36_500 * 86_400)
    );

    let mut newest_first = events();
    newest_first.reverse();
    assert_eq!(Event::recent(&store, 10).blocking().unwrap(), newest_first);

    // The envelopes themselves are as the first format wrote them.
    let raw = store.admin().get_raw(KEYS[7]).unwrap().unwrap();
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        format!(
            "{{\"v\":1,\"c\":{WRITTEN_MS},\"u\":{WRITTEN_MS},\
             \"d\":{{\"theme\":\"dark\",\"limit\":7}}}}"
        )
    );

    // Version 1 record, read as version 2: migrated (and written back).
    assert_eq!(
        v2::Profile::load(&store, "p/1").blocking().unwrap(),
        Some(v2::Profile {
            id: "p/1".into(),
            first: "Ada".into(),
            last: "Lovelace".into(),
        })
    );
}

/// Rewrites the fixture with the code of this build:
/// `cargo test -p mcp-persist --test fixture_store -- --ignored regenerate`.
#[test]
#[ignore = "rewrites tests/fixtures/store-v1; run only to change the on-disk format on purpose"]
fn regenerate_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::builder()
        .clock(ManualClock::at_ms(WRITTEN_MS))
        .sweep_interval(None)
        .open_at(dir.path().join("store"))
        .unwrap();
    settings().save(&store).blocking().unwrap();
    doc().save(&store).blocking().unwrap();
    pair().save(&store).blocking().unwrap();
    session().save(&store).blocking().unwrap();
    for event in events() {
        event.push(&store).blocking().unwrap();
    }
    profile_v1().save(&store).blocking().unwrap();
    assert_eq!(store.admin().raw_keys("").unwrap(), KEYS);
    // A compacted copy: the smallest file that holds it.
    let copy = dir.path().join("copy");
    store.admin().backup_to(&copy).unwrap();
    let target = fixture();
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(copy.join("data.mdb"), &target).unwrap();
}

//! Schema evolution: migrations on read (written back), added fields with
//! defaults, records from newer versions and records that do not decode.

mod common;

use mcp_persist::{Error, Store};
use serde_json::{Value, json};

mod v1 {
    use mcp_persist::persisted;

    /// Version 1: one name.
    #[persisted(key = "profile/{id}", namespace = "profile")]
    #[derive(Debug, Clone, PartialEq)]
    pub struct Profile {
        pub id: String,
        pub name: String,
    }
}

mod v1_with_default {
    use mcp_persist::persisted;

    /// Still version 1: a field added with a default needs no migration.
    #[persisted(key = "profile/{id}", namespace = "profile")]
    #[derive(Debug, Clone, PartialEq)]
    pub struct Profile {
        pub id: String,
        pub name: String,
        #[serde(default)]
        pub nickname: Option<String>,
    }
}

mod v2 {
    use mcp_persist::persisted;
    use serde_json::Value;

    /// Version 2: the name is split.
    #[persisted(key = "profile/{id}", namespace = "profile", version = 2, migrate = upgrade)]
    #[derive(Debug, Clone, PartialEq)]
    pub struct Profile {
        pub id: String,
        pub first: String,
        pub last: String,
    }

    pub fn upgrade(mut value: Value, from: u32) -> Result<Value, String> {
        assert_eq!(from, 1, "only version 1 exists before this one");
        let name = value["name"]
            .as_str()
            .ok_or("no `name` in a version 1 profile")?
            .to_owned();
        if name == "refuse" {
            return Err("cannot split this name".into());
        }
        let (first, last) = name.split_once(' ').unwrap_or((&name, ""));
        value["first"] = first.into();
        value["last"] = last.into();
        Ok(value)
    }
}

mod incompatible {
    use mcp_persist::persisted;

    /// Same key, same version, a field of another type.
    #[persisted(key = "profile/{id}", namespace = "profile")]
    #[derive(Debug)]
    pub struct Profile {
        pub id: String,
        pub name: u64,
    }
}

fn raw(store: &Store, id: &str) -> Value {
    let bytes = store
        .admin()
        .get_raw(&format!("profile:profile/{id}"))
        .unwrap()
        .expect("stored");
    serde_json::from_slice(&bytes).unwrap()
}

fn write_v1(store: &Store, id: &str, name: &str) {
    v1::Profile {
        id: id.into(),
        name: name.into(),
    }
    .save(store)
    .blocking()
    .unwrap();
}

fn write_v1_result(store: &Store, id: &str) -> Result<(), Error> {
    v1::Profile {
        id: id.into(),
        name: "old".into(),
    }
    .save(store)
    .blocking()
}

on_each_backend! {
    #[test]
    fn older_records_are_migrated_on_read_and_written_back() {
        let (_keep, store, _clock) = disk_store();
        write_v1(&store, "ada", "Ada Lovelace");
        assert_eq!(raw(&store, "ada")["v"], json!(1));

        let loaded = v2::Profile::load(&store, "ada")
            .blocking()
            .unwrap()
            .unwrap();
        assert_eq!(
            (loaded.first.as_str(), loaded.last.as_str()),
            ("Ada", "Lovelace")
        );
        // The write-back is queued behind the read; any later write waits for it.
        store.sweep_expired().blocking().unwrap();
        let stored = raw(&store, "ada");
        assert_eq!(stored["v"], json!(2));
        assert_eq!(stored["d"]["first"], json!("Ada"));

        // Listing migrates too.
        write_v1(&store, "alan", "Alan Turing");
        let all = v2::Profile::list(&store).blocking().unwrap();
        assert_eq!(all.len(), 2);
        store.sweep_expired().blocking().unwrap();
        assert_eq!(raw(&store, "alan")["v"], json!(2));
    }

    #[test]
    fn updates_migrate_in_the_same_transaction() {
        let (_keep, store, _clock) = disk_store();
        write_v1(&store, "grace", "Grace Hopper");
        let updated = v2::Profile::update(&store, "grace", |p| p.last = "Murray Hopper".into())
            .blocking()
            .unwrap()
            .unwrap();
        assert_eq!(updated.first, "Grace");
        assert_eq!(raw(&store, "grace")["v"], json!(2));
        assert_eq!(raw(&store, "grace")["d"]["last"], json!("Murray Hopper"));
    }

    #[test]
    fn a_field_added_with_a_default_needs_no_migration() {
        let (_keep, store, _clock) = disk_store();
        write_v1(&store, "x", "X");
        let p = v1_with_default::Profile::load(&store, "x")
            .blocking()
            .unwrap()
            .unwrap();
        assert_eq!(p.nickname, None);
    }

    #[test]
    fn a_failed_migration_is_an_error_and_keeps_the_record() {
        let (_keep, store, _clock) = disk_store();
        write_v1(&store, "r", "refuse");
        let before = store.admin().get_raw("profile:profile/r").unwrap();
        let err = v2::Profile::load(&store, "r").blocking().unwrap_err();
        assert!(
            matches!(err, Error::Migration { from: 1, to: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("cannot split this name"), "{err}");
        let err = v2::Profile::update(&store, "r", |_| {})
            .blocking()
            .unwrap_err();
        assert!(matches!(err, Error::Migration { .. }), "{err}");
        assert_eq!(store.admin().get_raw("profile:profile/r").unwrap(), before);
    }

    #[test]
    fn records_of_a_newer_version_are_refused_and_untouched() {
        let (_keep, store, _clock) = disk_store();
        v2::Profile {
            id: "n".into(),
            first: "New".into(),
            last: "Er".into(),
        }
        .save(&store)
        .blocking()
        .unwrap();
        let before = store.admin().get_raw("profile:profile/n").unwrap();
        let err = v1::Profile::load(&store, "n").blocking().unwrap_err();
        assert!(
            matches!(
                err,
                Error::NewerVersion {
                    stored: 2,
                    supported: 1,
                    ..
                }
            ),
            "{err}"
        );
        // An old server must not overwrite what a newer one wrote.
        let err = write_v1_result(&store, "n");
        assert!(matches!(err, Err(Error::NewerVersion { .. })), "{err:?}");
        let err = v1::Profile::update(&store, "n", |p| p.name.push('!'))
            .blocking()
            .unwrap_err();
        assert!(matches!(err, Error::NewerVersion { .. }), "{err}");
        assert_eq!(store.admin().get_raw("profile:profile/n").unwrap(), before);
    }

    #[test]
    fn a_record_that_does_not_decode_is_an_error_naming_key_and_type_and_is_kept() {
        let (_keep, store, _clock) = disk_store();
        write_v1(&store, "bad", "not a number");
        let before = store
            .admin()
            .get_raw("profile:profile/bad")
            .unwrap()
            .unwrap();
        let err = incompatible::Profile::load(&store, "bad")
            .blocking()
            .unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("profile:profile/bad") && message.contains("Profile"),
            "{message}"
        );
        assert!(incompatible::Profile::list(&store).blocking().is_err());
        // Still there, byte for byte, and exportable raw.
        assert_eq!(
            store
                .admin()
                .get_raw("profile:profile/bad")
                .unwrap()
                .unwrap(),
            before
        );
        assert_eq!(
            store.admin().raw_keys("profile:").unwrap(),
            ["profile:profile/bad"]
        );
        let exported: Value = serde_json::from_slice(&before).unwrap();
        assert_eq!(exported["d"]["name"], json!("not a number"));
    }
}

//! Per-user records (`scope = "user"`): every accessor of every kind reaches
//! the given user's records only, on disk.

mod common;

use std::time::Duration;

use mcp_persist::admin::split_key;
use mcp_persist::{Error, ListOptions, Persisted, Scope, ScopedStore, Store, persisted};

/// A note, kept per user.
#[persisted(key = "notes/{title}", scope = "user", ttl = "1h")]
#[derive(Debug, Clone, PartialEq)]
struct Note {
    title: String,
    text: String,
}

/// A user's settings.
#[persisted(key = "settings", scope = "user")]
#[derive(Debug, Clone, PartialEq, Default)]
struct Settings {
    dark: bool,
    visits: u32,
}

/// What a user looked at, the newest 3.
#[persisted(key = "history", list, max_len = 3, scope = "user")]
#[derive(Debug, Clone, PartialEq)]
struct Visit {
    page: String,
}

/// Shared by everyone, next to the per-user types.
#[persisted(key = "notes/{title}")]
#[derive(Debug, Clone, PartialEq)]
struct Announcement {
    title: String,
    text: String,
}

fn note(title: &str, text: &str) -> Note {
    Note {
        title: title.into(),
        text: text.into(),
    }
}

fn user(store: &Store, name: &str) -> ScopedStore {
    store.scoped(&Scope::new(name).unwrap())
}

#[test]
fn a_per_user_key_needs_a_scope() {
    let err = note("a", "").record_key(None).unwrap_err();
    assert!(matches!(err, Error::NoScope { type_name: "Note" }), "{err}");
    assert!(err.to_string().contains("store.scoped(&scope)"), "{err}");
    let alice = Scope::new("alice").unwrap();
    assert_eq!(
        note("a", "").record_key(Some(&alice)).unwrap().as_str(),
        "@alice/note:notes/a"
    );
}

/// Every stored key with its raw envelope bytes.
fn snapshot(store: &Store) -> Vec<(String, Vec<u8>)> {
    let admin = store.admin();
    let keys = admin.raw_keys("").unwrap();
    keys.into_iter()
        .map(|k| {
            let bytes = admin.get_raw(&k).unwrap().unwrap();
            (k, bytes)
        })
        .collect()
}

on_each_backend! {
    #[test]
    fn keyed_records_are_per_user() {
        let (_dir, store, _clock) = disk_store();
        let (alice, bob) = (user(&store, "alice"), user(&store, "bob"));
        note("todo", "milk").save(&alice).blocking().unwrap();
        note("todo", "bread").save(&bob).blocking().unwrap();
        note("trip", "rome").save(&alice).blocking().unwrap();
        Announcement {
            title: "todo".into(),
            text: "everyone".into(),
        }
        .save(&store)
        .blocking()
        .unwrap();

        assert_eq!(
            Note::load(&alice, "todo").blocking().unwrap(),
            Some(note("todo", "milk"))
        );
        assert_eq!(
            Note::load(&bob, "todo").blocking().unwrap(),
            Some(note("todo", "bread"))
        );
        assert!(!Note::exists(&bob, "trip").blocking().unwrap());
        assert_eq!(Note::list(&alice).blocking().unwrap().len(), 2);
        assert_eq!(
            Note::list(&bob).blocking().unwrap(),
            [note("todo", "bread")]
        );

        // Bob's update and delete of a title only Alice has do nothing.
        assert_eq!(
            Note::update(&bob, "trip", |n| n.text = "x".into())
                .blocking()
                .unwrap(),
            None
        );
        assert!(!Note::delete(&bob, "trip").blocking().unwrap());
        assert!(Note::delete(&bob, "todo").blocking().unwrap());
        assert_eq!(Note::list(&alice).blocking().unwrap().len(), 2);
        assert_eq!(
            Announcement::load(&store, "todo")
                .blocking()
                .unwrap()
                .map(|a| a.text),
            Some("everyone".into())
        );

        // The stored keys say whose they are.
        let keys = store.admin().raw_keys("").unwrap();
        let scopes: Vec<Option<String>> = keys.iter().map(|k| split_key(k).0).collect();
        assert_eq!(
            scopes,
            [Some("alice".to_owned()), Some("alice".to_owned()), None],
            "{keys:?}"
        );
    }

    #[test]
    fn singletons_and_upserts_are_per_user() {
        let (_dir, store, _clock) = disk_store();
        let (alice, bob) = (user(&store, "alice"), user(&store, "bob"));
        Settings::update_or_default(&alice, |s| s.visits += 1)
            .blocking()
            .unwrap();
        Settings::update_or_default(&alice, |s| s.visits += 1)
            .blocking()
            .unwrap();
        Settings::update_or_default(&bob, |s| s.dark = true)
            .blocking()
            .unwrap();
        let a = Settings::load_or_default(&alice).blocking().unwrap();
        let b = Settings::load_or_default(&bob).blocking().unwrap();
        assert_eq!((a.visits, a.dark), (2, false));
        assert_eq!((b.visits, b.dark), (0, true));

        let stored = Note::update_or_insert(&bob, &note("x", "a"), |n| n.text.push('b'))
            .blocking()
            .unwrap();
        assert_eq!(stored.text, "ab");
        assert!(Note::load(&alice, "x").blocking().unwrap().is_none());
    }

    #[test]
    fn an_update_cannot_move_a_record_to_another_key() {
        let (_dir, store, _clock) = disk_store();
        let alice = user(&store, "alice");
        note("a", "1").save(&alice).blocking().unwrap();
        let err = Note::update(&alice, "a", |n| n.title = "b".into())
            .blocking()
            .unwrap_err();
        assert!(matches!(err, Error::KeyChanged { .. }), "{err}");
        assert_eq!(
            Note::load(&alice, "a").blocking().unwrap(),
            Some(note("a", "1"))
        );
    }

    #[test]
    fn lists_are_per_user_and_trimmed_per_user() {
        let (_dir, store, _clock) = disk_store();
        let (alice, bob) = (user(&store, "alice"), user(&store, "bob"));
        for i in 0..5 {
            Visit {
                page: format!("a{i}"),
            }
            .push(&alice)
            .blocking()
            .unwrap();
        }
        Visit { page: "b0".into() }.push(&bob).blocking().unwrap();
        let pages = |s: &ScopedStore| -> Vec<String> {
            Visit::recent(s, 10)
                .blocking()
                .unwrap()
                .into_iter()
                .map(|v| v.page)
                .collect()
        };
        assert_eq!(pages(&alice), ["a4", "a3", "a2"]);
        assert_eq!(pages(&bob), ["b0"]);
        assert_eq!(Visit::clear(&bob).blocking().unwrap(), 1);
        assert_eq!(pages(&alice).len(), 3);
    }

    #[test]
    fn a_cursor_of_one_user_is_refused_for_another() {
        let (_dir, store, _clock) = disk_store();
        let (alice, bob) = (user(&store, "alice"), user(&store, "bob"));
        for title in ["a", "b", "c"] {
            note(title, "").save(&alice).blocking().unwrap();
            note(title, "").save(&bob).blocking().unwrap();
        }
        let first = Note::list_page(
            &alice,
            ListOptions {
                limit: Some(1),
                ..ListOptions::default()
            },
        )
        .blocking()
        .unwrap();
        let cursor = first.next_cursor.expect("a next page");
        let err = Note::list_page(
            &bob,
            ListOptions {
                cursor: Some(cursor.clone()),
                ..ListOptions::default()
            },
        )
        .blocking()
        .unwrap_err();
        assert!(matches!(err, Error::InvalidCursor { .. }), "{err}");
        let rest = Note::list_page(
            &alice,
            ListOptions {
                cursor: Some(cursor),
                ..ListOptions::default()
            },
        )
        .blocking()
        .unwrap();
        assert_eq!(rest.items.len(), 2);
    }

    #[test]
    fn expiry_and_sweeps_work_per_user() {
        let (_dir, store, clock) = disk_store();
        let alice = user(&store, "alice");
        note("old", "").save(&alice).blocking().unwrap();
        clock.advance(Duration::from_secs(3601));
        note("new", "").save(&alice).blocking().unwrap();
        assert!(Note::load(&alice, "old").blocking().unwrap().is_none());
        assert_eq!(store.sweep_expired().blocking().unwrap(), 1);
        assert_eq!(Note::list(&alice).blocking().unwrap(), [note("new", "")]);
    }

    #[test]
    fn a_users_records_are_exported_and_erased_and_no_one_elses() {
        let (_dir, store, clock) = disk_store();
        // Users whose keys start like alice's, and one with escaped characters.
        let names = ["alice", "alice2", "alic", "a/b%c", "a"];
        for name in names {
            let at = user(&store, name);
            note("todo", name).save(&at).blocking().unwrap();
            Settings::update_or_default(&at, |s| s.visits += 1)
                .blocking()
                .unwrap();
            Visit { page: name.into() }.push(&at).blocking().unwrap();
        }
        let shared = Announcement {
            title: "todo".into(),
            text: "for everyone".into(),
        };
        shared.save(&store).blocking().unwrap();
        // More than one erase batch for alice, some of them expired.
        let alice = user(&store, "alice");
        for i in 0..1500 {
            note(&format!("n{i:04}"), "x")
                .save(&alice)
                .blocking()
                .unwrap();
        }
        clock.advance(Duration::from_secs(3601));
        note("fresh", "after the hour")
            .save(&alice)
            .blocking()
            .unwrap();

        let scope = Scope::new("alice").unwrap();
        let mut exported = Vec::new();
        let n = store
            .admin()
            .export_scope(&scope, &mut exported, &mut |_| {})
            .unwrap();
        assert_eq!(n, 3 + 1500 + 1);
        let text = String::from_utf8(exported.clone()).unwrap();
        assert_eq!(text.lines().count(), n);
        assert!(
            text.lines().all(|l| l.contains(r#""key":"@alice/"#)),
            "only alice's records"
        );

        let others_before: Vec<_> = snapshot(&store)
            .into_iter()
            .filter(|(k, _)| split_key(k).0.as_deref() != Some("alice"))
            .collect();
        assert_eq!(store.admin().erase_scope(&scope).unwrap(), n);
        assert_eq!(
            store.admin().raw_keys(scope.key_prefix()).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            snapshot(&store),
            others_before,
            "every other record is byte-identical"
        );
        assert!(store.admin().check().unwrap().is_empty());
        // The expiry index lost alice's entries with her records: a sweep
        // finds nothing of hers to purge, and others' expiry still works.
        assert_eq!(
            store.sweep_expired().blocking().unwrap(),
            4,
            "the 4 other users' expired notes"
        );
        assert_eq!(
            store.admin().erase_scope(&scope).unwrap(),
            0,
            "nothing left"
        );

        // The export takes her records back, byte for byte in content.
        let report = store
            .admin()
            .import_jsonl(&mut exported.as_slice(), false)
            .unwrap();
        assert_eq!(report.added, n);
        let fresh = Note::load(&alice, "fresh").blocking().unwrap();
        assert_eq!(fresh, Some(note("fresh", "after the hour")));
        assert_eq!(
            Settings::load(&alice).blocking().unwrap().map(|s| s.visits),
            Some(1)
        );
    }
}

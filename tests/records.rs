//! Behaviour of the generated accessors of singletons and keyed records, on disk.

mod common;

use common::{Preferences, Progress, progress};
use mcp_persist::{Error, ListOptions};

on_each_backend! {
    #[test]
    fn singleton_round_trip_and_defaults() {
        let (_dir, store, _clock) = disk_store();
        assert_eq!(Preferences::load(&store).blocking().unwrap(), None);
        assert!(!Preferences::exists(&store).blocking().unwrap());
        assert_eq!(
            Preferences::load_or_default(&store).blocking().unwrap(),
            Preferences::default()
        );

        let prefs = Preferences {
            default_limit: 50,
            sort_order: "desc".into(),
            show_metadata: true,
        };
        prefs.save(&store).blocking().unwrap();
        assert_eq!(
            Preferences::load(&store).blocking().unwrap(),
            Some(prefs.clone())
        );
        assert!(Preferences::exists(&store).blocking().unwrap());

        let updated = Preferences::update(&store, |p| p.default_limit = 10)
            .blocking()
            .unwrap();
        assert_eq!(updated.map(|p| p.default_limit), Some(10));
        assert_eq!(
            Preferences::load(&store)
                .blocking()
                .unwrap()
                .unwrap()
                .default_limit,
            10
        );

        assert!(Preferences::delete(&store).blocking().unwrap());
        assert!(!Preferences::delete(&store).blocking().unwrap());
        assert_eq!(Preferences::load(&store).blocking().unwrap(), None);
    }

    #[test]
    fn update_of_missing_record_writes_nothing() {
        let (_dir, store, _clock) = disk_store();
        let out = Preferences::update(&store, |p| p.default_limit = 3)
            .blocking()
            .unwrap();
        assert_eq!(out, None);
        assert_eq!(Preferences::load(&store).blocking().unwrap(), None);

        let v = Preferences::update_or_default(&store, |p| p.default_limit += 7)
            .blocking()
            .unwrap();
        assert_eq!(v.default_limit, 7);
        let v = Preferences::update_or_default(&store, |p| p.default_limit += 7)
            .blocking()
            .unwrap();
        assert_eq!(v.default_limit, 14);
    }

    #[test]
    fn metadata_tracks_created_and_updated() {
        let (_dir, store, clock) = disk_store();
        progress("dune", 1).save(&store).blocking().unwrap();
        let first = Progress::load_with_meta(&store, "dune")
            .blocking()
            .unwrap()
            .unwrap();
        clock.advance(std::time::Duration::from_secs(5));
        progress("dune", 2).save(&store).blocking().unwrap();
        let second = Progress::load_with_meta(&store, "dune")
            .blocking()
            .unwrap()
            .unwrap();
        assert_eq!(second.value.page, 2);
        assert_eq!(second.meta.created_at, first.meta.created_at);
        assert_eq!(
            second
                .meta
                .updated_at
                .duration_since(first.meta.updated_at)
                .unwrap(),
            std::time::Duration::from_secs(5)
        );
        assert_eq!(second.meta.expires_at, None);
        assert_eq!(second.meta.version, 1);
    }

    #[test]
    fn keyed_records_are_independent_and_listed_in_key_order() {
        let (_dir, store, _clock) = disk_store();
        for (book, page) in [("b", 2), ("a", 1), ("c/d", 3), ("ab", 4)] {
            progress(book, page).save(&store).blocking().unwrap();
        }
        assert_eq!(
            Progress::load(&store, "a")
                .blocking()
                .unwrap()
                .unwrap()
                .page,
            1
        );
        assert_eq!(
            Progress::load(&store, "c/d")
                .blocking()
                .unwrap()
                .unwrap()
                .page,
            3
        );
        assert_eq!(Progress::load(&store, "c").blocking().unwrap(), None);

        let ids: Vec<String> = Progress::list(&store)
            .blocking()
            .unwrap()
            .into_iter()
            .map(|p| p.book_id)
            .collect();
        assert_eq!(ids, ["a", "ab", "b", "c/d"]);

        let page = Progress::list_page(
            &store,
            ListOptions {
                prefix: Some("a".into()),
                ..Default::default()
            },
        )
        .blocking()
        .unwrap();
        let ids: Vec<&str> = page
            .items
            .iter()
            .map(|s| s.value.book_id.as_str())
            .collect();
        assert_eq!(ids, ["a", "ab"]);
        assert_eq!(page.next_cursor, None);

        assert!(Progress::delete(&store, "ab").blocking().unwrap());
        assert!(!Progress::exists(&store, "ab").blocking().unwrap());
        assert_eq!(Progress::list(&store).blocking().unwrap().len(), 3);
    }

    #[test]
    fn pagination_visits_every_record_once() {
        let (_dir, store, _clock) = disk_store();
        for i in 0..25 {
            progress(&format!("book-{i:02}"), i)
                .save(&store)
                .blocking()
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut options = ListOptions {
            limit: Some(10),
            ..Default::default()
        };
        loop {
            let page = Progress::list_page(&store, options.clone())
                .blocking()
                .unwrap();
            assert!(page.items.len() <= 10);
            seen.extend(page.items.into_iter().map(|s| s.value.page));
            match page.next_cursor {
                Some(cursor) => options.cursor = Some(cursor),
                None => break,
            }
        }
        assert_eq!(seen, (0..25).collect::<Vec<_>>());

        let err = Progress::list_page(
            &store,
            ListOptions {
                cursor: Some("preferences:x".into()),
                ..Default::default()
            },
        )
        .blocking()
        .unwrap_err();
        assert!(matches!(err, Error::InvalidCursor { .. }), "{err}");
    }

    #[test]
    fn hostile_key_values_never_reach_other_records() {
        let (_dir, store, _clock) = disk_store();
        progress("x", 1).save(&store).blocking().unwrap();
        for hostile in ["../x", "x/", "/x", "%78", "x%", "x\u{0}", "progress/x"] {
            progress(hostile, 99).save(&store).blocking().unwrap();
            assert_eq!(
                Progress::load(&store, hostile)
                    .blocking()
                    .unwrap()
                    .unwrap()
                    .page,
                99
            );
        }
        assert_eq!(
            Progress::load(&store, "x")
                .blocking()
                .unwrap()
                .unwrap()
                .page,
            1
        );
        assert_eq!(Progress::list(&store).blocking().unwrap().len(), 8);
        // The singleton namespace is untouched.
        assert_eq!(Preferences::load(&store).blocking().unwrap(), None);
    }

    #[test]
    fn bad_keys_are_clear_errors_and_write_nothing() {
        let (_dir, store, _clock) = disk_store();
        let err = progress("", 1).save(&store).blocking().unwrap_err();
        assert!(err.to_string().contains("`book_id`"), "{err}");
        let long = "é".repeat(400);
        let err = progress(&long, 1).save(&store).blocking().unwrap_err();
        assert!(
            matches!(
                err,
                Error::KeyTooLong {
                    field: Some("book_id"),
                    value_len: 800,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("field `book_id` is 800 bytes"),
            "{err}"
        );
        assert!(Progress::list(&store).blocking().unwrap().is_empty());
        // Reads render keys on the stack: the same errors, the same lengths.
        let err = Progress::load(&store, "").blocking().unwrap_err();
        assert!(err.to_string().contains("`book_id`"), "{err}");
        let err = Progress::exists(&store, &long).blocking().unwrap_err();
        assert!(
            matches!(err, Error::KeyTooLong { len, .. } if len > 800),
            "{err}"
        );
        // Short enough before escaping, too long after: `/` takes 3 bytes.
        let slashes = "/".repeat(155);
        let save_err = progress(&slashes, 1).save(&store).blocking().unwrap_err();
        let load_err = Progress::load(&store, &slashes).blocking().unwrap_err();
        assert_eq!(save_err.to_string(), load_err.to_string());
        assert!(
            matches!(
                load_err,
                Error::KeyTooLong {
                    value_len: 155,
                    escaped_len: 465,
                    ..
                }
            ),
            "{load_err}"
        );
        assert!(
            load_err
                .to_string()
                .contains("465 bytes once escaped (155 bytes as given"),
            "{load_err}"
        );
        // The longest key that fits is stored and read back.
        let prefix_len = mcp_persist::Persisted::record_key(&progress("x", 1), None)
            .unwrap()
            .as_str()
            .len()
            - 1;
        let longest = "y".repeat(mcp_persist::settings::MAX_KEY_LEN - prefix_len);
        progress(&longest, 3).save(&store).blocking().unwrap();
        assert_eq!(
            Progress::load(&store, &longest)
                .blocking()
                .unwrap()
                .unwrap()
                .page,
            3
        );
    }

    #[test]
    fn update_cannot_change_the_key() {
        let (_dir, store, _clock) = disk_store();
        progress("a", 1).save(&store).blocking().unwrap();
        let err = Progress::update(&store, "a", |p| p.book_id = "b".into())
            .blocking()
            .unwrap_err();
        assert!(matches!(err, Error::KeyChanged { .. }), "{err}");
        assert_eq!(
            Progress::load(&store, "a").blocking().unwrap(),
            Some(progress("a", 1))
        );
        assert_eq!(Progress::load(&store, "b").blocking().unwrap(), None);
    }

    #[test]
    fn a_panicking_update_is_rolled_back_and_the_store_keeps_working() {
        let (_dir, store, _clock) = disk_store();
        progress("a", 1).save(&store).blocking().unwrap();
        let err = Progress::update(&store, "a", |_| panic!("boom"))
            .blocking()
            .unwrap_err();
        assert!(
            matches!(err, Error::Panicked(ref m) if m.contains("boom")),
            "{err}"
        );
        assert_eq!(
            Progress::load(&store, "a").blocking().unwrap(),
            Some(progress("a", 1))
        );
        progress("a", 2).save(&store).blocking().unwrap();
        assert_eq!(
            Progress::load(&store, "a")
                .blocking()
                .unwrap()
                .unwrap()
                .page,
            2
        );
    }

    #[test]
    fn update_or_insert_starts_from_initial() {
        let (_dir, store, _clock) = disk_store();
        let v = Progress::update_or_insert(&store, &progress("n", 0), |p| p.page += 1)
            .blocking()
            .unwrap();
        assert_eq!(v.page, 1);
        let v = Progress::update_or_insert(&store, &progress("n", 0), |p| p.page += 1)
            .blocking()
            .unwrap();
        assert_eq!(v.page, 2);
    }

    #[tokio::test]
    async fn async_accessors() {
        let (_dir, store, _clock) = disk_store();
        progress("a", 1).save(&store).await.unwrap();
        let v = Progress::update(&store, "a", |p| p.page = 5).await.unwrap();
        assert_eq!(v.unwrap().page, 5);
        let v = Progress::update_or_insert(&store, &progress("b", 0), |p| p.page += 2)
            .await
            .unwrap();
        assert_eq!(v.page, 2);
        assert!(Progress::delete(&store, "a").await.unwrap());
        Preferences::update_or_default(&store, |p| p.show_metadata = true)
            .await
            .unwrap();
        assert!(
            Preferences::load(&store)
                .await
                .unwrap()
                .unwrap()
                .show_metadata
        );
        assert!(Preferences::exists(&store).await.unwrap());
        assert_eq!(Progress::list(&store).await.unwrap().len(), 1);
        // Futures are Send: they can be spawned.
        let s = store.clone();
        tokio::spawn(async move { progress("c", 3).save(&s).await })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            Progress::load(&store, "c")
                .blocking()
                .unwrap()
                .unwrap()
                .page,
            3
        );
    }

    /// A float that JSON cannot hold (NaN, infinite) used to be stored as `null`:
    /// a record that no longer decoded. Found by the `tool_call` fuzz target.
    #[test]
    fn a_float_json_cannot_hold_is_refused_and_writes_nothing() {
        #[mcp_persist::persisted(key = "gauge/{name}")]
        struct Gauge {
            name: String,
            level: f32,
        }
        let (_dir, store, _clock) = disk_store();
        for level in [f32::INFINITY, f32::NAN] {
            let err = Gauge {
                name: "g".into(),
                level,
            }
            .save(&store)
            .blocking()
            .unwrap_err();
            assert!(
                matches!(err, Error::Encode { .. }) && err.to_string().contains("NaN or infinite"),
                "{err}"
            );
        }
        assert!(Gauge::list(&store).blocking().unwrap().is_empty());
        let fine = Gauge {
            name: "g".into(),
            level: 0.5,
        };
        fine.save(&store).blocking().unwrap();
        assert_eq!(
            Gauge::load(&store, "g").blocking().unwrap().unwrap().level,
            0.5
        );
    }

    /// serde_json's default float parser may read a number back one ULP off;
    /// the workspace enables `float_roundtrip`. Found by the `envelope` fuzz target.
    #[test]
    fn a_float_reads_back_exactly() {
        #[mcp_persist::persisted(key = "reading/{name}")]
        struct Reading {
            name: String,
            value: f64,
        }
        let (_dir, store, _clock) = disk_store();
        for value in [99999.66666666667_f64, 0.1, 1e-300, f64::MAX, 2.0_f64.sqrt()] {
            Reading {
                name: "r".into(),
                value,
            }
            .save(&store)
            .blocking()
            .unwrap();
            let back = Reading::load(&store, "r")
                .blocking()
                .unwrap()
                .unwrap()
                .value;
            assert_eq!(
                back.to_bits(),
                value.to_bits(),
                "{value} read back as {back}"
            );
        }
    }

    /// An operation runs when it is awaited or run, not when it is built: one
    /// built before a write sees the write, and one dropped unawaited does nothing.
    #[tokio::test]
    async fn operations_run_when_awaited_not_when_built() {
        let (_dir, store, _clock) = disk_store();
        let load = Progress::load(&store, "a");
        let exists = Progress::exists(&store, "a");
        let list = Progress::list(&store);
        let delete = Progress::delete(&store, "a");
        progress("a", 1).save(&store).await.unwrap();
        assert_eq!(load.await.unwrap().map(|p| p.page), Some(1));
        assert!(exists.blocking().unwrap());
        assert_eq!(list.await.unwrap().len(), 1);
        // A write dropped before it was awaited (or its future before its first poll) writes nothing.
        drop(delete);
        drop(Progress::delete(&store, "a").into_future());
        drop(progress("a", 9).save(&store));
        assert_eq!(
            Progress::load(&store, "a").await.unwrap().map(|p| p.page),
            Some(1)
        );
        // The same operation, awaited or run blocking, gives the same answer.
        let awaited = Progress::load_with_meta(&store, "a").await.unwrap();
        let blocked = Progress::load_with_meta(&store, "a").blocking().unwrap();
        assert_eq!(awaited, blocked);
    }
}

//! No key field value, however hostile, reaches another record or another
//! type's namespace (property tests over arbitrary strings).

use mcp_persist::{Error, Persisted, Store, persisted};
use proptest::prelude::*;

/// Keyed by two fields, separated by a slash.
#[persisted(key = "notes/{user}/{id}")]
#[derive(Debug, Clone, PartialEq)]
struct Note {
    user: String,
    id: String,
    text: String,
}

/// Another type whose namespace must stay untouched.
#[persisted(key = "notes/{user}")]
#[derive(Debug, Clone, PartialEq)]
struct Other {
    user: String,
    text: String,
}

fn note(user: &str, id: &str) -> Note {
    Note {
        user: user.into(),
        id: id.into(),
        text: format!("{user}|{id}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn distinct_values_give_distinct_keys_in_the_type_namespace(
        a in "\\PC{1,12}|[/%:{}\\x00-\\x1f.]{1,6}",
        b in "\\PC{1,12}|[/%:{}\\x00-\\x1f.]{1,6}",
        c in "\\PC{1,12}|[/%:{}\\x00-\\x1f.]{1,6}",
        d in "\\PC{1,12}|[/%:{}\\x00-\\x1f.]{1,6}",
    ) {
        let k1 = note(&a, &b).record_key().unwrap();
        let k2 = note(&c, &d).record_key().unwrap();
        prop_assert_eq!(a == c && b == d, k1 == k2);
        prop_assert!(k1.as_str().starts_with("note:notes/"));
        // The other type's keys live under its own namespace.
        let other = Other { user: a.clone(), text: String::new() }.record_key().unwrap();
        prop_assert!(other.as_str().starts_with("other:notes/"));
        // A key field value never produces a `/` of the template by itself.
        prop_assert_eq!(k1.as_str().matches('/').count(), 2);
    }

    #[test]
    fn hostile_values_never_touch_other_records(
        user in "\\PC{0,40}|[/%:.]{0,8}",
        id in "\\PC{0,40}|\\.\\./[a-z]{1,3}",
    ) {
        let store = Store::memory().unwrap();
        let sentinel = note("alice", "1");
        sentinel.save(&store).blocking().unwrap();
        let other = Other { user: "alice".into(), text: "other".into() };
        other.save(&store).blocking().unwrap();

        let hostile = note(&user, &id);
        match hostile.save(&store).blocking() {
            Ok(()) => {
                prop_assert_eq!(Note::load(&store, &user, &id).blocking().unwrap(), Some(hostile.clone()));
                if (user.as_str(), id.as_str()) != ("alice", "1") {
                    prop_assert_eq!(Note::load(&store, "alice", "1").blocking().unwrap(), Some(sentinel));
                }
                prop_assert_eq!(Note::delete(&store, &user, &id).blocking().unwrap(), true);
            }
            Err(Error::EmptyKeyParam { param, .. }) => {
                prop_assert!((user.is_empty() && param == "user") || (id.is_empty() && param == "id"));
            }
            Err(other) => return Err(TestCaseError::fail(format!("unexpected error: {other}"))),
        }
        prop_assert_eq!(Other::load(&store, "alice").blocking().unwrap(), Some(other));
        prop_assert_eq!(Other::list(&store).blocking().unwrap().len(), 1);
    }
}

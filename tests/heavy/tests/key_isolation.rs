//! No key field value, however hostile, reaches another record or another
//! type's namespace; no scope value reaches another user's records
//! (property tests over arbitrary strings).

use mcp_persist::admin::split_key;
use mcp_persist::{Error, Persisted, Scope, Store, persisted};
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

/// Kept per user, under the same template shape as `Note`.
#[persisted(key = "notes/{id}", scope = "user")]
#[derive(Debug, Clone, PartialEq)]
struct Memo {
    id: String,
    text: String,
}

/// A per-user list.
#[persisted(key = "seen", list, scope = "user")]
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    what: String,
}

/// Scope values: arbitrary text, and the characters keys are made of.
const SCOPES: &str = "\\PC{1,20}|[/%:@{}.a]{1,8}|@[a-z]{1,4}/note:|alice/?|alice%2F";

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
        let k1 = note(&a, &b).record_key(None).unwrap();
        let k2 = note(&c, &d).record_key(None).unwrap();
        prop_assert_eq!(a == c && b == d, k1 == k2);
        prop_assert!(k1.as_str().starts_with("note:notes/"));
        // The other type's keys live under its own namespace.
        let other = Other { user: a.clone(), text: String::new() }.record_key(None).unwrap();
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn distinct_scopes_give_distinct_keys_apart_from_shared_ones(
        s1 in SCOPES, s2 in SCOPES, id1 in "\\PC{1,8}|[/%]{1,3}", id2 in "\\PC{1,8}|[/%]{1,3}",
    ) {
        let (Ok(scope1), Ok(scope2)) = (Scope::new(&s1), Scope::new(&s2)) else {
            // Refused scopes (control characters) never reach a key.
            return Ok(());
        };
        let memo = |id: &str| Memo { id: id.into(), text: String::new() };
        let k1 = memo(&id1).record_key(Some(&scope1)).unwrap();
        let k2 = memo(&id2).record_key(Some(&scope2)).unwrap();
        prop_assert_eq!(s1 == s2 && id1 == id2, k1 == k2);
        // The scope reads back from the key, and the rest is the type's.
        let (scope, rest) = split_key(k1.as_str());
        prop_assert_eq!(scope.as_deref(), Some(s1.as_str()));
        prop_assert!(rest.starts_with("memo:notes/"), "{}", rest);
        // One user's keys never start with another user's prefix.
        if s1 != s2 {
            prop_assert!(!k1.as_str().starts_with(scope2.key_prefix()));
        }
        // A shared key never looks scoped.
        let shared = note(&s1, &id1).record_key(Some(&scope1)).unwrap();
        prop_assert_eq!(split_key(shared.as_str()).0, None);
        // Without a scope, a per-user key cannot be made.
        let no_scope = memo(&id1).record_key(None);
        let refused = matches!(no_scope, Err(Error::NoScope { type_name: "Memo" }));
        prop_assert!(refused);
    }

    #[test]
    fn hostile_scopes_never_touch_another_users_records(
        hostile in SCOPES,
        id in "\\PC{1,20}|\\.\\./[a-z]{1,3}|1",
    ) {
        let Ok(scope) = Scope::new(&hostile) else { return Ok(()) };
        prop_assume!(hostile != "alice");
        let store = Store::memory().unwrap();
        let alice = store.scoped(&Scope::new("alice").unwrap());
        let mallory = store.scoped(&scope);
        let sentinel = Memo { id: "1".into(), text: "alice's".into() };
        sentinel.save(&alice).blocking().unwrap();
        Seen { what: "alice's".into() }.push(&alice).blocking().unwrap();

        let theirs = Memo { id: id.clone(), text: "mallory's".into() };
        theirs.save(&mallory).blocking().unwrap();
        Seen { what: "mallory's".into() }.push(&mallory).blocking().unwrap();
        prop_assert_eq!(Memo::list(&mallory).blocking().unwrap(), vec![theirs.clone()]);
        prop_assert_eq!(Memo::load(&mallory, "1").blocking().unwrap().is_some(), id == "1");
        prop_assert_eq!(Seen::recent(&mallory, 10).blocking().unwrap().len(), 1);
        Memo::update(&mallory, "1", |m| m.text = "changed".into()).blocking().unwrap();
        Memo::delete(&mallory, "1").blocking().unwrap();
        Seen::clear(&mallory).blocking().unwrap();

        prop_assert_eq!(Memo::list(&alice).blocking().unwrap(), vec![sentinel]);
        let seen = Seen::recent(&alice, 10).blocking().unwrap();
        prop_assert_eq!(seen, vec![Seen { what: "alice's".into() }]);
    }
}

//! Generated code is warning-free under strict lints, for every kind of
//! record, with accessors left unused. `cargo clippy --all-targets -- -D warnings`
//! checks the clippy half of the attribute below.

#![deny(warnings, clippy::all)]
#![forbid(unsafe_code)]

use mcp_persist::{Store, persisted};

/// A singleton with a doc comment.
#[persisted(key = "settings", namespace = "app.settings", version = 3)]
#[derive(Debug, Default)]
struct Settings {
    theme: String,
}

/// Keyed by two fields, one of them named `store`.
#[persisted(key = "stock/{store}/{sku}", ttl = 3600)]
pub struct Stock {
    store: String,
    sku: u64,
    count: i64,
}

/// A bounded list.
#[persisted(key = "events", list, max_len = 100, ttl = "7d")]
pub(crate) struct Event {
    what: String,
}

/// An unbounded list without a doc of its own kind.
#[persisted(key = "log", list)]
struct LogLine {
    line: String,
}

/// Inventory with a subset of tools under a prefix.
#[persisted(key = "inventory/{sku}", tools(get, list, prefix = "inv_"))]
#[derive(Debug)]
pub struct Item {
    sku: String,
    count: u32,
}

/// A list with all of its tools.
#[persisted(key = "visits", list, max_len = 3, tools)]
struct Visit {
    page: String,
}

#[test]
fn tools_are_named_after_the_record_with_the_prefix() {
    struct Server;
    let store = Store::memory().unwrap();
    let mut names: Vec<String> = (Item::tools::<Server>(&store) + Visit::tools::<Server>(&store))
        .list_all()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "add_visit",
            "clear_visit",
            "inv_get_item",
            "inv_list_item",
            "recent_visit"
        ]
    );
    Item {
        sku: "a".into(),
        count: 1,
    }
    .save(&store)
    .blocking()
    .unwrap();
    Visit { page: "/".into() }.push(&store).blocking().unwrap();
}

#[test]
fn generated_code_compiles_cleanly_and_describes_itself() {
    use mcp_persist::__private::Kind;
    use mcp_persist::Persisted;
    assert_eq!(Settings::SPEC.namespace, "app.settings");
    assert_eq!(Settings::SPEC.version, 3);
    assert_eq!(Settings::SPEC.doc, "A singleton with a doc comment.");
    assert_eq!(Stock::SPEC.key_params, ["store", "sku"]);
    assert_eq!(Stock::SPEC.kind, Kind::Keyed);
    assert_eq!(Stock::SPEC.ttl, Some(std::time::Duration::from_secs(3600)));
    assert_eq!(Event::SPEC.kind, Kind::List { max_len: Some(100) });
    assert_eq!(LogLine::SPEC.kind, Kind::List { max_len: None });
    assert_eq!(LogLine::SPEC.namespace, "log_line");

    let store = Store::memory().unwrap();
    let s = Stock {
        store: "north".into(),
        sku: 7,
        count: 3,
    };
    s.save(&store).blocking().unwrap();
    let loaded = Stock::load(&store, "north", 7).blocking().unwrap().unwrap();
    assert_eq!(
        (loaded.store.as_str(), loaded.sku, loaded.count),
        ("north", 7, 3)
    );
    Event { what: "x".into() }.push(&store).blocking().unwrap();
    LogLine { line: "y".into() }
        .push(&store)
        .blocking()
        .unwrap();
    assert_eq!(Event::recent(&store, 10).blocking().unwrap()[0].what, "x");
    assert_eq!(LogLine::recent(&store, 10).blocking().unwrap()[0].line, "y");
    assert_eq!(
        Settings::load_or_default(&store).blocking().unwrap().theme,
        ""
    );
}

//! End to end: the `database_operations` and `reading_progress` example
//! servers, as child processes, driven by rmcp's client over stdio.

mod mcp;

use std::time::Duration;

use mcp::{assert_refused, call, connect, structured, text};
use mcp_persist::{Clock, ManualClock, Store, SystemClock, persisted};
use serde_json::json;

#[tokio::test]
async fn database_operations_remembers_database_preferences_and_history() {
    let data = tempfile::tempdir().unwrap();
    let client = connect("database_operations", data.path(), false).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    // The server's own tools and the generated ones are all served.
    assert_eq!(
        names,
        [
            "clear_search_record",
            "current_database",
            "delete_preferences",
            "get_preferences",
            "recent_search_record",
            "search",
            "set_preferences",
            "switch_database",
            "update_preferences",
        ]
    );

    let refused = call(&client, "search", json!({"query": "x"})).await;
    assert_refused(&refused, &["switch_database"]);
    call(
        &client,
        "switch_database",
        json!({"db_name": "production_db"}),
    )
    .await;
    call(
        &client,
        "set_preferences",
        json!({"default_limit": 5, "sort_order": "asc", "show_metadata": true}),
    )
    .await;
    for q in ["alpha", "beta", "gamma"] {
        let result = call(&client, "search", json!({"query": q})).await;
        assert!(text(&result).contains("limit 5"), "{}", text(&result));
    }
    client.cancel().await.unwrap();

    let client = connect("database_operations", data.path(), true).await;
    let current = call(&client, "current_database", json!({})).await;
    assert_eq!(text(&current), "production_db");
    let history = call(&client, "recent_search_record", json!({"limit": 2})).await;
    let queries: Vec<&str> = structured(&history)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["record"]["query"].as_str().unwrap())
        .collect();
    assert_eq!(queries, ["gamma", "beta"]);
    let patched = call(&client, "update_preferences", json!({"sort_order": "desc"})).await;
    assert_eq!(
        structured(&patched)["stored"]["record"]["default_limit"],
        json!(5)
    );
    let cleared = call(&client, "clear_search_record", json!({})).await;
    assert_eq!(structured(&cleared)["cleared"], json!(3));
    client.cancel().await.unwrap();
}

/// The same shape as the example's `LibraryStats`, to write a record dated
/// in the past from this process: TTL expiry without waiting an hour.
#[persisted(key = "stats/{library}", ttl = "1h")]
struct LibraryStats {
    library: String,
    books: u64,
    authors: u64,
}

#[tokio::test]
async fn reading_progress_tracks_books_and_expires_cached_stats() {
    let data = tempfile::tempdir().unwrap();
    {
        let past = ManualClock::at_ms(SystemClock.now_ms() - 2 * 3600 * 1000);
        let store = Store::builder()
            .clock(past)
            .sweep_interval(None)
            .open_at(data.path().join("reading-progress"))
            .unwrap();
        LibraryStats {
            library: "old".into(),
            books: 1,
            authors: 1,
        }
        .save(&store)
        .blocking()
        .unwrap();
    }

    let client = connect("reading_progress", data.path(), true).await;
    let stale = call(&client, "get_library_stats", json!({"library": "old"})).await;
    assert_eq!(
        structured(&stale)["found"],
        json!(false),
        "an expired record is never returned"
    );

    let set = call(
        &client,
        "set_library_stats",
        json!({"library": "main", "books": 1200, "authors": 300}),
    )
    .await;
    let stored = &structured(&set)["stored"];
    let updated = humantime::parse_rfc3339(stored["updated_at"].as_str().unwrap()).unwrap();
    let expires = humantime::parse_rfc3339(stored["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        expires.duration_since(updated).unwrap(),
        Duration::from_secs(3600)
    );

    for (book, page) in [("isbn-2", 10), ("isbn-1", 250)] {
        call(
            &client,
            "set_progress",
            json!({"book_id": book, "page": page, "percent": 12.5}),
        )
        .await;
    }
    let moved = call(
        &client,
        "update_progress",
        json!({"book_id": "isbn-2", "page": 11}),
    )
    .await;
    assert_eq!(
        structured(&moved)["stored"]["record"]["percent"],
        json!(12.5)
    );
    let listed = call(&client, "list_progress", json!({})).await;
    let ids: Vec<&str> = structured(&listed)["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"]["book_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["isbn-1", "isbn-2"]);
    let wrong = call(
        &client,
        "set_progress",
        json!({"book_id": "x", "page": -1, "percent": 1.0}),
    )
    .await;
    assert_refused(&wrong, &["`page`"]);
    client.cancel().await.unwrap();
}

/// `reading_progress` over stdio with `MCP_PERSIST_SCOPE` set to `user` (or
/// unset for `None`).
async fn reading_progress_as(data: &std::path::Path, user: Option<&str>) -> mcp::Client {
    use rmcp::ServiceExt;
    let mut cmd = tokio::process::Command::new(mcp::example("reading_progress"));
    cmd.env("MCP_PERSIST_DIR", data).env("RUST_LOG", "warn");
    match user {
        Some(user) => cmd.env("MCP_PERSIST_SCOPE", user),
        None => cmd.env_remove("MCP_PERSIST_SCOPE"),
    };
    let (transport, _) = rmcp::transport::TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn reading_progress");
    ().serve(transport).await.expect("initialize")
}

#[tokio::test]
async fn over_stdio_per_user_records_belong_to_the_local_user() {
    let data = tempfile::tempdir().unwrap();
    let book = |page: u32| json!({"book_id": "dune", "page": page, "percent": 10.0});
    let local = reading_progress_as(data.path(), None).await;
    call(&local, "set_progress", book(12)).await;
    local.cancel().await.unwrap();

    let bob = reading_progress_as(data.path(), Some("bob")).await;
    let got = call(&bob, "get_progress", json!({"book_id": "dune"})).await;
    assert_eq!(
        structured(&got)["found"],
        json!(false),
        "bob sees no progress of the local user"
    );
    call(&bob, "set_progress", book(99)).await;
    let listed = call(&bob, "list_progress", json!({})).await;
    assert_eq!(
        structured(&listed)["records"].as_array().map(Vec::len),
        Some(1)
    );
    bob.cancel().await.unwrap();

    let store = Store::open_at(data.path().join("reading-progress")).unwrap();
    let keys = store.admin().raw_keys("").unwrap();
    assert_eq!(
        keys,
        [
            "@bob/progress:progress/dune",
            "@local/progress:progress/dune"
        ]
    );
}

#[test]
fn an_invalid_local_scope_stops_the_server_with_the_reason() {
    let data = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(mcp::example("reading_progress"))
        .env("MCP_PERSIST_DIR", data.path())
        .env("MCP_PERSIST_SCOPE", "")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run reading_progress");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("MCP_PERSIST_SCOPE is invalid: it is empty"),
        "{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "nothing is written to the protocol"
    );
}

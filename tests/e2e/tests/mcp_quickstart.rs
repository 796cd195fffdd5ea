//! End to end: the `quickstart` example server, spawned as a child process,
//! driven by rmcp's client over stdio, with both lifecycles (the legacy
//! `initialize` handshake and 2026-07-28 `server/discover`).
//!
//! The example is built by the helper (`mcp::example`) with cargo.

mod mcp;

use mcp::{assert_refused, call, structured, text};
use serde_json::json;

async fn connect(data: &std::path::Path, modern: bool) -> mcp::Client {
    mcp::connect("quickstart", data, modern).await
}

async fn lists_tools_with_schemas(modern: bool) {
    let data = tempfile::tempdir().unwrap();
    let client = connect(data.path(), modern).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "delete_note",
            "delete_preferences",
            "get_note",
            "get_preferences",
            "list_note",
            "set_note",
            "set_preferences",
            "update_note",
            "update_preferences",
        ]
    );
    let get = tools.iter().find(|t| t.name == "get_note").unwrap();
    assert_eq!(get.input_schema["required"], json!(["title"]));
    assert!(
        get.input_schema["properties"]["text"].is_null(),
        "get takes only the key"
    );
    assert_eq!(
        get.annotations.as_ref().and_then(|a| a.read_only_hint),
        Some(true)
    );
    assert!(
        get.description
            .as_deref()
            .unwrap_or("")
            .contains("A note the assistant keeps")
    );
    assert!(get.output_schema.is_some());
    let set = tools.iter().find(|t| t.name == "set_note").unwrap();
    assert_eq!(
        set.input_schema["properties"]["text"]["type"],
        json!("string")
    );
    assert_eq!(set.input_schema["additionalProperties"], json!(false));
    let delete = tools.iter().find(|t| t.name == "delete_note").unwrap();
    assert_eq!(
        delete.annotations.as_ref().and_then(|a| a.destructive_hint),
        Some(true)
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn lists_tools_with_schemas_legacy() {
    lists_tools_with_schemas(false).await;
}

#[tokio::test]
async fn lists_tools_with_schemas_2026() {
    lists_tools_with_schemas(true).await;
}

async fn set_get_survives_restart(modern: bool) {
    let data = tempfile::tempdir().unwrap();
    let client = connect(data.path(), modern).await;
    let missing = call(&client, "get_note", json!({"title": "groceries"})).await;
    assert_eq!(structured(&missing)["found"], json!(false));
    assert!(
        text(&missing).contains("no Note is stored"),
        "{}",
        text(&missing)
    );

    let set = call(
        &client,
        "set_note",
        json!({"title": "groceries", "text": "milk"}),
    )
    .await;
    assert_eq!(structured(&set)["stored"]["record"]["text"], json!("milk"));
    let got = call(&client, "get_note", json!({"title": "groceries"})).await;
    assert_eq!(
        structured(&got)["stored"]["record"],
        json!({"title": "groceries", "text": "milk"})
    );
    assert!(
        structured(&got)["stored"]["updated_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    call(
        &client,
        "set_preferences",
        json!({"language": "en", "concise": false}),
    )
    .await;
    let patched = call(&client, "update_preferences", json!({"concise": true})).await;
    assert_eq!(
        structured(&patched)["stored"]["record"],
        json!({"language": "en", "concise": true})
    );
    client.cancel().await.unwrap();

    // A new server process sees the same state.
    let client = connect(data.path(), modern).await;
    let got = call(&client, "get_note", json!({"title": "groceries"})).await;
    assert_eq!(structured(&got)["stored"]["record"]["text"], json!("milk"));
    let prefs = call(&client, "get_preferences", json!({})).await;
    assert_eq!(
        structured(&prefs)["stored"]["record"]["concise"],
        json!(true)
    );
    let deleted = call(&client, "delete_note", json!({"title": "groceries"})).await;
    assert_eq!(structured(&deleted)["deleted"], json!(true));
    let got = call(&client, "get_note", json!({"title": "groceries"})).await;
    assert_eq!(structured(&got)["found"], json!(false));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn set_get_survives_restart_legacy() {
    set_get_survives_restart(false).await;
}

#[tokio::test]
async fn set_get_survives_restart_2026() {
    set_get_survives_restart(true).await;
}

#[tokio::test]
async fn bad_input_is_a_readable_error_and_changes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let client = connect(data.path(), false).await;
    call(
        &client,
        "set_note",
        json!({"title": "t", "text": "original"}),
    )
    .await;

    let cases = [
        (
            "set_note",
            json!({"title": "t", "text": 5}),
            vec!["`text`", "invalid type"],
        ),
        (
            "set_note",
            json!({"title": "t"}),
            vec!["missing field `text`"],
        ),
        (
            "set_note",
            json!({"title": "t", "txt": "x"}),
            vec!["unknown field `txt`", "text, title"],
        ),
        (
            "set_note",
            json!({"title": "", "text": "x"}),
            vec!["`title`", "empty"],
        ),
        (
            "set_note",
            json!({"title": "x".repeat(600), "text": "x"}),
            vec!["field `title` is 600 bytes", "469 bytes are left for it"],
        ),
        (
            "set_note",
            json!({"title": "t", "text": "x".repeat(2 << 20)}),
            // The field at fault by name, its size as JSON (quotes included).
            vec![
                "`text` is 2,097,154 bytes",
                "the limit for the whole call is 1,048,576 bytes",
            ],
        ),
        (
            "get_note",
            json!({"title": "t", "text": "x"}),
            vec!["unknown field `text`"],
        ),
        ("get_note", json!({}), vec!["missing field `title`"]),
        (
            "update_note",
            json!({"title": "t", "text": 7}),
            vec!["`text`", "invalid type"],
        ),
        (
            "update_preferences",
            json!({"concise": "very"}),
            vec!["no Preferences is stored"],
        ),
        ("list_note", json!({"limit": 0}), vec!["`limit`"]),
        ("list_note", json!({"cursor": "nonsense"}), vec!["cursor"]),
    ];
    for (tool, args, needles) in cases {
        let result = call(&client, tool, args.clone()).await;
        if tool == "update_preferences" {
            // Not an error: there is simply nothing to update yet.
            assert!(
                text(&result).contains(needles[0]),
                "{tool} {args}: {}",
                text(&result)
            );
            continue;
        }
        assert_refused(&result, &needles);
        let message = text(&result);
        assert!(message.starts_with(tool), "{message}");
    }
    let got = call(&client, "get_note", json!({"title": "t"})).await;
    assert_eq!(
        structured(&got)["stored"]["record"]["text"],
        json!("original")
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn list_paginates() {
    let data = tempfile::tempdir().unwrap();
    let client = connect(data.path(), true).await;
    for title in ["a", "b", "c"] {
        call(&client, "set_note", json!({"title": title, "text": title})).await;
    }
    let first = call(&client, "list_note", json!({"limit": 2})).await;
    let first = structured(&first).clone();
    assert_eq!(first["records"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let second = call(&client, "list_note", json!({"limit": 2, "cursor": cursor})).await;
    let second = structured(&second);
    assert_eq!(second["records"][0]["record"]["title"], json!("c"));
    assert!(second["next_cursor"].is_null());
    client.cancel().await.unwrap();
}

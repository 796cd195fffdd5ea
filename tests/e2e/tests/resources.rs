//! Persisted records as MCP resources, end to end: the quickstart server's
//! notes listed, read and templated; a subscription in one server process
//! hears of a change made through another server process on the same
//! store, in both lifecycles (`resources/subscribe` after `initialize`, and
//! `subscriptions/listen` on 2026-07-28); unsubscribing stops it.

mod mcp;

use std::process::Stdio;
use std::time::Duration;

use rmcp::model::{
    PaginatedRequestParams, ReadResourceRequestParams, ResourceContents,
    ResourceUpdatedNotificationParam, ServerNotification, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RoleClient, RunningService, Subscription};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use mcp::{call, connect, example};

const NOTE_A: &str = "persist://note/notes/a";

/// A client that reports the resource notifications it hears.
#[derive(Clone)]
struct Heard(mpsc::UnboundedSender<String>);

impl ClientHandler for Heard {
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(params.uri);
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.0.send("list_changed".into());
    }
}

/// The quickstart server on `data`, with a client that reports what it hears.
async fn listening(
    data: &std::path::Path,
) -> (
    RunningService<RoleClient, Heard>,
    mpsc::UnboundedReceiver<String>,
) {
    let mut cmd = tokio::process::Command::new(example("quickstart"));
    cmd.env("MCP_PERSIST_DIR", data).env("RUST_LOG", "warn");
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn quickstart");
    let (tx, rx) = mpsc::unbounded_channel();
    let client = Heard(tx).serve(transport).await.expect("initialize");
    (client, rx)
}

/// The next notification, or a failure after 10 s.
async fn heard(rx: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a notification within 10 s")
        .expect("the client is alive")
}

/// The next notification of a `subscriptions/listen`, or a failure after 10 s.
async fn notification(subscription: &mut Subscription) -> ServerNotification {
    tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("a notification within 10 s")
        .expect("the subscription is alive")
        .expect("not ended")
}

fn note(title: &str, text: &str) -> Value {
    json!({"title": title, "text": text})
}

/// The JSON text of a read, and its `_meta`.
async fn read(client: &rmcp::service::Peer<RoleClient>, uri: &str) -> (Value, Value) {
    let result = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .expect("read");
    match &result.contents[..] {
        [
            ResourceContents::TextResourceContents {
                text,
                mime_type,
                meta,
                ..
            },
        ] => {
            assert_eq!(mime_type.as_deref(), Some("application/json"));
            let meta = serde_json::to_value(meta).expect("meta");
            (serde_json::from_str(text).expect("JSON"), meta)
        }
        other => panic!("one text content expected, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(deprecated)] // resources/subscribe is what sessions opened with initialize use
async fn a_change_by_another_process_reaches_a_legacy_subscriber() {
    let data = tempfile::tempdir().unwrap();
    let (watcher, mut rx) = listening(data.path()).await;
    let other = connect("quickstart", data.path(), false).await;
    mcp::structured(&call(&other, "set_note", note("a", "first")).await);

    // Listed (with the template), read with its metadata.
    let listed = watcher
        .list_resources(Some(PaginatedRequestParams::default()))
        .await
        .expect("list");
    let uris: Vec<&str> = listed.resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, [NOTE_A]);
    assert_eq!(
        listed.resources[0].mime_type.as_deref(),
        Some("application/json")
    );
    let templates = watcher
        .list_resource_templates(None)
        .await
        .expect("templates");
    let templates: Vec<&str> = templates
        .resource_templates
        .iter()
        .map(|t| t.uri_template.as_str())
        .collect();
    assert_eq!(templates, ["persist://note/notes/{title}"]);
    let (value, meta) = read(&watcher, NOTE_A).await;
    assert_eq!(value, note("a", "first"));
    assert_eq!(meta["mcp-persist/record"]["version"], 1, "{meta}");

    // Subscribed here, changed there: the update arrives, the read is new.
    watcher
        .subscribe(SubscribeRequestParams::new(NOTE_A))
        .await
        .expect("subscribe");
    mcp::structured(&call(&other, "set_note", note("a", "second")).await);
    assert_eq!(heard(&mut rx).await, NOTE_A);
    assert_eq!(read(&watcher, NOTE_A).await.0, note("a", "second"));

    // A note appearing is a list change (this session listed).
    mcp::structured(&call(&other, "set_note", note("b", "new")).await);
    assert_eq!(heard(&mut rx).await, "list_changed");

    // Unsubscribed: a change of `a` says nothing; the list change that
    // follows it (a note deleted) proves the feed went past it.
    watcher
        .unsubscribe(UnsubscribeRequestParams::new(NOTE_A))
        .await
        .expect("unsubscribe");
    mcp::structured(&call(&other, "set_note", note("a", "third")).await);
    mcp::structured(&call(&other, "delete_note", json!({"title": "b"})).await);
    assert_eq!(heard(&mut rx).await, "list_changed");

    // Unknown URIs are refused by name, never silently accepted.
    let err = watcher
        .subscribe(SubscribeRequestParams::new("persist://nothing/x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nothing"), "{err}");
    let err = watcher
        .read_resource(ReadResourceRequestParams::new("file:///etc/passwd"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a record URI"), "{err}");
    other.cancel().await.unwrap();
    watcher.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_by_another_process_reaches_a_listen_subscription() {
    let data = tempfile::tempdir().unwrap();
    let other = connect("quickstart", data.path(), false).await;
    mcp::structured(&call(&other, "set_note", note("a", "first")).await);

    let modern = connect("quickstart", data.path(), true).await;
    let filter = SubscriptionFilter::builder()
        .resource_subscription(NOTE_A)
        .resource_subscription("persist://nothing/x")
        .resources_list_changed()
        .build();
    let mut subscription = modern.listen(filter).await.expect("listen");
    // What is not ours is not accepted.
    assert_eq!(
        subscription
            .acknowledged()
            .resource_subscriptions
            .as_deref(),
        Some(&[NOTE_A.to_owned()][..])
    );
    mcp::structured(&call(&other, "set_note", note("a", "second")).await);
    match notification(&mut subscription).await {
        ServerNotification::ResourceUpdatedNotification(n) => assert_eq!(n.params.uri, NOTE_A),
        other => panic!("expected resources/updated, got {other:?}"),
    }
    mcp::structured(&call(&other, "set_note", note("c", "new")).await);
    let next = notification(&mut subscription).await;
    assert!(
        matches!(next, ServerNotification::ResourceListChangedNotification(_)),
        "{next:?}"
    );
    subscription.cancel().await.expect("cancel");
    other.cancel().await.unwrap();
    modern.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_paginated_and_skip_nothing() {
    let data = tempfile::tempdir().unwrap();
    let client = connect("quickstart", data.path(), false).await;
    for i in 0..230 {
        mcp::structured(&call(&client, "set_note", note(&format!("n{i:03}"), "x")).await);
    }
    mcp::structured(
        &call(
            &client,
            "set_preferences",
            json!({"language": "en", "concise": true}),
        )
        .await,
    );
    let mut uris = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .list_resources(Some(PaginatedRequestParams::default().with_cursor(cursor)))
            .await
            .expect("list");
        assert!(page.resources.len() <= 100);
        uris.extend(page.resources.into_iter().map(|r| r.uri));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(uris.len(), 231);
    assert_eq!(uris[0], "persist://note/notes/n000");
    assert_eq!(uris[229], "persist://note/notes/n229");
    assert_eq!(uris[230], "persist://preferences/preferences");
    let err = client
        .list_resources(Some(
            PaginatedRequestParams::default().with_cursor(Some("@someone/note:x".into())),
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cursor"), "{err}");
    client.cancel().await.unwrap();
}

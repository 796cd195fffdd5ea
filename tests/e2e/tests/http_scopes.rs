//! The HTTP example (`notes_http`) driven by real rmcp clients over loopback
//! HTTP: each bearer token is a user, no user reaches another's records
//! (hostile user names included), requests without a known token never
//! reach MCP, state survives a restart, and two processes on one store add
//! up exactly.

mod mcp;
#[path = "../../common/redis_server.rs"]
mod redis_server;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mcp::{
    Client, JSON_RPC_HEADERS, assert_refused, exits_within, http_exchange, signal, structured, text,
};
use mcp_persist::{Scope, Store};
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ProtocolVersion, ReadResourceRequestParams,
    ServerNotification, SubscriptionFilter,
};
use rmcp::service::{ClientLifecycleMode, serve_client_with_lifecycle};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

/// Tokens and users: alice, bob, and users whose names try to reach into
/// alice's keys once put in a stored key.
const USERS: [(&str, &str); 7] = [
    ("tokA", "alice"),
    ("tokB", "bob"),
    ("tokC", "alice/note:notes"),
    ("tokD", "@alice"),
    ("tokE", "alice%2F"),
    ("tokF", "ali"),
    ("tokG", "alice/"),
];

/// What no test step may take longer than.
const LIMIT: Duration = Duration::from_secs(30);

/// A directory with the store's data and the tokens file (owner-only),
/// and the Redis server holding the store instead, if any.
struct Place {
    _dir: tempfile::TempDir,
    data: PathBuf,
    tokens: PathBuf,
    redis: Option<redis_server::RedisServer>,
}

/// A [`place`] whose store is on a Redis server of its own (`None` where
/// `redis-server` is missing outside CI).
fn place_on_redis() -> Option<Place> {
    let server = redis_server::RedisServer::start()?;
    Some(Place {
        redis: Some(server),
        ..place()
    })
}

fn place() -> Place {
    let dir = tempfile::tempdir().expect("a temp dir");
    let data = dir.path().join("data");
    let tokens = dir.path().join("tokens");
    let lines: String = USERS.iter().map(|(t, u)| format!("{t}={u}\n")).collect();
    std::fs::write(&tokens, lines).expect("write tokens");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    Place {
        _dir: dir,
        data,
        tokens,
        redis: None,
    }
}

/// A running `notes_http`, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts the example on a free port, waits (bounded) for it to listen.
    fn start(place: &Place) -> Self {
        Self::start_with(place, &[])
    }

    /// [`start`](Self::start) with more arguments (`--sessions`).
    fn start_with(place: &Place, args: &[&str]) -> Self {
        let mut command = Command::new(mcp::example_with("notes_http", &["http", "redis"]));
        match &place.redis {
            Some(server) => command.env(mcp_persist::settings::URL_ENV_VAR, server.url()),
            None => command.env_remove(mcp_persist::settings::URL_ENV_VAR),
        };
        let mut child = command
            .args(["--port", "0", "--tokens"])
            .arg(&place.tokens)
            .args(args)
            .env("MCP_PERSIST_DIR", &place.data)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn notes_http");
        let stderr = child.stderr.take().expect("stderr");
        let (lines, from_server) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let port = loop {
            let line = from_server
                .recv_timeout(LIMIT)
                .expect("notes_http did not say it listens (exited or hung)");
            if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
                break rest
                    .split('/')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("a port");
            }
        };
        Self { child, port }
    }

    /// SIGTERM; the server must exit cleanly in a few seconds, even with
    /// clients still connected.
    fn stop(mut self) {
        signal(&self.child, "TERM");
        let status = exits_within(&mut self.child, Duration::from_secs(5), "SIGTERM");
        assert!(status.success(), "notes_http exited with {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of `server` with bearer `token`: the 2026-07-28 lifecycle if
/// `modern`, else `initialize` and a session.
async fn connect(server: &Server, token: &str, modern: bool) -> Result<Client, String> {
    let url = format!("http://127.0.0.1:{}/mcp", server.port);
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    let transport = StreamableHttpClientTransport::from_config(config);
    let connecting = async {
        if modern {
            let lifecycle = ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            };
            serve_client_with_lifecycle((), transport, lifecycle)
                .await
                .map_err(|e| e.to_string())
        } else {
            ().serve(transport).await.map_err(|e| e.to_string())
        }
    };
    tokio::time::timeout(LIMIT, connecting)
        .await
        .map_err(|_| format!("connecting took over {LIMIT:?}"))?
}

async fn user(server: &Server, token: &str, modern: bool) -> Client {
    connect(server, token, modern)
        .await
        .unwrap_or_else(|e| panic!("{token} cannot connect: {e}"))
}

async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    let request = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
    tokio::time::timeout(LIMIT, client.call_tool(request))
        .await
        .unwrap_or_else(|_| panic!("{tool} took over {LIMIT:?}"))
        .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
}

/// `tool`'s structured answer (a failed call fails the test).
async fn ask(client: &Client, tool: &str, args: Value) -> Value {
    structured(&call(client, tool, args).await).clone()
}

/// Everything of one user that the tools show.
async fn everything(client: &Client) -> Value {
    json!({
        "note": ask(client, "get_note", json!({"title": "plan"})).await,
        "notes": ask(client, "list_note", json!({})).await["records"],
        "preferences": ask(client, "get_preferences", json!({})).await,
        "history": ask(client, "recent_history", json!({})).await["items"],
        "counter": ask(client, "get_counter", json!({})).await,
    })
}

/// Writes a record of every kind as the user of `client`.
async fn write_everything(client: &Client, whose: &str) {
    let note = json!({"title": "plan", "text": format!("{whose}'s plan")});
    ask(client, "set_note", note).await;
    ask(
        client,
        "set_preferences",
        json!({"language": whose, "concise": true}),
    )
    .await;
    ask(
        client,
        "add_history",
        json!({"event": format!("{whose} wrote")}),
    )
    .await;
    let bumped = call(client, "bump_counter", json!({})).await;
    assert_eq!(text(&bumped), "1", "{whose}'s first bump");
}

fn open_store(place: &Place) -> Store {
    match &place.redis {
        Some(server) => Store::connect(&server.url(), "notes-http").expect("connect"),
        None => Store::open_at(place.data.join("notes-http")).expect("open the example's store"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_user_reaches_another_users_records_through_any_tool() {
    no_user_reaches_another_users_records(place()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_no_user_reaches_another_users_records_through_any_tool() {
    if let Some(place) = place_on_redis() {
        no_user_reaches_another_users_records(place).await;
    }
}

async fn no_user_reaches_another_users_records(place: Place) {
    let server = Server::start(&place);
    let alice = user(&server, "tokA", true).await;
    write_everything(&alice, "alice").await;
    let before = everything(&alice).await;
    assert_eq!(before["note"]["stored"]["record"]["text"], "alice's plan");

    for (i, (token, name)) in USERS.iter().enumerate().skip(1) {
        let other = user(&server, token, i % 2 == 0).await;
        let seen = everything(&other).await;
        let nothing = json!({
            "note": {"found": false}, "notes": [], "preferences": {"found": false},
            "history": [], "counter": {"found": false},
        });
        assert_eq!(seen, nothing, "{name} sees nothing of alice's");
        // Nor through resources: no listing, no read, whatever the URI.
        let listed = other.list_resources(None).await.expect("list resources");
        assert!(
            listed.resources.is_empty(),
            "{name} lists {:?}",
            listed.resources
        );
        for uri in [
            "persist://note/notes/plan",
            "persist://note/..%2F@alice%2Fnote:notes/plan",
            "persist://preferences/preferences",
        ] {
            let read = other
                .read_resource(ReadResourceRequestParams::new(uri))
                .await;
            assert!(read.is_err(), "{name} read {uri}: {read:?}");
        }
        // Titles that would reach alice's record if keys were not escaped.
        for title in [
            "../@alice/note:notes/plan",
            "@alice/note:notes/plan",
            "%2F..%2F@alice",
        ] {
            let got = ask(&other, "get_note", json!({"title": title})).await;
            assert_eq!(got["found"], false, "{name} guessing {title:?}");
        }
        // A cursor naming alice's key is refused, not followed.
        let paged = call(
            &other,
            "list_note",
            json!({"cursor": "@alice/note:notes/plan"}),
        )
        .await;
        assert_refused(&paged, &["cursor"]);
        // Writes through every tool leave alice's records alone.
        let hijack = json!({"title": "plan", "text": "hijacked"});
        assert_eq!(ask(&other, "update_note", hijack).await["found"], false);
        assert_eq!(
            ask(&other, "delete_note", json!({"title": "plan"})).await["deleted"],
            false
        );
        let prefs = json!({"language": "xx"});
        assert_eq!(
            ask(&other, "update_preferences", prefs).await["found"],
            false
        );
        assert_eq!(
            ask(&other, "delete_preferences", json!({})).await["deleted"],
            false
        );
        assert_eq!(ask(&other, "clear_history", json!({})).await["cleared"], 0);
        // Their own writes land in their own records.
        write_everything(&other, name).await;
        other.cancel().await.expect("close");
    }
    assert_eq!(
        everything(&alice).await,
        before,
        "alice's records are untouched"
    );

    // On disk: each user's plan under that user's scope, holding their text.
    let store = open_store(&place);
    let plans: BTreeMap<String, Value> = store
        .admin()
        .scan("", None)
        .expect("scan")
        .into_iter()
        .filter(|record| record.key.ends_with(":notes/plan"))
        .map(|record| {
            let envelope = store.admin().get_envelope(&record.key).expect("read");
            let scope = record.scope().expect("a per-user record");
            (scope, envelope.expect("present")["d"]["text"].clone())
        })
        .collect();
    let expected: BTreeMap<String, Value> = USERS
        .iter()
        .map(|(_, name)| (name.to_string(), json!(format!("{name}'s plan"))))
        .collect();
    assert_eq!(plans, expected);
    for (_, name) in USERS {
        let prefix = Scope::new(name).expect("a scope").key_prefix().to_owned();
        let keys = store.admin().raw_keys(&prefix).expect("keys");
        assert_eq!(
            keys.len(),
            4,
            "{name}: note, preferences, history item, counter: {keys:?}"
        );
    }
    alice.cancel().await.expect("close");
    server.stop();
}

/// One raw HTTP/1.1 POST of a JSON-RPC `body` to `/mcp` (legacy protocol
/// version): the status and the whole response.
fn post(
    port: u16,
    authorization: Option<&str>,
    body: &Value,
    session: Option<&str>,
) -> (u16, String) {
    let auth = authorization.map_or(String::new(), |a| format!("\r\nAuthorization: {a}"));
    let session = session.map_or(String::new(), |s| format!("\r\nMcp-Session-Id: {s}"));
    let head = format!(
        "POST /mcp HTTP/1.1\r\n{JSON_RPC_HEADERS}\r\nMCP-Protocol-Version: 2025-06-18{auth}{session}"
    );
    http_exchange(port, &head, &body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_known_token_get_401_and_touch_nothing() {
    let place = place();
    let server = Server::start(&place);
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"}}});
    let set_note = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "set_note", "arguments": {"title": "plan", "text": "intruder"}}});
    for authorization in [
        None,
        Some("Bearer tokZ"),
        Some("Bearer tokAA"),
        Some("Bearer "),
        Some("Basic dG9rQTo="),
        Some("tokA"),
    ] {
        for body in [&initialize, &set_note] {
            let (status, response) =
                tokio::task::block_in_place(|| post(server.port, authorization, body, None));
            assert_eq!(status, 401, "{authorization:?}: {response}");
            let lower = response.to_ascii_lowercase();
            assert!(
                lower.contains("www-authenticate: bearer realm=\"mcp\""),
                "{response}"
            );
            assert_eq!(
                lower.contains("error=\"invalid_token\""),
                authorization.is_some(),
                "{authorization:?}: {response}"
            );
        }
    }
    let refused = connect(&server, "tokZ", true).await;
    assert!(refused.is_err(), "an unknown token does not connect");
    let refused = connect(&server, "tokZ", false).await;
    assert!(refused.is_err(), "an unknown token does not connect");
    assert_eq!(
        open_store(&place).admin().raw_keys("").expect("keys"),
        Vec::<String>::new()
    );

    // The probe was able to write: the same call with a known token does.
    let (status, _) =
        tokio::task::block_in_place(|| post(server.port, Some("Bearer tokA"), &initialize, None));
    assert_eq!(status, 200);
    let alice = user(&server, "tokA", true).await;
    ask(
        &alice,
        "set_note",
        json!({"title": "plan", "text": "alice's"}),
    )
    .await;
    let keys = open_store(&place).admin().raw_keys("").expect("keys");
    assert_eq!(keys, ["@alice/note:notes/plan"]);
    alice.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_each_user_finds_their_state() {
    let place = place();
    let server = Server::start_with(&place, &["--sessions"]);
    let alice = user(&server, "tokA", false).await;
    let bob = user(&server, "tokB", true).await;
    write_everything(&alice, "alice").await;
    write_everything(&bob, "bob").await;
    let (alice_before, bob_before) = (everything(&alice).await, everything(&bob).await);
    // Stopped with both clients connected (alice's legacy session holds an
    // SSE stream open): it still stops within the bound, cleanly.
    tokio::task::block_in_place(|| server.stop());
    drop((alice, bob));

    let server = Server::start(&place);
    let alice = user(&server, "tokA", true).await;
    let bob = user(&server, "tokB", false).await;
    assert_eq!(everything(&alice).await, alice_before);
    assert_eq!(everything(&bob).await, bob_before);
    assert_eq!(
        everything(&alice).await["note"]["stored"]["record"]["text"],
        "alice's plan"
    );
    alice.cancel().await.expect("close");
    bob.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_store_count_every_increment_once() {
    count_every_increment_once(place()).await;
}

/// Two replicas on one Redis, as a deployment behind a load balancer runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_redis_count_every_increment_once() {
    if let Some(place) = place_on_redis() {
        count_every_increment_once(place).await;
    }
}

async fn count_every_increment_once(place: Place) {
    const CLIENTS: usize = 4;
    const BUMPS: usize = 100;
    let one = Server::start(&place);
    let two = Server::start_with(&place, &["--sessions"]);
    let via_one = user(&one, "tokA", true).await;
    let via_two = user(&two, "tokA", false).await;
    ask(
        &via_one,
        "set_note",
        json!({"title": "plan", "text": "written via one"}),
    )
    .await;
    let read = ask(&via_two, "get_note", json!({"title": "plan"})).await;
    assert_eq!(read["stored"]["record"]["text"], "written via one");

    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let server = if i % 2 == 0 { &one } else { &two };
        clients.push(user(server, "tokA", i < 2).await);
    }
    let runs = clients.into_iter().map(|client| {
        tokio::spawn(async move {
            let mut seen = Vec::with_capacity(BUMPS);
            for _ in 0..BUMPS {
                let bumped = call(&client, "bump_counter", json!({})).await;
                seen.push(text(&bumped).parse::<u64>().expect("the new value"));
            }
            client.cancel().await.expect("close");
            seen
        })
    });
    let mut values = Vec::new();
    for run in runs.collect::<Vec<_>>() {
        values.extend(run.await.expect("a client's run"));
    }
    values.sort_unstable();
    let expected: Vec<u64> = (1..=(CLIENTS * BUMPS) as u64).collect();
    assert_eq!(values, expected, "every bump saw a value of its own");
    for client in [&via_one, &via_two] {
        let counter = ask(client, "get_counter", json!({})).await;
        assert_eq!(
            counter["stored"]["record"]["value"],
            (CLIENTS * BUMPS) as u64
        );
    }
}

/// `DELETE /mcp` of `session` (ends it): the status and the response.
fn delete(port: u16, token: &str, session: &str) -> (u16, String) {
    let head = format!(
        "DELETE /mcp HTTP/1.1\r\nAuthorization: Bearer {token}\r\nMcp-Session-Id: {session}\r\n\
         MCP-Protocol-Version: 2025-06-18"
    );
    http_exchange(port, &head, "")
}

/// The `Mcp-Session-Id` of a legacy `initialize` answer.
fn session_id(response: &str) -> String {
    response
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("mcp-session-id")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no session id in {response}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opened_by_one_user_is_no_key_to_their_records() {
    let place = place();
    let server = Server::start_with(&place, &["--sessions"]);
    let alice = user(&server, "tokA", true).await;
    ask(
        &alice,
        "set_note",
        json!({"title": "plan", "text": "alice's plan"}),
    )
    .await;

    // Bob presents alice's session id (say it leaked) with his own token:
    // he acts as bob, in bob's records.
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"}}});
    let port = server.port;
    let written = tokio::task::block_in_place(|| {
        let (status, response) = post(port, Some("Bearer tokA"), &initialize, None);
        assert_eq!(status, 200, "{response}");
        let session = session_id(&response);
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let (status, response) = post(port, Some("Bearer tokA"), &initialized, Some(&session));
        assert_eq!(status, 202, "{response}");
        let overwrite = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "set_note", "arguments": {"title": "plan", "text": "bob's"}}});
        let written = post(port, Some("Bearer tokB"), &overwrite, Some(&session));
        let (status, response) = delete(port, "tokA", &session);
        assert_eq!(
            status, 204,
            "ending a session is 204 No Content: {response}"
        );
        written
    });
    assert_eq!(written.0, 200, "{}", written.1);
    let mine = ask(&alice, "get_note", json!({"title": "plan"})).await;
    assert_eq!(mine["stored"]["record"]["text"], "alice's plan");
    let keys = open_store(&place).admin().raw_keys("").expect("keys");
    assert_eq!(keys, ["@alice/note:notes/plan", "@bob/note:notes/plan"]);
    alice.cancel().await.expect("close");
}

/// A user listening to their records hears of their own changes only, and
/// of changes another server process (a replica) made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listening_user_hears_of_their_own_records_only() {
    let place = place();
    let server = Server::start(&place);
    let replica = Server::start(&place);
    let alice = user(&replica, "tokA", true).await;
    let bob = user(&server, "tokB", true).await;
    let filter = SubscriptionFilter::builder()
        .resource_subscription("persist://note/notes/plan")
        .resource_subscription("persist://note/notes/secret")
        .build();
    let mut heard = tokio::time::timeout(LIMIT, bob.listen(filter))
        .await
        .expect("listen in time")
        .expect("listen");
    // Bob hears his own first: from here his subscription is in place.
    ask(&bob, "set_note", json!({"title": "plan", "text": "bob's"})).await;
    assert_eq!(next_uri(&mut heard).await, "persist://note/notes/plan");
    // Alice's changes come next in the store's log; then one of bob's.
    ask(
        &alice,
        "set_note",
        json!({"title": "secret", "text": "alice's"}),
    )
    .await;
    ask(
        &alice,
        "set_note",
        json!({"title": "plan", "text": "alice's"}),
    )
    .await;
    ask(
        &bob,
        "set_note",
        json!({"title": "plan", "text": "bob's again"}),
    )
    .await;
    // A leak of alice's would be told before (or with) bob's second change.
    assert_eq!(
        next_uri(&mut heard).await,
        "persist://note/notes/plan",
        "bob hears nothing of alice's records"
    );
    heard.cancel().await.expect("cancel");
    bob.cancel().await.expect("close");
    alice.cancel().await.expect("close");
    server.stop();
    replica.stop();
}

/// A listening user keeps hearing of changes after the Redis server under
/// the replicas was killed and restarted: the server's feed reads again
/// from where it was, the subscription is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_outlives_a_restart_of_redis() {
    let Some(mut place) = place_on_redis() else {
        return;
    };
    let server = Server::start(&place);
    let bob = user(&server, "tokB", true).await;
    let filter = SubscriptionFilter::builder()
        .resource_subscription("persist://note/notes/plan")
        .build();
    let mut heard = tokio::time::timeout(LIMIT, bob.listen(filter))
        .await
        .expect("listen in time")
        .expect("listen");
    let plan = |text: &str| json!({"title": "plan", "text": text});
    ask(&bob, "set_note", plan("before")).await;
    assert_eq!(next_uri(&mut heard).await, "persist://note/notes/plan");
    let redis = place.redis.as_mut().expect("on redis");
    redis.kill();
    redis.restart();
    ask(&bob, "set_note", plan("after")).await;
    assert_eq!(next_uri(&mut heard).await, "persist://note/notes/plan");
    heard.cancel().await.expect("cancel");
    bob.cancel().await.expect("close");
    server.stop();
}

/// `resources/subscribe` needs a session that lasts: on the stateless
/// server (the default) it is refused, saying what to use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_subscribe_without_a_session_is_refused_with_the_way_out() {
    let place = place();
    let server = Server::start(&place);
    let alice = user(&server, "tokA", false).await;
    #[allow(deprecated)]
    let refused = alice
        .subscribe(rmcp::model::SubscribeRequestParams::new(
            "persist://note/notes/plan",
        ))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("subscriptions/listen"),
        "{refused}"
    );
    alice.cancel().await.expect("close");
    server.stop();
}

/// The URI of the next `resources/updated` of a listen, within [`LIMIT`].
async fn next_uri(heard: &mut rmcp::service::Subscription) -> String {
    let next = tokio::time::timeout(LIMIT, heard.next()).await;
    match next.expect("in time").expect("alive").expect("not ended") {
        ServerNotification::ResourceUpdatedNotification(n) => n.params.uri,
        other => panic!("{other:?}"),
    }
}

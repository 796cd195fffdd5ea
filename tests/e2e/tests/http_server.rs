//! `HttpServer` in process, behind a `TrustedHeader` (a proxy names the
//! user): rmcp's client through it, the door's answers to what is not MCP or
//! names no user, and a stop that returns while a client is connected.

mod mcp;

use std::collections::HashMap;
use std::time::Duration;

use mcp::{JSON_RPC_HEADERS, http_exchange};

use mcp_persist::tools::ToolServer;
use mcp_persist::tools::http::{HttpServer, ProtectedResource, TrustedHeader};
use mcp_persist::{Store, persisted};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A memo, kept per user.
#[persisted(key = "memos/{id}", scope = "user", tools)]
struct Memo {
    id: String,
    text: String,
}

const LIMIT: Duration = Duration::from_secs(20);

/// A server on a free loopback port behind a `TrustedHeader`; sending on the
/// returned channel stops it.
async fn serve(store: &Store) -> (u16, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    serve_with(store, |server, _| server).await
}

/// [`serve`], the `HttpServer` changed by `configure` (given the port).
async fn serve_with(
    store: &Store,
    configure: impl FnOnce(HttpServer<ToolServer>, u16) -> HttpServer<ToolServer>,
) -> (u16, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("an address").port();
    let server = ToolServer::new("memos", "1.0.0", Memo::tools(store));
    let resolver = TrustedHeader::new("X-User").expect("a header name");
    let server = configure(HttpServer::new(server, resolver), port);
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        server
            .serve_on(listener, async move {
                let _ = stopped.await;
            })
            .await
            .expect("served");
    });
    (port, stop, running)
}

async fn client(port: u16, user: &str) -> RunningService<RoleClient, ()> {
    let headers = HashMap::from([(
        http::HeaderName::from_static("x-user"),
        http::HeaderValue::from_str(user).expect("a header value"),
    )]);
    let config =
        StreamableHttpClientTransportConfig::with_uri(format!("http://127.0.0.1:{port}/mcp"))
            .custom_headers(headers);
    let transport = StreamableHttpClientTransport::from_config(config);
    tokio::time::timeout(LIMIT, ().serve(transport))
        .await
        .expect("connect in time")
        .expect("connect")
}

async fn ask(client: &RunningService<RoleClient, ()>, tool: &str, args: Value) -> Value {
    let Value::Object(args) = args else {
        panic!("an object")
    };
    let request = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
    let result = tokio::time::timeout(LIMIT, client.call_tool(request))
        .await
        .expect("in time")
        .expect("a tool result");
    assert_ne!(result.is_error, Some(true), "{tool}: {:?}", result.content);
    result.structured_content.expect("structured content")
}

/// `head` (a request line and headers) with a `tools/list` body: the
/// status and the whole response.
fn raw(port: u16, head: &str) -> (u16, String) {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    http_exchange(port, &format!("{head}\r\n{JSON_RPC_HEADERS}"), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_header_names_the_user_and_the_door_refuses_the_rest() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::open_at(dir.path().join("memos")).expect("a store");
    let (port, stop, running) = serve(&store).await;

    let alice = client(port, "alice").await;
    ask(&alice, "set_memo", json!({"id": "m", "text": "alice's"})).await;
    let bob = client(port, "bob").await;
    assert_eq!(
        ask(&bob, "get_memo", json!({"id": "m"})).await["found"],
        false
    );
    let mine = ask(&alice, "get_memo", json!({"id": "m"})).await;
    assert_eq!(mine["stored"]["record"]["text"], "alice's");

    let (status, response) = tokio::task::block_in_place(|| raw(port, "POST /other HTTP/1.1"));
    assert_eq!(status, 404, "{response}");
    assert!(response.contains("the MCP endpoint is /mcp"), "{response}");
    let (status, response) = tokio::task::block_in_place(|| raw(port, "POST /mcp HTTP/1.1"));
    assert_eq!(status, 401, "no header: {response}");
    assert!(response.contains("no x-user header"), "{response}");
    let (status, response) =
        tokio::task::block_in_place(|| raw(port, "POST /mcp HTTP/1.1\r\nX-User: "));
    assert_eq!(status, 401, "an empty user: {response}");
    assert!(response.contains("invalid_token"), "{response}");
    assert!(response.contains("it is empty"), "{response}");

    // Stopped with both clients connected: serve_on returns, promptly.
    stop.send(()).expect("the server is running");
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("serve_on returned within 5 s of the stop")
        .expect("the server task");
    let keys = store.admin().raw_keys("").expect("keys");
    assert_eq!(keys, ["@alice/memo:memos/m"]);
    drop((alice, bob));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_resource_publishes_its_metadata_and_names_it_in_every_401() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::open_at(dir.path().join("memos")).expect("a store");
    let (port, stop, running) = serve_with(&store, |server, port| {
        let resource = ProtectedResource::new(
            &format!("http://127.0.0.1:{port}/mcp"),
            ["https://auth.example.com"],
        )
        .expect("a resource")
        .scopes(["memos"]);
        server.protected_resource(resource)
    })
    .await;
    let metadata_url = format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp");

    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let (status, response) = tokio::task::block_in_place(|| {
            http_exchange(port, &format!("GET {path} HTTP/1.1"), "")
        });
        assert_eq!(status, 200, "{path}: {response}");
        let body = response.split("\r\n\r\n").nth(1).expect("a body");
        let document: Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(document["resource"], format!("http://127.0.0.1:{port}/mcp"));
        assert_eq!(
            document["authorization_servers"],
            json!(["https://auth.example.com"])
        );
        assert_eq!(document["scopes_supported"], json!(["memos"]));
    }
    let (status, response) = tokio::task::block_in_place(|| raw(port, "POST /mcp HTTP/1.1"));
    assert_eq!(status, 401, "{response}");
    let challenge = response
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .expect("a challenge");
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{challenge}"
    );
    // Authenticated requests are served as before.
    let alice = client(port, "alice").await;
    ask(&alice, "set_memo", json!({"id": "m", "text": "hi"})).await;
    stop.send(()).expect("the server is running");
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("stopped in time")
        .expect("the server task");
    drop(alice);
}

//! Many clients over streamable HTTP, each its own user: set+get pairs of a
//! per-user note against `examples/notes_http` and against FastMCP with
//! bearer tokens and py-key-value's DiskStore (`bench/fastmcp_http_server.py`),
//! both driven by the same rmcp client, at 1, 16 and 64 concurrent clients.
//! Prints a Markdown table: pairs per second, p50 and p99 of a pair, and the
//! ratio of the two servers' throughput measured in the same run.
//!
//! Run it through `bench/compare-fastmcp.sh`, which installs FastMCP in a
//! throwaway virtualenv and builds the Rust server; or set
//! `HTTP_BENCH_RUST_SERVER` (the built `notes_http`) and, for the Python
//! side, `HTTP_BENCH_PYTHON` and `HTTP_BENCH_PYTHON_SERVER`.
//! `HTTP_BENCH_CLIENTS` (default `1,16,64`) and `HTTP_BENCH_SECS` (default 3,
//! per level) bound the load. Under `cargo test` it does nothing.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod mcp_client;

use mcp_client::{CALL_LIMIT, Client, call};
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

/// The most clients of a level: as many users are given tokens.
const MAX_CLIENTS: usize = 64;
/// How long a server may take to listen.
const START_LIMIT: Duration = Duration::from_secs(60);

/// How to start a server: on a port, with a store directory and tokens.
type StartCommand = Box<dyn Fn(u16, &Path, &str) -> Command>;

/// One server under test.
struct Server {
    label: &'static str,
    command: StartCommand,
}

/// A running server process, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tok0=user0,tok1=user1,...`: one token per user.
fn tokens() -> String {
    (0..MAX_CLIENTS)
        .map(|i| format!("tok{i}=user{i}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts `server` and waits (bounded) until its port takes connections.
fn start(server: &Server, data: &Path) -> (Running, u16) {
    let port = free_port();
    let child = (server.command)(port, data, &tokens())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the {} server: {e}", server.label));
    let running = Running(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + START_LIMIT;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the {} server did not listen on {addr} within {START_LIMIT:?}",
            server.label
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (running, port)
}

/// Each client's HTTP client keeps its connection between calls, as the
/// Python SDK's httpx and browsers do. rmcp's default client opens a new TCP
/// connection per message (`pool_max_idle_per_host(0)`, against a delayed-ACK
/// stall on SSE bodies left unread); set `HTTP_BENCH_FRESH_CONNECTIONS=1` to
/// measure that instead.
fn http_client() -> reqwest::Client {
    let fresh = std::env::var_os("HTTP_BENCH_FRESH_CONNECTIONS").is_some_and(|v| v == "1");
    let builder = reqwest::Client::builder();
    let builder = if fresh {
        builder.pool_max_idle_per_host(0)
    } else {
        builder
    };
    builder.build().expect("an HTTP client")
}

async fn connect(port: u16, client: usize) -> Client {
    let config =
        StreamableHttpClientTransportConfig::with_uri(format!("http://127.0.0.1:{port}/mcp"))
            .auth_header(format!("tok{client}"));
    let transport = StreamableHttpClientTransport::with_client(http_client(), config);
    tokio::time::timeout(CALL_LIMIT, ().serve(transport))
        .await
        .expect("connect in time")
        .expect("connect")
}

/// One level of load: what it did and how long its pairs took.
struct Level {
    pairs_per_sec: f64,
    p50: Duration,
    p99: Duration,
}

/// `clients` clients, each its own user, each doing set+get pairs for `secs`.
async fn level(port: u16, clients: usize, secs: Duration) -> Level {
    let mut connected = Vec::new();
    for i in 0..clients {
        connected.push(Arc::new(connect(port, i).await));
    }
    // Warm up: every client's first pair (connections, sessions) is not timed.
    for (i, client) in connected.iter().enumerate() {
        pair(client, i, 0).await;
    }
    let start = Instant::now();
    let deadline = start + secs;
    let mut tasks = Vec::new();
    for (i, client) in connected.iter().enumerate() {
        let client = Arc::clone(client);
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                pair(&client, i, n).await;
                times.push(t.elapsed());
                n += 1;
            }
            times
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.expect("a client task"));
    }
    let wall = start.elapsed();
    for client in connected {
        if let Ok(client) = Arc::try_unwrap(client) {
            let _ = client.cancel().await;
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    Level {
        pairs_per_sec: times.len() as f64 / wall.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// One set+get pair of client `i`'s note number `n` (10 notes per user).
async fn pair(client: &Client, i: usize, n: usize) {
    let title = format!("note{}", n % 10);
    let text = format!("user {i} wrote note {n}");
    call(client, "set_note", json!({"title": title, "text": text})).await;
    let got = call(client, "get_note", json!({"title": title})).await;
    assert_eq!(
        got["stored"]["record"]["text"], text,
        "a get after a set reads the set"
    );
}

fn servers() -> Vec<Server> {
    let mut servers = Vec::new();
    if let Ok(program) = std::env::var("HTTP_BENCH_RUST_SERVER") {
        let program = PathBuf::from(program);
        servers.push(Server {
            label: "mcp-persist (notes_http)",
            command: Box::new(move |port, data, tokens| {
                let mut cmd = Command::new(&program);
                cmd.args(["--port", &port.to_string()])
                    .env("MCP_PERSIST_DIR", data)
                    .env("NOTES_HTTP_TOKENS", tokens)
                    .env("RUST_LOG", "warn");
                cmd
            }),
        });
    }
    if let (Ok(python), Ok(script)) = (
        std::env::var("HTTP_BENCH_PYTHON"),
        std::env::var("HTTP_BENCH_PYTHON_SERVER"),
    ) {
        servers.push(Server {
            label: "FastMCP + DiskStore",
            command: Box::new(move |port, data, tokens| {
                let mut cmd = Command::new(&python);
                cmd.arg(&script)
                    .env("FASTMCP_STORE_DIR", data)
                    .env("FASTMCP_PORT", port.to_string())
                    .env("FASTMCP_TOKENS", tokens);
                cmd
            }),
        });
    }
    servers
}

fn main() {
    let servers = servers();
    if servers.is_empty() {
        println!(
            "http_load: set HTTP_BENCH_RUST_SERVER (and HTTP_BENCH_PYTHON, \
             HTTP_BENCH_PYTHON_SERVER), or run bench/compare-fastmcp.sh; nothing to do"
        );
        return;
    }
    let levels: Vec<usize> = std::env::var("HTTP_BENCH_CLIENTS")
        .unwrap_or_else(|_| "1,16,64".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .filter(|n| (1..=MAX_CLIENTS).contains(n))
        .collect();
    let secs = Duration::from_secs(
        std::env::var("HTTP_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut rows: Vec<(usize, &'static str, Level)> = Vec::new();
    for server in &servers {
        let data = tempfile::tempdir().expect("a temp dir");
        let (_running, port) = start(server, data.path());
        for &clients in &levels {
            let figures = runtime.block_on(level(port, clients, secs));
            eprintln!(
                "{} with {clients} clients: {:.0} pairs/s",
                server.label, figures.pairs_per_sec
            );
            rows.push((clients, server.label, figures));
        }
    }
    println!("| clients | server | set+get pairs/s | p50 | p99 | throughput vs FastMCP |");
    println!("|---:|---|---:|---:|---:|---:|");
    for (clients, label, figures) in &rows {
        let python = rows
            .iter()
            .find(|(c, l, _)| c == clients && l.starts_with("FastMCP"))
            .map(|(_, _, f)| f.pairs_per_sec);
        let ratio = python.map_or("-".to_owned(), |p| {
            format!("{:.1}x", figures.pairs_per_sec / p)
        });
        println!(
            "| {clients} | {label} | {:.0} | {:.2} ms | {:.2} ms | {ratio} |",
            figures.pairs_per_sec,
            figures.p50.as_secs_f64() * 1e3,
            figures.p99.as_secs_f64() * 1e3,
        );
    }
}

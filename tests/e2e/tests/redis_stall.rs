//! A tool call that waits on a stopped Redis server does not hold up the
//! other requests of a server on a `current_thread` runtime (what every
//! stdio server of the README runs): tool reads go through the operation
//! layer's one rule, which sends a read that waits on the network to
//! tokio's blocking pool.
//!
//! A server of this test's own (the generated tools of one type over a
//! store on a `redis-server` of its own), a real rmcp client, an in-memory
//! pipe between them; the Redis server is stopped with SIGSTOP.

#[path = "../../common/redis_server.rs"]
mod redis_server;

use std::process::Command;
use std::time::{Duration, Instant};

use mcp_persist::tools::ToolServer;
use mcp_persist::{Store, persisted};
use redis_server::RedisServer;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::json;

/// A note, by title.
#[persisted(key = "notes/{title}", tools)]
struct Note {
    title: String,
    text: String,
}

/// How long the store waits for Redis: the stalled read's whole wait.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(3);

/// What "not held up" means: another request is answered within this.
const PROMPT: Duration = Duration::from_millis(100);

/// Sends SIGSTOP to `pid` now and SIGCONT when dropped (so the server can
/// be shut down whatever the test did).
struct Stopped(u32);

impl Stopped {
    fn new(pid: u32) -> Self {
        signal("-STOP", pid);
        Self(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

fn signal(which: &str, pid: u32) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {which} {pid} failed");
}

#[test]
fn a_tool_read_on_a_stopped_redis_does_not_hold_up_other_requests() {
    let Some(redis) = RedisServer::start() else {
        eprintln!("skipped: no redis-server on this machine");
        return;
    };
    let store = Store::builder()
        .network_timeout(NETWORK_TIMEOUT)
        .sweep_interval(None)
        .connect(&redis.url(), "stall")
        .expect("connect");
    Note {
        title: "a".into(),
        text: "hi".into(),
    }
    .save(&store)
    .blocking()
    .expect("save");

    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    let tools = Note::tools(&store);
    // The server: a current_thread runtime of its own, as a stdio server runs.
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let running = ToolServer::new("stall", "1.0.0", tools)
                .serve(tokio::io::split(server_io))
                .await
                .expect("serve");
            let _ = running.waiting().await;
        });
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");
    runtime.block_on(async {
        let client = ().serve(tokio::io::split(client_io)).await.expect("connect");
        let get = CallToolRequestParams::new("get_note").with_arguments(
            json!({"title": "a"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let before = client.call_tool(get.clone()).await.expect("get_note");
        assert_ne!(before.is_error, Some(true), "{before:?}");

        let stopped = Stopped::new(redis.pid());
        // Sent in this order on one pipe: the server reads the stalled read
        // first, then the listing.
        let stalled = client.call_tool(get);
        let listing = async {
            let sent = Instant::now();
            let tools = client.list_all_tools().await.expect("tools/list");
            (sent.elapsed(), tools.len())
        };
        let started = Instant::now();
        let (read, (listed_in, listed)) = tokio::join!(stalled, listing);
        let read_in = started.elapsed();
        drop(stopped);

        assert!(listed >= 4, "{listed} tools listed");
        assert!(
            listed_in < PROMPT,
            "tools/list waited {listed_in:?} behind a read stalled on Redis"
        );
        // The stalled read itself ends within its timeout, with an error
        // that says so (a tool error the model can read).
        let read = read.expect("get_note answered");
        assert_eq!(read.is_error, Some(true), "{read:?}");
        let text = format!("{:?}", read.content);
        assert!(text.contains("network timeout"), "{text}");
        assert!(
            read_in < NETWORK_TIMEOUT * 3,
            "the stalled read took {read_in:?}"
        );
        client.cancel().await.expect("close the client");
    });
    server.join().expect("server thread");
}

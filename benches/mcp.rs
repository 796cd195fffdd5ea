//! MCP tool calls end to end: a set + get pair through the generated tools,
//! in process (duplex pipe) and over stdio to the spawned `quickstart`
//! example. Prints p50/p99 of the pair besides criterion's estimates.
//!
//! ```text
//! cargo bench -p mcp-persist-benches --bench mcp -- --quick
//! ```

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_persist::tools::ToolServer;
use mcp_persist::{Store, persisted};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};

/// A note, by title.
#[persisted(key = "notes/{title}", tools)]
struct Note {
    title: String,
    text: String,
}

type Client = RunningService<RoleClient, ()>;

async fn pair(client: &Client, i: u64) {
    let args = |v: Value| v.as_object().cloned().unwrap_or_default();
    let title = format!("note-{}", i % 100);
    let set = CallToolRequestParams::new("set_note")
        .with_arguments(args(json!({"title": title, "text": "remember the milk"})));
    let get = CallToolRequestParams::new("get_note").with_arguments(args(json!({"title": title})));
    let r = client.call_tool(set).await.unwrap();
    assert_ne!(r.is_error, Some(true));
    let r = client.call_tool(get).await.unwrap();
    assert_ne!(r.is_error, Some(true));
}

/// Two reads of the same note (no write at all).
async fn two_gets(client: &Client) {
    for _ in 0..2 {
        let get = CallToolRequestParams::new("get_note").with_arguments(
            json!({"title": "note-0"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let r = client.call_tool(get).await.unwrap();
        assert_ne!(r.is_error, Some(true));
    }
}

/// A client connected to a `ToolServer` for `Note` over an in-process pipe.
fn in_process_client(rt: &tokio::runtime::Runtime, store: &Store) -> Client {
    rt.block_on(async {
        let (server_io, client_io) = tokio::io::duplex(1 << 16);
        let server = ToolServer::new("bench", "0", Note::tools(store));
        tokio::spawn(async move {
            let running = server.serve(server_io).await.unwrap();
            let _ = running.waiting().await;
        });
        ().serve(client_io).await.unwrap()
    })
}

fn percentiles(label: &str, rt: &tokio::runtime::Runtime, client: &Client, n: u64) {
    let mut times: Vec<Duration> = rt.block_on(async {
        let mut out = Vec::new();
        for i in 0..n {
            let start = Instant::now();
            pair(client, i).await;
            out.push(start.elapsed());
        }
        out
    });
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    eprintln!(
        "{label}: set+get pair p50 {:?}, p99 {:?} over {n} pairs",
        at(0.5),
        at(0.99)
    );
}

fn mcp(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let benching = std::env::args().any(|a| a == "--bench");
    let samples = if benching { 2000 } else { 10 };
    let mut group = c.benchmark_group("mcp_set_get_pair");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));

    // In process: client and server on the two ends of a duplex pipe; the
    // default durable store, then one without fsync (what is left is the
    // protocol and the store's own work), then two reads (no write at all).
    let dir = tempfile::tempdir().unwrap();
    let durable = Store::open_at(dir.path().join("durable")).unwrap();
    let client = in_process_client(&rt, &durable);
    let mut i = 0;
    group.bench_function("in_process_duplex", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(pair(&client, i))
        })
    });
    percentiles("in_process_duplex", &rt, &client, samples);
    let no_sync = Store::builder()
        .durability(mcp_persist::Durability::NoSync)
        .open_at(dir.path().join("nosync"))
        .unwrap();
    let client = in_process_client(&rt, &no_sync);
    group.bench_function("in_process_duplex_nosync", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(pair(&client, i))
        })
    });
    percentiles("in_process_duplex_nosync", &rt, &client, samples);
    rt.block_on(pair(&client, 0));
    group.bench_function("in_process_duplex_two_gets", |b| {
        b.iter(|| rt.block_on(two_gets(&client)))
    });

    // Over stdio to a spawned example server (only when benchmarking: under
    // `cargo test` it would build a release binary for one call).
    if !benching {
        group.finish();
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let client = rt.block_on(async {
        let mut cmd = tokio::process::Command::new(env!("CARGO"));
        cmd.args([
            "run",
            "-q",
            "--release",
            "-p",
            "mcp-persist",
            "--example",
            "quickstart",
        ])
        .env("MCP_PERSIST_DIR", data.path())
        .env("RUST_LOG", "warn");
        let (transport, _) = rmcp::transport::TokioChildProcess::builder(cmd)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        ().serve(transport).await.unwrap()
    });
    group.bench_function("stdio_quickstart", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(pair(&client, i))
        })
    });
    percentiles("stdio_quickstart", &rt, &client, samples);
    group.bench_function("stdio_quickstart_two_gets", |b| {
        b.iter(|| rt.block_on(two_gets(&client)))
    });
    group.finish();
}

criterion_group!(benches, mcp);
criterion_main!(benches);

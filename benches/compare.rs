//! Side by side with the Python pattern (FastMCP + py-key-value DiskStore):
//! the same MCP client drives `examples/database_operations` and
//! `bench/fastmcp_server.py` over stdio. Run it through
//! `bench/compare-fastmcp.sh`, which installs FastMCP in a throwaway
//! virtualenv and builds the Rust server; under `cargo test` it does nothing.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod mcp_client;

use mcp_client::{Client, call};
use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::json;

struct Server {
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
    store_env: &'static str,
    /// More environment for the server.
    env: Vec<(&'static str, &'static str)>,
}

struct Figures {
    cold_start: Duration,
    p50: Duration,
    p99: Duration,
    calls_per_sec: f64,
    peak_rss_kib: u64,
}

async fn start(server: &Server, data: &std::path::Path) -> (Client, Option<u32>) {
    let mut cmd = tokio::process::Command::new(&server.program);
    cmd.args(&server.args)
        .env(server.store_env, data)
        .envs(server.env.iter().copied())
        .env("RUST_LOG", "warn");
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let pid = transport.id();
    (().serve(transport).await.expect("connect"), pid)
}

fn peak_rss_kib(pid: Option<u32>) -> u64 {
    let status = pid
        .and_then(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn measure(server: &Server) -> Figures {
    // Cold start to first tool result: median of 5, each on a fresh store.
    let mut colds = Vec::new();
    for _ in 0..5 {
        let data = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let (client, _) = start_and_first(server, data.path()).await;
        colds.push(start.elapsed());
        client.cancel().await.unwrap();
    }
    colds.sort();

    let data = tempfile::tempdir().unwrap();
    let (client, pid) = start(server, data.path()).await;
    let prefs = json!({"default_limit": 50, "sort_order": "desc", "show_metadata": true});
    let mut pairs = Vec::new();
    for i in 0..300 {
        let start = Instant::now();
        let mut p = prefs.clone();
        p["default_limit"] = json!(i);
        call(&client, "set_preferences", p).await;
        call(&client, "get_preferences", json!({})).await;
        pairs.push(start.elapsed());
    }
    pairs.sort();
    let start = Instant::now();
    for _ in 0..1000 {
        call(&client, "get_preferences", json!({})).await;
    }
    let calls_per_sec = 1000.0 / start.elapsed().as_secs_f64();
    call(
        &client,
        "switch_database",
        json!({"db_name": "production_db"}),
    )
    .await;
    for q in 0..100 {
        call(&client, "search", json!({"query": format!("q{q}")})).await;
    }
    let peak_rss_kib = peak_rss_kib(pid);
    client.cancel().await.unwrap();
    Figures {
        cold_start: colds[colds.len() / 2],
        p50: pairs[pairs.len() / 2],
        p99: pairs[pairs.len() * 99 / 100],
        calls_per_sec,
        peak_rss_kib,
    }
}

async fn start_and_first(server: &Server, data: &std::path::Path) -> (Client, Option<u32>) {
    let (client, pid) = start(server, data).await;
    call(&client, "get_preferences", json!({})).await;
    (client, pid)
}

fn main() {
    let (Ok(rust_bin), Ok(python), Ok(script)) = (
        std::env::var("COMPARE_RUST_SERVER"),
        std::env::var("COMPARE_PYTHON"),
        std::env::var("COMPARE_PYTHON_SERVER"),
    ) else {
        eprintln!("compare: run bench/compare-fastmcp.sh (skipped)");
        return;
    };
    let servers = [
        Server {
            label: "mcp-persist, durable (default)",
            program: rust_bin.clone().into(),
            args: vec![],
            store_env: "MCP_PERSIST_DIR",
            env: vec![],
        },
        // DiskStore (diskcache: SQLite WAL, synchronous=NORMAL) does not fsync
        // a write before answering; this is the same promise on our side.
        Server {
            label: "mcp-persist, no fsync (as DiskStore)",
            program: rust_bin.into(),
            args: vec![],
            store_env: "MCP_PERSIST_DIR",
            env: vec![("MCP_PERSIST_DURABILITY", "no-sync")],
        },
        Server {
            label: "FastMCP + DiskStore",
            program: python.into(),
            args: vec![script],
            store_env: "FASTMCP_STORE_DIR",
            env: vec![],
        },
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let figures: Vec<Figures> = servers.iter().map(|s| rt.block_on(measure(s))).collect();
    let theirs = &figures[2];
    println!(
        "| measure | {} | {} | {} |",
        servers[0].label, servers[1].label, servers[2].label
    );
    println!("|---|---|---|---|");
    let row = |name: &str, at: fn(&Figures) -> Duration| {
        let cell = |f: &Figures| {
            let (ours, them) = (at(f), at(theirs));
            format!(
                "{ours:.2?} ({:.1}x faster)",
                them.as_secs_f64() / ours.as_secs_f64()
            )
        };
        println!(
            "| {name} | {} | {} | {:.2?} |",
            cell(&figures[0]),
            cell(&figures[1]),
            at(theirs)
        );
    };
    row("cold start to first tool result (median of 5)", |f| {
        f.cold_start
    });
    row("set+get pair p50 (300 pairs)", |f| f.p50);
    row("set+get pair p99", |f| f.p99);
    let rate = |f: &Figures| {
        format!(
            "{:.0} ({:.1}x)",
            f.calls_per_sec,
            f.calls_per_sec / theirs.calls_per_sec
        )
    };
    println!(
        "| sequential get calls per second (1000) | {} | {} | {:.0} |",
        rate(&figures[0]),
        rate(&figures[1]),
        theirs.calls_per_sec
    );
    let rss = |f: &Figures| {
        format!(
            "{} MiB ({:.2}x)",
            f.peak_rss_kib / 1024,
            f.peak_rss_kib as f64 / theirs.peak_rss_kib.max(1) as f64
        )
    };
    println!(
        "| peak RSS (VmHWM) | {} | {} | {} MiB |",
        rss(&figures[0]),
        rss(&figures[1]),
        theirs.peak_rss_kib / 1024
    );
}

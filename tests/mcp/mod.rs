//! Helpers for end-to-end tests: spawn an example server, talk MCP to it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, RoleClient, RunningService, serve_client_with_lifecycle};
use rmcp::transport::TokioChildProcess;
use serde_json::Value;

/// Path of a built example binary.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is not built: run the tests with `cargo test --all-targets` (or `cargo build --examples`)",
        bin.display()
    );
    bin
}

/// A connected MCP client.
pub type Client = RunningService<RoleClient, ()>;

/// Spawns example `name` with its data under `data` and connects to it,
/// with the 2026-07-28 lifecycle if `modern`, else the `initialize` handshake.
pub async fn connect(name: &str, data: &Path, modern: bool) -> Client {
    let mut cmd = tokio::process::Command::new(example(name));
    cmd.env("MCP_PERSIST_DIR", data).env("RUST_LOG", "warn");
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn quickstart");
    if modern {
        let lifecycle = ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        };
        serve_client_with_lifecycle((), transport, lifecycle)
            .await
            .expect("discover")
    } else {
        ().serve(transport).await.expect("initialize")
    }
}

/// Calls a tool; a protocol-level failure fails the test.
pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
}

/// The text content of a result.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The structured content of a successful result.
pub fn structured(result: &CallToolResult) -> &Value {
    assert_ne!(
        result.is_error,
        Some(true),
        "unexpected error: {}",
        text(result)
    );
    result
        .structured_content
        .as_ref()
        .expect("structured content")
}

/// Asserts an `isError` result whose text mentions every needle.
pub fn assert_refused(result: &CallToolResult, needles: &[&str]) {
    assert_eq!(
        result.is_error,
        Some(true),
        "expected an error result, got {}",
        text(result)
    );
    let message = text(result);
    for needle in needles {
        assert!(
            message.contains(needle),
            "{message:?} does not mention {needle:?}"
        );
    }
}

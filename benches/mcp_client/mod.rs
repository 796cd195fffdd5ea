//! What the benches that drive a server through rmcp's client share.

use std::time::Duration;

use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use serde_json::Value;

/// A connected MCP client.
pub type Client = RunningService<RoleClient, ()>;

/// How long one tool call may take before the bench gives up.
pub const CALL_LIMIT: Duration = Duration::from_secs(30);

/// Calls `tool` and returns its structured answer; a failed or late call
/// fails the bench.
pub async fn call(client: &Client, tool: &str, args: Value) -> Value {
    let args = args.as_object().cloned().unwrap_or_default();
    let request = CallToolRequestParams::new(tool.to_owned()).with_arguments(args);
    let result = tokio::time::timeout(CALL_LIMIT, client.call_tool(request))
        .await
        .expect("a tool call in time")
        .expect("tool call");
    assert_ne!(
        result.is_error,
        Some(true),
        "{tool} failed: {:?}",
        result.content
    );
    result.structured_content.unwrap_or(Value::Null)
}

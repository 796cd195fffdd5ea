//! A server that logs as much as it is asked to: the fixture of
//! `tests/logging.rs`, which checks that a server using
//! `tools::init_logging` keeps answering whatever becomes of its stderr (a
//! closed pipe, a full disk, a pipe nobody reads).
//!
//! ```text
//! cargo run --example log_flood
//! ```
//!
//! Tools: `flood` (logs `count` warnings), and the generated note tools
//! (get_note, set_note, update_note, delete_note, list_note).

use std::process::ExitCode;

use mcp_persist::tools::{exit_code, init_logging, serve_stdio};
use mcp_persist::{Store, persisted};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;

/// A note, by title.
#[persisted(key = "notes/{title}", tools)]
struct Note {
    /// The note's title.
    title: String,
    /// The note's text.
    text: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct Flood {
    /// How many warnings to log.
    count: u32,
    /// Written into each warning, to find them on stderr.
    marker: String,
}

#[derive(Clone)]
struct LogFlood {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl LogFlood {
    fn new(store: &Store) -> Self {
        Self {
            tool_router: Self::tool_router() + Note::tools(store),
        }
    }

    #[tool(description = "Log `count` warnings carrying `marker`; answers how many were logged.")]
    async fn flood(&self, Parameters(Flood { count, marker }): Parameters<Flood>) -> String {
        for i in 0..count {
            tracing::warn!(i, "{marker}");
        }
        format!("logged {count} warnings")
    }
}

#[tool_handler(router = self.tool_router, name = "log-flood", version = "0.1.0")]
impl ServerHandler for LogFlood {}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let _log = init_logging();
    exit_code(run().await)
}

async fn run() -> Result<(), mcp_persist::Error> {
    let store = Store::open("mcp-persist-log-flood")?;
    tracing::info!(store = %store.location(), "store opened");
    serve_stdio(LogFlood::new(&store)).await
}

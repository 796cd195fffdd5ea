//! The smallest useful MCP server with persisted state: notes and preferences
//! that survive restarts, served over stdio with generated tools.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Tools: get_note, set_note, update_note, delete_note, list_note,
//! get_preferences, set_preferences, update_preferences, delete_preferences.
//! Resources: every note (`persist://note/notes/{title}`) and the
//! preferences (`persist://preferences/preferences`), with subscriptions:
//! a client subscribed to a note hears of every change to it, whichever
//! process made it.

use std::process::ExitCode;

use mcp_persist::tools::{ToolServer, exit_code, init_logging, serve_stdio};
use mcp_persist::{Store, persisted};

/// A note the assistant keeps for the user, by title.
#[persisted(key = "notes/{title}", tools, resources)]
struct Note {
    /// The note's title; one note per title.
    title: String,
    /// The note's text.
    text: String,
}

/// How the user likes answers.
#[persisted(key = "preferences", tools, resources)]
#[derive(Default)]
struct Preferences {
    /// Answer language, e.g. "en".
    language: String,
    /// Prefer short answers.
    concise: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // stdout is the protocol: log to stderr (RUST_LOG filters), never blocking.
    let _log = init_logging();
    exit_code(run().await)
}

async fn run() -> Result<(), mcp_persist::Error> {
    let store = Store::open("mcp-persist-quickstart")?;
    tracing::info!(store = %store.location(), "store opened");
    let tools = Note::tools(&store) + Preferences::tools(&store);
    let resources = Note::resources(&store) + Preferences::resources(&store);
    serve_stdio(
        ToolServer::new("mcp-persist-quickstart", env!("CARGO_PKG_VERSION"), tools)
            .with_resources(resources),
    )
    .await
}

//! Reading progress per book, kept per user, and per-library statistics
//! (shared by every user) cached for an hour.
//!
//! ```text
//! cargo run --example reading_progress
//! ```
//!
//! Over stdio the one client is the local user (`local`, or the value of
//! `MCP_PERSIST_SCOPE`): the same store can keep several people's progress
//! apart, each running the server with their own `MCP_PERSIST_SCOPE`.
//!
//! Tools: get_progress, set_progress, update_progress, delete_progress,
//! list_progress, get_library_stats, set_library_stats, list_library_stats.

use std::process::ExitCode;

use mcp_persist::tools::{ToolServer, exit_code, init_logging, serve_stdio};
use mcp_persist::{Scope, Store, persisted};

/// Where the reader is in one book.
#[persisted(key = "progress/{book_id}", scope = "user", tools)]
struct Progress {
    /// The book's identifier, e.g. an ISBN.
    book_id: String,
    /// The page reached.
    page: u32,
    /// Share of the book read, from 0 to 100.
    percent: f32,
}

/// Statistics of a library, expensive to compute: cached for an hour.
#[persisted(key = "stats/{library}", ttl = "1h", tools(get, set, list))]
struct LibraryStats {
    /// The library's name.
    library: String,
    /// Number of books.
    books: u64,
    /// Number of authors.
    authors: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let _log = init_logging();
    exit_code(run().await)
}

async fn run() -> Result<(), mcp_persist::Error> {
    let store = Store::open("reading-progress")?;
    let reader = store.scoped(&Scope::local()?);
    tracing::info!(
        store = %store.location(),
        user = %reader.scope(),
        books = Progress::list(&reader).await?.len(),
        "store opened"
    );
    let tools = Progress::tools(&store) + LibraryStats::tools(&store);
    let server = ToolServer::new("reading-progress", env!("CARGO_PKG_VERSION"), tools)
        .with_instructions("Remembers where the user is in each book, across sessions.");
    serve_stdio(server).await
}

//! The server of the FastMCP persistent-storage pattern, in Rust: it remembers
//! the active database, the user's preferences and a bounded search history
//! across restarts of the client and of the OS.
//!
//! ```text
//! cargo run --example database_operations
//! ```
//!
//! Its own tools (`switch_database`, `current_database`, `search`) sit beside
//! generated ones (`get_preferences`, `set_preferences`, `update_preferences`,
//! `delete_preferences`, `recent_search_record`, `clear_search_record`).

use std::process::ExitCode;

use mcp_persist::tools::{exit_code, init_logging, serve_stdio};
use mcp_persist::{Store, persisted};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;

/// The database the user works in.
#[persisted(key = "current_database")]
struct CurrentDatabase {
    name: String,
}

/// How search results are shown.
#[persisted(key = "preferences", tools)]
struct Preferences {
    /// Results per search.
    default_limit: u32,
    /// "asc" or "desc".
    sort_order: String,
    /// Show each result's metadata.
    show_metadata: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            default_limit: 20,
            sort_order: "desc".into(),
            show_metadata: false,
        }
    }
}

/// A past search, newest first; the last 50 are kept.
#[persisted(key = "search_history", list, max_len = 50, tools(recent, clear))]
struct SearchRecord {
    query: String,
    database: String,
    limit: u32,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct SwitchDatabase {
    /// Name of the database to make active.
    db_name: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct Search {
    /// What to search for.
    query: String,
    /// Results to return; the `default_limit` preference when absent.
    limit: Option<u32>,
}

#[derive(Clone)]
struct DatabaseOperations {
    store: Store,
    tool_router: ToolRouter<Self>,
}

// Errors are returned as `Err(String)`: rmcp turns them into `isError`
// results, which the model reads and can act on.
fn storage_error(err: mcp_persist::Error) -> String {
    err.to_string()
}

#[tool_router]
impl DatabaseOperations {
    fn new(store: Store) -> Self {
        // The generated tools join this server's own: one router.
        let tool_router =
            Self::tool_router() + Preferences::tools(&store) + SearchRecord::tools(&store);
        Self { store, tool_router }
    }

    #[tool(description = "Switch the active database. It is remembered across restarts.")]
    async fn switch_database(
        &self,
        Parameters(SwitchDatabase { db_name }): Parameters<SwitchDatabase>,
    ) -> Result<String, String> {
        if db_name.trim().is_empty() {
            return Err("db_name must not be empty".into());
        }
        let previous = CurrentDatabase::load(&self.store)
            .await
            .map_err(storage_error)?;
        CurrentDatabase {
            name: db_name.clone(),
        }
        .save(&self.store)
        .await
        .map_err(storage_error)?;
        Ok(match previous {
            Some(p) => format!("switched from {} to {db_name}", p.name),
            None => format!("switched to {db_name}"),
        })
    }

    #[tool(description = "The active database, if one was chosen.")]
    async fn current_database(&self) -> Result<String, String> {
        Ok(
            match CurrentDatabase::load(&self.store)
                .await
                .map_err(storage_error)?
            {
                Some(db) => db.name,
                None => "no database selected".into(),
            },
        )
    }

    #[tool(description = "Search the active database and record the query in the search history.")]
    async fn search(
        &self,
        Parameters(Search { query, limit }): Parameters<Search>,
    ) -> Result<String, String> {
        let database = CurrentDatabase::load(&self.store)
            .await
            .map_err(storage_error)?
            .ok_or("no database selected: call switch_database first")?
            .name;
        let prefs = Preferences::load_or_default(&self.store)
            .await
            .map_err(storage_error)?;
        let limit = limit.unwrap_or(prefs.default_limit);
        SearchRecord {
            query: query.clone(),
            database: database.clone(),
            limit,
        }
        .push(&self.store)
        .await
        .map_err(storage_error)?;
        // A real server would query `database` here.
        Ok(format!(
            "0 results for {query:?} in {database} (limit {limit}, {} order)",
            prefs.sort_order
        ))
    }
}

#[tool_handler(router = self.tool_router, name = "database-operations", version = "0.1.0")]
impl ServerHandler for DatabaseOperations {}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let _log = init_logging();
    exit_code(run().await)
}

async fn run() -> Result<(), mcp_persist::Error> {
    let store = Store::open("database-operations")?;
    tracing::info!(store = %store.location(), "store opened");
    match CurrentDatabase::load(&store).await? {
        Some(db) => tracing::info!(database = %db.name, "restored the active database"),
        None => tracing::info!("no active database yet"),
    }
    let prefs = Preferences::load_or_default(&store).await?;
    let history = SearchRecord::recent(&store, 50).await?.len();
    tracing::info!(
        default_limit = prefs.default_limit,
        sort_order = %prefs.sort_order,
        searches = history,
        "restored preferences and search history"
    );
    serve_stdio(DatabaseOperations::new(store)).await
}

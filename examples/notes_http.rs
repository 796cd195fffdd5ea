//! Notes, preferences, a history and a counter for many users at once, over
//! streamable HTTP: each bearer token is a user, and each user reaches their
//! own records only.
//!
//! ```text
//! cargo run --features http --example notes_http -- --port 8080 --tokens tokens.txt
//! ```
//!
//! `tokens.txt` (owner-only: `chmod 600`) holds `token=user` lines, e.g.
//! `tokA=alice` and `tokB=bob`; or give them in `NOTES_HTTP_TOKENS`
//! (`tokA=alice,tokB=bob`). The port is `--port` or `NOTES_HTTP_PORT`
//! (default 8080; 0 picks a free one, logged). The server binds 127.0.0.1
//! only and serves MCP at `/mcp`, both lifecycles; SIGTERM or Ctrl-C stop it.
//! Each request is answered on its own (JSON, no session), which any replica
//! can do; `--sessions` (or `NOTES_HTTP_SESSIONS=1`) keeps legacy
//! `Mcp-Session-Id` sessions with an SSE stream per client instead.
//!
//! Replicas: built with `--features http,redis` and started with
//! `MCP_PERSIST_URL=redis://127.0.0.1:6379/0`, every process on its own port
//! shares one store on that Redis server (README, "Running several replicas").
//!
//! Tools: get_note, set_note, update_note, delete_note, list_note,
//! get_preferences, set_preferences, update_preferences, delete_preferences,
//! add_history, recent_history, clear_history, get_counter, and its own
//! bump_counter. Resources: each user's notes and preferences
//! (`persist://note/notes/{title}`, `persist://preferences/preferences`),
//! with subscriptions (`subscriptions/listen`; `resources/subscribe` in
//! `--sessions` mode): a user hears of changes to their own records only,
//! whichever replica made them.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use mcp_persist::tools::http::{BearerTokens, HttpServer};
use mcp_persist::tools::{Resources, exit_code, init_logging};
use mcp_persist::{Error, Scope, Store, persisted, serve_resources};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};

/// A note, by title.
#[persisted(key = "notes/{title}", scope = "user", tools, resources)]
struct Note {
    /// The note's title: its key.
    title: String,
    /// What the note says.
    text: String,
}

/// How the user likes answers.
#[persisted(key = "preferences", scope = "user", tools, resources)]
struct Preferences {
    /// e.g. "en", "fr".
    language: String,
    /// Short answers.
    concise: bool,
}

/// What the user did, newest first; the last 100 are kept for 30 days.
#[persisted(
    key = "history",
    list,
    max_len = 100,
    ttl = "30d",
    scope = "user",
    tools
)]
struct History {
    /// What happened.
    event: String,
}

/// A per-user counter, bumped atomically by `bump_counter`.
#[persisted(key = "counter", scope = "user", tools(get))]
#[derive(Default)]
struct Counter {
    /// How many bumps.
    value: u64,
}

#[derive(Clone)]
struct Notes {
    store: Store,
    tool_router: ToolRouter<Self>,
    resources: Resources,
}

#[tool_router]
impl Notes {
    fn new(store: Store) -> Self {
        let tool_router = Self::tool_router()
            + Note::tools(&store)
            + Preferences::tools(&store)
            + History::tools(&store)
            + Counter::tools(&store);
        let resources = Note::resources(&store) + Preferences::resources(&store);
        Self {
            store,
            tool_router,
            resources,
        }
    }

    /// A tool of the server's own, per user: it takes the caller's scope
    /// like any other parameter (a request without one is refused).
    #[tool(description = "Add one to the caller's counter, atomically; returns the new value.")]
    async fn bump_counter(&self, scope: Scope) -> Result<String, String> {
        let counter =
            Counter::update_or_default(&self.store.scoped(&scope), |c| c.value += 1).await;
        counter
            .map(|c| c.value.to_string())
            .map_err(|e| e.to_string())
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Notes {
    // list_resources, read_resource, subscribe, listen, ... from `resources`.
    serve_resources!(resources);

    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_resources_list_changed()
            .build();
        ServerConfig::new(capabilities).with_server_info(Implementation::new("notes-http", "0.1.0"))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let _log = init_logging();
    exit_code(run().await)
}

async fn run() -> Result<(), Error> {
    let options = Options::parse()?;
    let store = Store::open("notes-http")?;
    tracing::info!(store = %store.location(), users = options.tokens.len(), "store opened");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
    HttpServer::new(Notes::new(store), options.tokens)
        .config(|config| config.with_legacy_session_mode(options.sessions))
        .serve(addr)
        .await
}

/// What the command line and the environment say.
struct Options {
    port: u16,
    tokens: BearerTokens,
    /// Legacy `Mcp-Session-Id` sessions (an SSE stream per client) instead
    /// of answering each request on its own.
    sessions: bool,
}

impl Options {
    fn parse() -> Result<Self, Error> {
        let mut port = std::env::var("NOTES_HTTP_PORT").ok();
        let mut tokens_file: Option<PathBuf> = None;
        let mut sessions = std::env::var_os("NOTES_HTTP_SESSIONS").is_some_and(|v| v == "1");
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--port" => port = Some(args.next().ok_or_else(|| usage("--port needs a value"))?),
                "--tokens" => {
                    tokens_file = Some(
                        args.next()
                            .ok_or_else(|| usage("--tokens needs a file"))?
                            .into(),
                    );
                }
                "--sessions" => sessions = true,
                other => return Err(usage(&format!("unknown argument {other:?}"))),
            }
        }
        let port = match port {
            None => 8080,
            Some(port) => port.parse().map_err(|_| Error::InvalidSetting {
                name: "NOTES_HTTP_PORT (or --port)",
                value: port,
                expected: "a port number, 0 to 65535",
            })?,
        };
        let tokens = match (tokens_file, std::env::var("NOTES_HTTP_TOKENS")) {
            (Some(file), _) => BearerTokens::from_file(&file)?,
            (None, Ok(text)) => BearerTokens::parse(&text, "NOTES_HTTP_TOKENS")?,
            (None, Err(_)) => {
                return Err(usage("no tokens: give --tokens FILE or NOTES_HTTP_TOKENS"));
            }
        };
        Ok(Self {
            port,
            tokens,
            sessions,
        })
    }
}

fn usage(problem: &str) -> Error {
    Error::Serve(format!(
        "{problem}. Usage: notes_http [--port PORT] [--tokens FILE] [--sessions] \
         (or NOTES_HTTP_PORT, NOTES_HTTP_TOKENS=tokA=alice,tokB=bob, NOTES_HTTP_SESSIONS=1)"
    ))
}

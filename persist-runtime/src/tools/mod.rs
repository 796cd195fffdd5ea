//! MCP tools for persisted records, registered on an rmcp server.
//!
//! `#[persisted(..., tools)]` generates `T::tools(&store)`: an rmcp
//! `ToolRouter` with one route per operation, each a closure that captures
//! the store and calls the same generic code as the typed accessors. The
//! user's server type implements nothing of ours; routers merge with `+`.
//! This module holds what a server's `main` uses: the limits the tools
//! enforce ([`ToolConfig`]), a ready server ([`ToolServer`]), serving over
//! stdio ([`serve_stdio`]) or HTTP ([`http`], feature `http`), the
//! caller's scope for a server's own tools ([`caller_scope`]) and logging.

mod caller;
mod handlers;
#[cfg(feature = "http")]
pub mod http;
mod lifecycle;
mod logging;
pub(crate) mod resources;
pub(crate) mod routes;
mod schema;
mod serve;
mod server;
mod stdio;
pub(crate) mod tool_op;
#[cfg(test)]
mod update_tests;

pub use caller::caller_scope;
#[cfg(feature = "logging")]
pub use logging::init_logging;
pub use logging::{LogGuard, exit_code};
pub use resources::{PAGE_SIZE as RESOURCE_PAGE_SIZE, Resources, SCHEME as RESOURCE_SCHEME};
pub use serve::serve_stdio;
pub use server::ToolServer;

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

/// Limits the generated tools enforce on what a client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolConfig {
    /// Largest accepted arguments object, serialized, in bytes (default 1 MiB).
    pub max_value_bytes: usize,
    /// Records per `list_` page when the client gives no `limit` (default 50).
    pub default_page_size: usize,
    /// Largest `limit` a client may ask for (default 1000).
    pub max_page_size: usize,
}

impl Default for ToolConfig {
    fn default() -> Self {
        Self {
            max_value_bytes: 1 << 20,
            default_page_size: 50,
            max_page_size: 1000,
        }
    }
}

/// Names of every tool generated in this process, so that [`serve_stdio`]
/// can check that the server really serves them.
static GENERATED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Namespaces of every type whose resources were made in this process.
static RESOURCES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

/// Notes that the records of `namespace` were made resources.
pub(crate) fn note_resources(namespace: &'static str) {
    RESOURCES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(namespace);
}

/// The namespaces whose records were made resources in this process.
pub(crate) fn resource_namespaces() -> Vec<&'static str> {
    let made = RESOURCES.lock().unwrap_or_else(PoisonError::into_inner);
    made.iter().copied().collect()
}

/// The generated tools that `server` does not serve (a router merged into a
/// field but not passed to `#[tool_handler(router = ...)]`).
pub(crate) fn unserved(get_tool: impl Fn(&str) -> bool) -> Vec<String> {
    let generated = GENERATED.lock().unwrap_or_else(PoisonError::into_inner);
    generated
        .iter()
        .filter(|name| !get_tool(name))
        .cloned()
        .collect()
}

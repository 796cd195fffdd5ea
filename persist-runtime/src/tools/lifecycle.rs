//! What every way of serving does: check the server before it starts, and
//! listen for the signals that stop it.

use rmcp::ServerHandler;

use crate::error::{Error, Result};

/// Refuses a server that does not serve every tool generated in this
/// process: a `ServerHandler` impl with `#[tool_handler]` without
/// `router = self.tool_router` would silently drop the generated tools.
///
/// Likewise refuses a server when resources were generated
/// (`#[persisted(..., resources)]`) and its `get_info` does not advertise
/// resources with subscriptions: clients would never ask for them (and
/// `subscriptions/listen` drops URIs of a capability not advertised).
pub(crate) fn check_served<S: ServerHandler>(server: &S) -> Result<()> {
    let resources = super::resource_namespaces();
    if !resources.is_empty() {
        let advertised = server.get_info().capabilities.resources;
        if advertised.is_none_or(|r| r.subscribe != Some(true)) {
            return Err(Error::Serve(format!(
                "generated resources ({}) are not served: the server's get_info does not \
                 advertise resources with subscriptions. Serve them with \
                 ToolServer::with_resources, or delegate with mcp_persist::serve_resources! \
                 and build get_info's capabilities with .enable_resources()\
                 .enable_resources_subscribe().enable_resources_list_changed()",
                resources.join(", ")
            )));
        }
    }
    let missing = super::unserved(|name| server.get_tool(name).is_some());
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Serve(format!(
        "generated tools are not served: {}. Serve the merged router: put \
         #[tool_handler(router = self.tool_router)] on the ServerHandler impl \
         (plain #[tool_handler] serves only Self::tool_router())",
        missing.join(", ")
    )))
}

/// The name `server` tells clients, with a warning when it is rmcp's default.
pub(crate) fn server_name<S: ServerHandler>(server: &S) -> String {
    let name = server.get_info().server_info.name;
    if name == "rmcp" {
        tracing::warn!(
            "this server tells clients its name is \"rmcp\" (rmcp's default): give it its own, \
             e.g. #[tool_handler(router = self.tool_router, name = \"my-server\", version = \"1.0.0\")]"
        );
    }
    name
}

/// SIGTERM and Ctrl-C (SIGINT), listened for from creation on: a signal that
/// arrives before the first wait is kept, not fatal.
pub(crate) struct Shutdown {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    pub(crate) fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind, name: &str| {
                signal(kind)
                    .inspect_err(|err| tracing::warn!(%err, "cannot listen for {name}"))
                    .ok()
            };
            Self {
                term: listen(SignalKind::terminate(), "SIGTERM"),
                int: listen(SignalKind::interrupt(), "SIGINT"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    pub(crate) async fn wait(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => _ = signal.recv().await,
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = next(&mut self.term) => "SIGTERM",
                () = next(&mut self.int) => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

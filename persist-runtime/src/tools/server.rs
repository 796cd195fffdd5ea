//! [`ToolServer`]: a ready MCP server for apps whose only tools are generated ones.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::resources::Resources;

/// An MCP server that serves a router of generated tools and nothing else.
///
/// For a server with tools of its own, keep your server type and merge the
/// routers instead: `Self::tool_router() + Progress::tools(&store)`, served by
/// `#[tool_handler(router = self.tool_router)]` (see the README).
///
/// `examples/quickstart.rs` and the README show it in use (both compiled by the tests):
/// `serve_stdio(ToolServer::new("notes", "1.0.0", Note::tools(&store))).await`.
#[derive(Clone)]
pub struct ToolServer {
    info: Implementation,
    instructions: Option<String>,
    router: ToolRouter<ToolServer>,
    resources: Option<Resources>,
}

impl ToolServer {
    /// A server named `name` at `version` serving `router`.
    pub fn new(name: &str, version: &str, router: ToolRouter<ToolServer>) -> Self {
        Self {
            info: Implementation::new(name, version),
            instructions: None,
            router,
            resources: None,
        }
    }

    /// Also serves these records as resources, with subscriptions (see
    /// [`Resources`]): `.with_resources(Note::resources(&store))`.
    pub fn with_resources(mut self, resources: Resources) -> Self {
        self.resources = Some(match self.resources.take() {
            Some(mine) => mine + resources,
            None => resources,
        });
        self
    }

    /// Instructions the client may show the model.
    pub fn with_instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }

    /// The tools this server serves.
    pub fn tools(&self) -> Vec<Tool> {
        self.router.list_all()
    }
}

impl ServerHandler for ToolServer {
    crate::serve_resources!(resources);

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.router
            .call(ToolCallContext::new(self, request, context))
            .await
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.router.list_all()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.router.get(name).cloned()
    }

    fn get_info(&self) -> ServerConfig {
        let capabilities = match self.resources {
            Some(_) => ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_resources_list_changed()
                .build(),
            None => ServerCapabilities::builder().enable_tools().build(),
        };
        let config = ServerConfig::new(capabilities).with_server_info(self.info.clone());
        match &self.instructions {
            Some(text) => config.with_instructions(text.clone()),
            None => config,
        }
    }
}

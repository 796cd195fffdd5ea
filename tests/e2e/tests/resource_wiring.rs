//! A server that made resources (`#[persisted(..., resources)]`) but does
//! not advertise them is refused at start, with the fix in the message
//! (rmcp's generated `get_info` enables tools only). A test binary of its
//! own: what a process generated is process-wide.

use mcp_persist::tools::{Resources, serve_stdio};
use mcp_persist::{Store, persisted, serve_resources};
use rmcp::ServerHandler;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::tool_handler;

/// A note.
#[persisted(key = "notes/{title}", tools, resources)]
struct Note {
    title: String,
    text: String,
}

#[derive(Clone)]
struct Quiet {
    tool_router: ToolRouter<Self>,
    resources: Resources,
}

// Resources delegated, but `get_info` is the one #[tool_handler] writes.
#[tool_handler(router = self.tool_router)]
impl ServerHandler for Quiet {
    serve_resources!(resources);
}

#[derive(Clone)]
struct Advertised {
    resources: Resources,
}

impl ServerHandler for Advertised {
    serve_resources!(resources);

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_resources_list_changed()
                .build(),
        )
    }
}

#[tokio::test]
async fn a_server_that_does_not_advertise_generated_resources_is_refused() {
    let store = Store::memory().unwrap();
    let server = Quiet {
        tool_router: Note::tools(&store),
        resources: Note::resources(&store),
    };
    let err = serve_stdio(server).await.unwrap_err().to_string();
    assert!(err.contains("note"), "{err}");
    assert!(err.contains("enable_resources_subscribe"), "{err}");
    // Advertised, the check passes (and the generated tools are what is
    // missing then: this server serves none).
    let err = serve_stdio(Advertised {
        resources: Note::resources(&store),
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("get_note"), "{err}");
    assert!(!err.contains("resources"), "{err}");
}

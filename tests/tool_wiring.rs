//! The `#[tool_handler]` trap is caught: a server that does not serve the
//! generated tools is refused at start, with the fix in the message.

use mcp_persist::tools::serve_stdio;
use mcp_persist::{Store, persisted};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::{ServerHandler, tool, tool_handler, tool_router};

/// A counter.
#[persisted(key = "counter", tools)]
struct Counter {
    n: u64,
}

struct Forgetful {
    #[allow(dead_code)]
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Forgetful {
    #[tool(description = "Say hello.")]
    async fn hello(&self) -> String {
        "hello".into()
    }
}

// The trap: without `router = self.tool_router`, only `hello` is served.
#[tool_handler]
impl ServerHandler for Forgetful {}

#[tokio::test]
async fn a_server_that_drops_generated_tools_is_refused() {
    let store = Store::memory().unwrap();
    let server = Forgetful {
        tool_router: Forgetful::tool_router() + Counter::tools(&store),
    };
    let err = serve_stdio(server).await.unwrap_err().to_string();
    assert!(err.contains("get_counter"), "{err}");
    assert!(
        err.contains("#[tool_handler(router = self.tool_router)]"),
        "{err}"
    );
}

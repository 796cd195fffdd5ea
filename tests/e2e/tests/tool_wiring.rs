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

/// A range of pages (a nested type: its schema lands in `$defs`).
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct Pages {
    first: u16,
    shift: i32,
}

/// Numbers of every width.
#[persisted(key = "numbers/{id}", tools)]
struct Numbers {
    id: String,
    count: u32,
    level: u8,
    delta: i8,
    total: u64,
    signed: i64,
    ratio: f64,
    share: Option<f32>,
    pages: Pages,
}

/// Every `format` in `schema` and its subschemas, with the path to it.
fn formats(schema: &serde_json::Value, path: &str, found: &mut Vec<String>) {
    match schema {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                if key == "format" && value.is_string() {
                    found.push(format!("{path}: {value}"));
                }
                formats(value, &format!("{path}/{key}"), found);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                formats(item, &format!("{path}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn schemas_use_only_standard_formats_and_keep_integer_ranges() {
    use mcp_persist::tools::ToolServer;
    use serde_json::json;

    let store = Store::memory().unwrap();
    let tools = ToolServer::new("numbers", "1.0.0", Numbers::tools(&store)).tools();
    assert_eq!(tools.len(), 5);
    for tool in &tools {
        let output = serde_json::Value::Object(
            (**tool.output_schema.as_ref().expect("an output schema")).clone(),
        );
        let input = serde_json::Value::Object((*tool.input_schema).clone());
        let mut found = Vec::new();
        formats(&input, &format!("{} input", tool.name), &mut found);
        formats(&output, &format!("{} output", tool.name), &mut found);
        // Only the metadata's date-times remain: a format JSON Schema 2020-12 defines.
        found.retain(|f| !f.ends_with(": \"date-time\""));
        assert!(found.is_empty(), "non-standard formats: {found:#?}");
    }

    let set = tools.iter().find(|t| t.name == "set_numbers").unwrap();
    let props = &set.input_schema["properties"];
    assert_eq!(props["count"]["minimum"], json!(0));
    assert_eq!(props["count"]["maximum"], json!(u32::MAX));
    assert_eq!(props["level"]["maximum"], json!(u8::MAX));
    assert_eq!(props["delta"]["minimum"], json!(i8::MIN));
    assert_eq!(props["total"]["minimum"], json!(0));
    assert_eq!(props["ratio"]["type"], json!("number"));
    let pages = &set.input_schema["$defs"]["Pages"]["properties"];
    assert_eq!(pages["first"]["maximum"], json!(u16::MAX));
    assert_eq!(pages["shift"]["minimum"], json!(i32::MIN));
    assert_eq!(pages["shift"]["maximum"], json!(i32::MAX));

    let get = tools.iter().find(|t| t.name == "get_numbers").unwrap();
    let output = get.output_schema.as_ref().unwrap();
    let record = &output["properties"]["stored"]["properties"]["record"]["properties"];
    assert_eq!(record["count"]["maximum"], json!(u32::MAX));
    assert_eq!(
        output["$defs"]["Pages"]["properties"]["first"]["maximum"],
        json!(u16::MAX)
    );
}

use mcp_persist::persisted;

#[persisted(key = "prefs", migrate = upgrade)]
struct Prefs {
    limit: u32,
}

fn upgrade(v: serde_json::Value, _from: u32) -> Result<serde_json::Value, String> {
    Ok(v)
}

fn main() {}

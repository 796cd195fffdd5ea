use mcp_persist::persisted;

#[persisted(key = "prefs", tools = true)]
struct Prefs {
    limit: u32,
}

fn main() {}

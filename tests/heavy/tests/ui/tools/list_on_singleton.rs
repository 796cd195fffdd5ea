use mcp_persist::persisted;

#[persisted(key = "prefs", tools(get, list))]
struct Prefs {
    limit: u32,
}

fn main() {}

use mcp_persist::persisted;

#[persisted(key = "prefs", tools(prefix = "my tools"))]
struct Prefs {
    limit: u32,
}

fn main() {}

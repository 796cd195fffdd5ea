use mcp_persist::persisted;

#[persisted(key = "prefs", version = 0)]
struct Prefs {
    limit: u32,
}

fn main() {}

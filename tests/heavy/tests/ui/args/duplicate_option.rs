use mcp_persist::persisted;

#[persisted(key = "prefs", key = "other")]
struct Prefs {
    limit: u32,
}

fn main() {}

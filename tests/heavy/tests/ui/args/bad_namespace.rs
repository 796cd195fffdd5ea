use mcp_persist::persisted;

#[persisted(key = "prefs", namespace = "My Prefs")]
struct Prefs {
    limit: u32,
}

fn main() {}

use mcp_persist::persisted;

#[persisted(key = "prefs", version = 2, migrate = "upgrade")]
struct Prefs {
    limit: u32,
}

fn main() {}

use mcp_persist::persisted;

#[persisted(key = "prefs", ttl = "3 weeks")]
struct Prefs {
    limit: u32,
}

fn main() {}

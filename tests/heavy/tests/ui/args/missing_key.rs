use mcp_persist::persisted;

#[persisted(ttl = "1h")]
struct Prefs {
    limit: u32,
}

fn main() {}

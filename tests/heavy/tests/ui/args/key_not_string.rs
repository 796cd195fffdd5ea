use mcp_persist::persisted;

#[persisted(key = 5)]
struct Prefs {
    limit: u32,
}

fn main() {}

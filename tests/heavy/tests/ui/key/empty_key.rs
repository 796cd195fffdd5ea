use mcp_persist::persisted;

#[persisted(key = "")]
struct Prefs {
    limit: u32,
}

fn main() {}

use mcp_persist::persisted;

#[persisted(key = "prefs", expire = "1h")]
struct Prefs {
    limit: u32,
}

fn main() {}

use mcp_persist::persisted;

#[persisted(key = "history", list = true)]
struct Search {
    query: String,
}

fn main() {}

use mcp_persist::persisted;

#[persisted(key = "history", list, max_len = 0)]
struct Search {
    query: String,
}

fn main() {}

use mcp_persist::persisted;

#[persisted(key = "history", max_len = 50)]
struct Search {
    query: String,
}

fn main() {}

use mcp_persist::persisted;

#[persisted(key = "history/{user}", list, max_len = 10)]
struct Search {
    user: String,
    query: String,
}

fn main() {}

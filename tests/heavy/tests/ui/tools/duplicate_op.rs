use mcp_persist::persisted;

#[persisted(key = "history", list, tools(add, add))]
struct Search {
    query: String,
}

fn main() {}

use mcp_persist::persisted;

#[persisted(key = "progress/{book}", ttl = "soon", max_len = 3, colour = "red")]
struct Progress {
    book_id: String,
    page: u32,
}

fn main() {}

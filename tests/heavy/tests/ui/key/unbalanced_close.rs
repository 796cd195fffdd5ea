use mcp_persist::persisted;

#[persisted(key = "progress/book_id}")]
struct Progress {
    book_id: String,
    page: u32,
}

fn main() {}

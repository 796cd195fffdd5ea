use mcp_persist::persisted;

#[persisted(key = "progress/{book}")]
struct Progress {
    book_id: String,
    page: u32,
}

fn main() {}

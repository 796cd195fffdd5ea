use mcp_persist::persisted;

#[persisted(key = "blob/{bytes}")]
struct Blob {
    bytes: Vec<u8>,
}

fn main() {}

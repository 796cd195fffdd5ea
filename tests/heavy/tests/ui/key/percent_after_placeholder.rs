use mcp_persist::persisted;

#[persisted(key = "notes/{user}%{id}")]
struct Note {
    user: String,
    id: u32,
    text: String,
}

fn main() {}

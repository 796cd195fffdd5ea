use mcp_persist::persisted;

#[persisted(key = "notes/{id}", scope = "session")]
struct Note {
    id: String,
}

#[persisted(key = "prefs", scope = user)]
struct Prefs {
    dark: bool,
}

fn main() {}

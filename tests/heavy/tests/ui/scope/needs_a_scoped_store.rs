// A per-user type's accessors take the user's handle: a bare `Store` (no
// user) does not compile.
use mcp_persist::{Store, persisted};

#[persisted(key = "notes/{id}", scope = "user")]
struct Note {
    id: String,
}

fn main() {
    let store = Store::memory().unwrap();
    let _ = Note::load(&store, "a");
}

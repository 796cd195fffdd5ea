use mcp_persist::persisted;

#[persisted(key = "mode")]
enum Mode {
    Light,
    Dark,
}

fn main() {}

use mcp_persist::persisted;

#[persisted(key = "f")]
fn f() {}

fn main() {}

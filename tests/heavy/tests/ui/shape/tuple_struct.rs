use mcp_persist::persisted;

#[persisted(key = "point")]
struct Point(i32, i32);

fn main() {}

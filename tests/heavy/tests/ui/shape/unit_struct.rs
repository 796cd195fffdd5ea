use mcp_persist::persisted;

#[persisted(key = "marker")]
struct Marker;

fn main() {}

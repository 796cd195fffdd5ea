use mcp_persist::persisted;

#[persisted(key = "boxed")]
struct Boxed<T> {
    value: T,
}

fn main() {}

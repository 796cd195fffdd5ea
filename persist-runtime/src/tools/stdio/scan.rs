//! A single pass over the bytes of one incoming line, before any JSON parser
//! sees it: how deep it nests (and where it first nests too deep), and the
//! request's top-level `id` and `method` when they can be read.
//!
//! It recovers what an error answer needs from lines that a parser refuses
//! (invalid UTF-8, `NaN`, too deep, cut off), so it never fails: it reads what
//! it can and stops at the end of the bytes.

use rmcp::model::RequestId;

/// How many levels of the path to a too-deep value are named.
const NAMED_LEVELS: usize = 8;

/// What [`scan`] found.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Scan {
    /// The path to the first value nested deeper than the limit, as keys and
    /// `[index]`es from the top (at most [`NAMED_LEVELS`] of them).
    pub too_deep: Option<Vec<Segment>>,
    /// The top-level `id`, when it is a string or an integer.
    pub id: Option<RequestId>,
    /// The top-level `method`, when it is a string.
    pub method: Option<String>,
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Segment {
    Key(String),
    Index(usize),
}

/// One open container: its current key or index.
struct Level {
    object: bool,
    /// Inside an object: the next string is a key.
    expect_key: bool,
    segment: Segment,
}

/// Scans `line`, reporting the first place that nests deeper than `max_depth`.
pub(super) fn scan(line: &[u8], max_depth: usize) -> Scan {
    let mut found = Scan::default();
    let mut stack: Vec<Level> = Vec::new();
    let mut i = 0;
    while i < line.len() {
        let byte = line[i];
        match byte {
            b'"' => {
                let end = string_end(line, i);
                let token = &line[i..end];
                match stack.last_mut() {
                    Some(level) if level.object && level.expect_key => {
                        level.expect_key = false;
                        level.segment = Segment::Key(unescape(token));
                    }
                    _ => take_top_value(&stack, token, &mut found),
                }
                i = end;
                continue;
            }
            b'{' | b'[' => {
                if stack.len() >= max_depth {
                    let path = stack
                        .iter()
                        .take(NAMED_LEVELS)
                        .map(|level| level.segment.clone())
                        .collect();
                    found.too_deep = Some(path);
                    return found;
                }
                stack.push(Level {
                    object: byte == b'{',
                    expect_key: byte == b'{',
                    segment: Segment::Index(0),
                });
            }
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(level) = stack.last_mut() {
                    if level.object {
                        level.expect_key = true;
                    } else if let Segment::Index(n) = &mut level.segment {
                        *n += 1;
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let end = line[i..]
                    .iter()
                    .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .map_or(line.len(), |n| i + n);
                take_top_value(&stack, &line[i..end], &mut found);
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// Keeps a top-level `id` or `method` value (a whole string or number token).
fn take_top_value(stack: &[Level], token: &[u8], found: &mut Scan) {
    let [level] = stack else { return };
    let Segment::Key(key) = &level.segment else {
        return;
    };
    match key.as_str() {
        "id" if found.id.is_none() => {
            found.id = serde_json::from_slice::<RequestId>(token).ok();
        }
        "method" if found.method.is_none() => {
            found.method = serde_json::from_slice::<String>(token).ok();
        }
        _ => {}
    }
}

/// The index just past the string that starts at `start` (its opening quote),
/// or the end of the line if it is not closed.
fn string_end(line: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    line.len()
}

/// A key's text, escapes resolved when they can be; lossy otherwise.
fn unescape(token: &[u8]) -> String {
    serde_json::from_slice::<String>(token).unwrap_or_else(|_| {
        let inner = token.strip_prefix(b"\"").unwrap_or(token);
        let inner = inner.strip_suffix(b"\"").unwrap_or(inner);
        String::from_utf8_lossy(inner).into_owned()
    })
}

/// A path as `params.arguments.text[0]`.
pub(super) fn render_path(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index(n) => out.push_str(&format!("[{n}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(levels: usize) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"set_note","arguments":{{"title":"t","text":{}{}}}}}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    }

    #[test]
    fn finds_id_and_method_and_no_excess_in_a_normal_request() {
        let found = scan(deep(3).as_bytes(), 512);
        assert_eq!(found.id, Some(RequestId::Number(7)));
        assert_eq!(found.method.as_deref(), Some("tools/call"));
        assert_eq!(found.too_deep, None);
    }

    #[test]
    fn names_the_path_to_a_value_nested_too_deep() {
        let found = scan(deep(1000).as_bytes(), 512);
        let path = found.too_deep.expect("too deep");
        assert_eq!(
            render_path(&path),
            "params.arguments.text[0][0][0][0][0]",
            "the first eight levels are named"
        );
        assert_eq!(found.id, Some(RequestId::Number(7)));
    }

    #[test]
    fn depth_is_counted_like_serde_json() {
        // The whole message is one level: 3 levels of objects + n arrays.
        assert_eq!(scan(deep(509).as_bytes(), 512).too_deep, None);
        assert!(scan(deep(510).as_bytes(), 512).too_deep.is_some());
    }

    #[test]
    fn reads_string_ids_and_ignores_nested_ids_and_braces_in_strings() {
        let line = br#"{"params":{"id":1,"x":"}{]["},"id":"a\"b","method":"ping"}"#;
        let found = scan(line, 512);
        assert_eq!(found.id, Some(RequestId::String("a\"b".into())));
        assert_eq!(found.method.as_deref(), Some("ping"));
    }

    #[test]
    fn recovers_the_id_of_lines_a_parser_refuses() {
        let nan = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"x":NaN}}"#;
        assert_eq!(scan(nan, 512).id, Some(RequestId::Number(3)));
        let mut bad_utf8 = br#"{"id":"q","method":"ping","params":{"x":""#.to_vec();
        bad_utf8.extend_from_slice(&[0xff, 0xfe]);
        assert_eq!(scan(&bad_utf8, 512).id, Some(RequestId::String("q".into())));
        assert_eq!(scan(br#"{"id":1e999}"#, 512).id, None, "not an integer id");
        assert_eq!(scan(b"{\"id\":4", 512).id, Some(RequestId::Number(4)));
        assert_eq!(scan(b"", 512), Scan::default());
    }
}

//! Resource URIs: `persist://{namespace}/{key}`, the key as stored after
//! `namespace:` (the scope never appears: each caller addresses its own
//! records), percent-encoded except for unreserved characters and `/`.

use std::fmt::Write as _;

use crate::spec::{KeyPiece, RecordSpec};

/// The scheme of every record URI.
pub const SCHEME: &str = "persist://";

/// Whether `b` stands as it is in a URI path segment of ours.
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')
}

/// `text`, percent-encoded for a record URI.
pub(crate) fn encode(text: &str, out: &mut String) {
    for &b in text.as_bytes() {
        if plain(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The URI of the record whose key (after `namespace:`) is `key`.
pub(crate) fn of(namespace: &str, key: &str) -> String {
    let mut out = String::with_capacity(SCHEME.len() + namespace.len() + key.len() + 8);
    out.push_str(SCHEME);
    out.push_str(namespace);
    out.push('/');
    encode(key, &mut out);
    out
}

/// The URI template of a keyed type: literals encoded, `{field}` for each
/// placeholder (RFC 6570 level 1).
pub(crate) fn template(spec: &RecordSpec) -> String {
    let mut out = format!("{SCHEME}{}/", spec.namespace);
    for piece in spec.key_pieces {
        match *piece {
            KeyPiece::Lit(lit) => encode(lit, &mut out),
            KeyPiece::Field(name) => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
    }
    out
}

/// Splits a record URI into its namespace and key; `None` for anything
/// else (another scheme, no key, a broken escape, bytes that are not UTF-8).
pub(crate) fn parse(uri: &str) -> Option<(&str, String)> {
    let rest = uri.strip_prefix(SCHEME)?;
    let (namespace, key) = rest.split_once('/')?;
    if namespace.is_empty() || key.is_empty() {
        return None;
    }
    let mut bytes = Vec::with_capacity(key.len());
    let mut it = key.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next()?, it.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
        } else if plain(b) || b == b':' {
            bytes.push(b);
        } else {
            return None;
        }
    }
    Some((namespace, String::from_utf8(bytes).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_every_key() {
        for key in ["progress/dune", "a b/ç%2F", "x?y#z", "p/@alice"] {
            let uri = of("progress", key);
            assert!(
                uri.bytes().all(|b| b.is_ascii_graphic()),
                "{uri}: printable ASCII"
            );
            assert_eq!(parse(&uri), Some(("progress", key.to_owned())), "{uri}");
        }
        for bad in [
            "file:///etc",
            "persist://",
            "persist://ns",
            "persist://ns/",
            "persist://ns/%zz",
            "persist://ns/%FF",
            "persist://ns/a b",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}

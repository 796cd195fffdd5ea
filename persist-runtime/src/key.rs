//! Record keys: rendering a key template with escaped placeholder values.
//!
//! A stored key is `namespace:rendered-template`. Placeholder values are
//! percent-escaped so that no value can produce another record's key: `%`,
//! `/`, control characters and the first character of every literal that
//! follows a placeholder are written as `%XX`. Each value therefore ends
//! exactly where the next literal begins, so a key maps back to one set of
//! values; other characters are kept, so keys stay readable and in the
//! values' order. Escaping works character by character: the escaped form of
//! a prefix is a prefix of the escaped form.

use std::fmt::{self, Display};

use crate::error::{Error, Result};
use crate::spec::RecordSpec;

/// The longest stored key, in bytes. LMDB allows 511; the expiry index and
/// list item suffixes need the rest.
pub const MAX_KEY_LEN: usize = 480;

/// The full key of one record in the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey(String);

impl RecordKey {
    /// Renders `spec.key` with `params` (one per placeholder, in order).
    pub fn render(spec: &RecordSpec, params: &[&dyn Display]) -> Result<Self> {
        Self::render_with(spec, &Escapes::of(spec.key), params)
    }

    /// [`RecordKey::render`] with the template's escapes computed beforehand.
    pub(crate) fn render_with(
        spec: &RecordSpec,
        escapes: &Escapes,
        params: &[&dyn Display],
    ) -> Result<Self> {
        let mut out = String::with_capacity(spec.namespace.len() + spec.key.len() + 16);
        // Writing to a String cannot fail: the key is complete (`true`).
        render_into(spec, escapes, params, &mut out)?;
        if out.len() > MAX_KEY_LEN {
            return Err(too_long(spec, escapes, params, &out));
        }
        Ok(Self(out))
    }

    /// Wraps an already rendered key after checking its length. For keys
    /// with no field in them (a list's item keys): the error names none.
    pub(crate) fn checked(spec: &RecordSpec, key: String) -> Result<Self> {
        if key.len() > MAX_KEY_LEN {
            return Err(Error::KeyTooLong {
                type_name: spec.type_name,
                field: None,
                value_len: 0,
                escaped_len: 0,
                len: key.len(),
                max: MAX_KEY_LEN,
                key_start: key_start(&key),
            });
        }
        Ok(Self(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as bytes, as LMDB stores it.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The first characters of a key, for error messages.
fn key_start(key: &str) -> String {
    key.chars().take(60).collect()
}

/// The error for `key` (rendered from `params`) being too long: it names the
/// field whose value takes the most bytes once escaped (the first of equals).
/// Only on the error path, so the values are rendered again to measure them.
fn too_long(spec: &RecordSpec, escapes: &Escapes, params: &[&dyn Display], key: &str) -> Error {
    let mut longest: Option<(&'static str, usize, usize)> = None;
    let placeholders = Template(spec.key).parts().filter_map(|part| match part {
        Part::Placeholder(name) => Some(name),
        Part::Literal(_) => None,
    });
    for ((value, field), name) in params
        .iter()
        .zip(spec.key_params.iter().copied())
        .zip(placeholders)
    {
        let raw = value.to_string();
        let mut escaped = String::with_capacity(raw.len());
        // Writing to a String cannot fail.
        let _ = escapes.escape_into(&raw, &mut escaped);
        if longest.is_none_or(|(_, _, len)| escaped.len() > len) {
            let field = if field.is_empty() { name } else { field };
            longest = Some((field, raw.len(), escaped.len()));
        }
    }
    let (field, value_len, escaped_len) = match longest {
        Some((field, raw, escaped)) => (Some(field), raw, escaped),
        None => (None, 0, 0),
    };
    Error::KeyTooLong {
        type_name: spec.type_name,
        field,
        value_len,
        escaped_len,
        len: key.len(),
        max: MAX_KEY_LEN,
        key_start: key_start(key),
    }
}

/// Keys up to this many bytes are rendered on the stack for reads.
const STACK_KEY_LEN: usize = 128;

/// A key rendered on the stack: small, so it moves cheaply.
pub(crate) type StackKey = arrayvec::ArrayString<STACK_KEY_LEN>;

/// The key of a read: on the stack when it fits (almost always), else on the heap.
pub(crate) enum ReadKey {
    Stack(StackKey),
    Heap(RecordKey),
}

impl ReadKey {
    /// The key as text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            ReadKey::Stack(key) => key,
            ReadKey::Heap(key) => key.as_str(),
        }
    }
}

/// Renders the key of `T` with key fields `params` for a read: without an
/// allocation unless the key is long.
pub(crate) fn read_key<T: crate::spec::Persisted>(params: &[&dyn Display]) -> Result<ReadKey> {
    let spec = &T::SPEC;
    let escapes = const { &Escapes::of(T::SPEC.key) };
    let mut out = StackKey::new();
    if render_into(spec, escapes, params, &mut out)? {
        Ok(ReadKey::Stack(out))
    } else {
        RecordKey::render_with(spec, escapes, params).map(ReadKey::Heap)
    }
}

/// Where a key is rendered: a `String`, or a [`StackKey`] (whose writes fail
/// once the key is longer than any valid key).
pub(crate) trait KeyOut: fmt::Write {
    fn text(&self) -> &str;
    fn truncate_to(&mut self, len: usize);
}

impl KeyOut for String {
    fn text(&self) -> &str {
        self
    }
    fn truncate_to(&mut self, len: usize) {
        self.truncate(len);
    }
}

impl KeyOut for StackKey {
    fn text(&self) -> &str {
        self
    }
    fn truncate_to(&mut self, len: usize) {
        self.truncate(len);
    }
}

/// Writes `namespace:` and `spec.key` rendered with `params` to `out`.
/// Returns `false` if `out` refused a write (the key does not fit it).
fn render_into(
    spec: &RecordSpec,
    escapes: &Escapes,
    params: &[&dyn Display],
    out: &mut impl KeyOut,
) -> Result<bool> {
    // The macro derives `key_params` from the template itself.
    let expected = spec.key_params.len();
    if expected != params.len() {
        return Err(Error::KeyArity {
            type_name: spec.type_name,
            template: spec.key,
            expected,
            got: params.len(),
        });
    }
    // `?` on a write: it did not fit.
    macro_rules! fits {
        ($write:expr) => {
            if $write.is_err() {
                return Ok(false);
            }
        };
    }
    fits!(out.write_str(spec.namespace));
    fits!(out.write_char(':'));
    let mut params = params.iter().zip(spec.key_params.iter().copied());
    for part in Template(spec.key).parts() {
        match part {
            Part::Literal(lit) => fits!(out.write_str(lit)),
            Part::Placeholder(name) => {
                let Some((value, field)) = params.next() else {
                    break;
                };
                let start = out.text().len();
                fits!(write!(out, "{value}"));
                if out.text().len() == start {
                    return Err(Error::EmptyKeyParam {
                        type_name: spec.type_name,
                        param: if field.is_empty() { name } else { field },
                    });
                }
                // Most values need no escaping: only rebuild the tail if one does.
                if escapes.any_in(&out.text()[start..]) {
                    let value = out.text()[start..].to_owned();
                    out.truncate_to(start);
                    fits!(escapes.escape_into(&value, out));
                }
            }
        }
    }
    Ok(true)
}

/// A value that can stand in a key placeholder: anything `Display`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a record key: key fields must implement `Display`",
    label = "this field is named in `key`, so its type must implement `Display`",
    note = "use a String, an integer or a type with a `Display` impl, or take the field out of `key`"
)]
pub trait KeyPart {
    /// The value, for rendering into the key.
    fn as_key_part(&self) -> &dyn Display;
}

impl<T: Display> KeyPart for T {
    fn as_key_part(&self) -> &dyn Display {
        self
    }
}

/// `namespace:`, the prefix every key of the type starts with.
pub(crate) fn namespace_prefix(spec: &RecordSpec) -> String {
    let mut out = String::with_capacity(spec.namespace.len() + spec.key.len() + 16);
    out.push_str(spec.namespace);
    out.push(':');
    out
}

/// The key prefix of the records whose first placeholder starts with `prefix`.
pub(crate) fn search_prefix(spec: &RecordSpec, prefix: &str) -> String {
    let template = Template(spec.key);
    let mut out = namespace_prefix(spec);
    for part in template.parts() {
        match part {
            Part::Literal(lit) => out.push_str(lit),
            Part::Placeholder(_) => {
                // Writing to a String cannot fail.
                let _ = Escapes::of(spec.key).escape_into(prefix, &mut out);
                break;
            }
        }
    }
    out
}

/// A key template such as `notes/{user}/{id}`.
#[derive(Clone, Copy)]
struct Template(&'static str);

enum Part {
    Literal(&'static str),
    Placeholder(&'static str),
}

impl Template {
    fn parts(self) -> impl Iterator<Item = Part> {
        // Braces are ASCII, so byte positions next to them are char boundaries.
        let text = self.0;
        let bytes = text.as_bytes();
        let mut pos = 0;
        std::iter::from_fn(move || {
            let first = *bytes.get(pos)?;
            let rest = &bytes[pos + 1..];
            if first == b'{'
                && let Some(len) = rest.iter().position(|&b| b == b'}')
            {
                let name = &text[pos + 1..pos + 1 + len];
                pos += len + 2;
                return Some(Part::Placeholder(name));
            }
            // A literal runs to the next `{` after its first character.
            let start = pos;
            pos += 1 + rest.iter().position(|&b| b == b'{').unwrap_or(rest.len());
            Some(Part::Literal(&text[start..pos]))
        })
    }

    /// The first character of every literal that follows a placeholder:
    /// in a value, each would end the value early.
    fn followers(self) -> impl Iterator<Item = char> {
        let mut after_placeholder = false;
        self.parts().filter_map(move |part| match part {
            Part::Placeholder(_) => {
                after_placeholder = true;
                None
            }
            Part::Literal(lit) => std::mem::take(&mut after_placeholder)
                .then(|| lit.chars().next())
                .flatten(),
        })
    }
}

/// The characters escaped in the values of one template: `%`, `/`, control
/// characters and the template's followers. ASCII ones are a table, so the
/// common check (is any character of this value special?) is a lookup per byte.
/// Built at compile time for each persisted type (a `const fn`).
#[derive(Clone, Copy)]
pub(crate) struct Escapes {
    template: Template,
    /// `ascii[b]`: ASCII byte `b` is escaped.
    ascii: [bool; 128],
    /// Some follower is not ASCII (then the template is asked again).
    other_followers: bool,
}

impl Escapes {
    /// The escapes of the key template `key`.
    pub(crate) const fn of(key: &'static str) -> Self {
        let mut ascii = [false; 128];
        let mut b = 0;
        while b < 0x20 {
            ascii[b] = true; // control characters
            b += 1;
        }
        ascii[0x7f] = true;
        ascii[b'%' as usize] = true;
        ascii[b'/' as usize] = true;
        let mut other_followers = false;
        // In a valid template every `}` closes a placeholder, and the byte after
        // it starts the next literal: a follower.
        let bytes = key.as_bytes();
        let mut i = 0;
        while i + 1 < bytes.len() {
            let next = bytes[i + 1];
            if bytes[i] == b'}' && next != b'{' {
                if next.is_ascii() {
                    ascii[next as usize] = true;
                } else {
                    other_followers = true;
                }
            }
            i += 1;
        }
        Self {
            template: Template(key),
            ascii,
            other_followers,
        }
    }

    fn contains(&self, c: char) -> bool {
        match u8::try_from(c).ok().filter(u8::is_ascii) {
            Some(b) => self.ascii[usize::from(b & 0x7f)],
            None => {
                c.is_control()
                    || (self.other_followers && self.template.followers().any(|f| f == c))
            }
        }
    }

    /// Whether any character of `value` is escaped.
    fn any_in(&self, value: &str) -> bool {
        if value.is_ascii() {
            value.bytes().any(|b| self.ascii[usize::from(b & 0x7f)])
        } else {
            value.chars().any(|c| self.contains(c))
        }
    }

    /// Appends `value` to `out`, percent-escaping the characters in this set.
    fn escape_into(&self, value: &str, out: &mut impl fmt::Write) -> fmt::Result {
        let mut buf = [0u8; 4];
        for c in value.chars() {
            if self.contains(c) {
                for b in c.encode_utf8(&mut buf).bytes() {
                    write!(out, "%{b:02X}")?;
                }
            } else {
                out.write_char(c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Kind;

    fn spec(key: &'static str, params: &'static [&'static str]) -> RecordSpec {
        RecordSpec {
            type_name: "T",
            namespace: "t",
            key,
            key_params: params,
            kind: Kind::Keyed,
            ttl: None,
            version: 1,
            doc: "",
            migrate: None,
        }
    }

    #[test]
    fn renders_and_escapes_delimiters() {
        let s = spec("progress/{book_id}", &["book_id"]);
        let k = RecordKey::render(&s, &[&"../x"]).unwrap();
        assert_eq!(k.as_str(), "t:progress/..%2Fx");
        let k = RecordKey::render(&s, &[&"100%"]).unwrap();
        assert_eq!(k.as_str(), "t:progress/100%25");
        let k = RecordKey::render(&s, &[&42u32]).unwrap();
        assert_eq!(k.as_str(), "t:progress/42");
        // Letters of the literal are not escaped: keys keep the values' order.
        let k = RecordKey::render(&s, &[&"emma"]).unwrap();
        assert_eq!(k.as_str(), "t:progress/emma");
    }

    #[test]
    fn adjacent_values_cannot_collide() {
        let s = spec("{a}-{b}", &["a", "b"]);
        let k1 = RecordKey::render(&s, &[&"x-y", &"z"]).unwrap();
        let k2 = RecordKey::render(&s, &[&"x", &"y-z"]).unwrap();
        assert_ne!(k1, k2);
        let s = spec("{a}.json", &["a"]);
        let k1 = RecordKey::render(&s, &[&"x.json"]).unwrap();
        assert_eq!(k1.as_str(), "t:x%2Ejson.json");
        // A literal may start with a character of several bytes.
        let s = spec("{a}é{b}", &["a", "b"]);
        let k = RecordKey::render(&s, &[&"xé", &"y"]).unwrap();
        assert_eq!(k.as_str(), "t:x%C3%A9éy");
    }

    #[test]
    fn empty_and_long_values_are_errors() {
        let s = spec("p/{id}", &["id"]);
        let err = RecordKey::render(&s, &[&""]).unwrap_err();
        assert!(err.to_string().contains("`id`"), "{err}");
        let long = "x".repeat(600);
        let err = RecordKey::render(&s, &[&long]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::KeyTooLong {
                    field: Some("id"),
                    ..
                }
            ),
            "{err}"
        );
        let err = RecordKey::render(&s, &[]).unwrap_err();
        assert!(matches!(err, Error::KeyArity { .. }), "{err}");
    }

    /// The bytes the message says are left for the field, read back from it.
    fn left_in(message: &str) -> usize {
        let (before, _) = message
            .split_once(" bytes are left for it")
            .unwrap_or_else(|| panic!("no 'left for it' in {message}"));
        before
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count before 'left for it' in {message}"))
    }

    #[test]
    fn too_long_names_the_field_and_what_is_left_for_it() {
        let s = RecordSpec {
            type_name: "Note",
            namespace: "note",
            ..spec("notes/{title}", &["title"])
        };
        let err = RecordKey::render(&s, &[&"x".repeat(600)]).unwrap_err();
        let message = err.to_string();
        // "note:notes/" takes 11 bytes: 469 are left.
        assert!(
            message.starts_with(
                "key of Note too long: field `title` is 600 bytes; with the namespace and the \
                 rest of the key, 469 bytes are left for it (limit 480 bytes for the whole \
                 stored key); the key starts with \"note:notes/xxx"
            ),
            "{message}"
        );
        assert!(
            matches!(
                err,
                Error::KeyTooLong {
                    field: Some("title"),
                    value_len: 600,
                    escaped_len: 600,
                    len: 611,
                    max: 480,
                    ..
                }
            ),
            "{err:?}"
        );
        // The figure is exact: that many bytes fit, one more does not.
        assert!(RecordKey::render(&s, &[&"x".repeat(469)]).is_ok());
        let err = RecordKey::render(&s, &[&"x".repeat(470)]).unwrap_err();
        assert_eq!(left_in(&err.to_string()), 469, "{err}");
    }

    #[test]
    fn too_long_after_escaping_says_the_escaped_size() {
        let s = spec("p/{id}", &["id"]);
        // 200 bytes as given, each `/` stored as `%2F`.
        let err = RecordKey::render(&s, &[&"/".repeat(200)]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("field `id` is 600 bytes once escaped (200 bytes as given;"),
            "{message}"
        );
        assert_eq!(left_in(&message), 480 - "t:p/".len(), "{message}");
        // A value that fits before escaping but not after.
        let fits_raw = "/".repeat(160);
        assert!(4 + fits_raw.len() <= MAX_KEY_LEN);
        let err = RecordKey::render(&s, &[&fits_raw]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::KeyTooLong {
                    value_len: 160,
                    escaped_len: 480,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn too_long_with_several_fields_names_the_longest_and_counts_the_others() {
        let s = spec("{a}-{b}/{c}", &["a", "b", "c"]);
        let a = "x".repeat(10);
        let b = "y".repeat(500);
        let err = RecordKey::render(&s, &[&a, &b, &"z"]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("field `b` is 500 bytes"), "{message}");
        // "t:" + a + "-" + "/" + c = 2 + 10 + 1 + 1 + 1.
        assert_eq!(left_in(&message), 480 - 15, "{message}");
        let fits = "y".repeat(465);
        assert!(RecordKey::render(&s, &[&a, &fits, &"z"]).is_ok());
        // The escaped size decides: 100 `-` in `a` (300 bytes) outweigh 250 plain bytes in `b`.
        let err = RecordKey::render(&s, &[&"-".repeat(100), &"y".repeat(250), &"z"]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::KeyTooLong {
                    field: Some("a"),
                    value_len: 100,
                    escaped_len: 300,
                    ..
                }
            ),
            "{err:?}"
        );
        // Equal sizes: the first field is named.
        let err = RecordKey::render(&s, &[&"y".repeat(300), &"y".repeat(300), &"z"]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::KeyTooLong {
                    field: Some("a"),
                    ..
                }
            ),
            "{err:?}"
        );
        // Reads render on the stack first: the same error.
        let long = "q".repeat(STACK_KEY_LEN * 4);
        let stack_err = {
            let mut out = StackKey::new();
            let escapes = Escapes::of(s.key);
            assert!(!render_into(&s, &escapes, &[&long, &"b", &"c"], &mut out).unwrap());
            RecordKey::render_with(&s, &escapes, &[&long, &"b", &"c"]).unwrap_err()
        };
        assert_eq!(
            stack_err.to_string(),
            RecordKey::render(&s, &[&long, &"b", &"c"])
                .unwrap_err()
                .to_string()
        );
    }

    #[test]
    fn too_long_without_a_field_says_the_template_is() {
        let s = spec("log", &[]);
        let key = format!("t:{}/{:016x}", "l".repeat(470), u64::MAX);
        let err = RecordKey::checked(&s, key).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, Error::KeyTooLong { field: None, .. })
                && message.contains("namespace and key template alone make 489 bytes")
                && message.contains("limit 480 bytes"),
            "{message}"
        );
    }

    #[test]
    fn search_prefix_is_prefix_of_key() {
        let s = spec("notes/{user}/{id}", &["user", "id"]);
        let k = RecordKey::render(&s, &[&"al/ice", &"7"]).unwrap();
        assert!(k.as_str().starts_with(&search_prefix(&s, "al/i")));
        assert_eq!(search_prefix(&s, ""), "t:notes/");
    }

    #[test]
    fn escaped_characters_are_exactly_the_documented_ones() {
        for key in ["{a}", "x/{a}-{b}.json", "{a}é{b}~"] {
            let template = Template(key);
            let followers: String = template.followers().collect();
            let escapes = Escapes::of(key);
            for c in (0..0x3000u32).filter_map(char::from_u32) {
                let documented = c == '%' || c == '/' || c.is_control() || followers.contains(c);
                assert_eq!(escapes.contains(c), documented, "{key}: {c:?}");
                let mut one = String::new();
                one.push(c);
                assert_eq!(escapes.any_in(&one), documented, "{key}: {c:?}");
            }
        }
    }
}

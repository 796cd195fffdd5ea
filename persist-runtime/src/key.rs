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
//!
//! The template comes split by `#[persisted]` ([`RecordSpec::key_pieces`]);
//! the escaped set of a type is computed from the pieces at compile time
//! (`const`), so a render is: write each piece, values through an escaping
//! writer, in one pass.

use std::fmt::{self, Display, Write as _};

use crate::error::{Error, Result};
use crate::scope::{Scope, Scoping};
use crate::spec::{KeyPiece, RecordSpec};

/// The longest stored key, in bytes. LMDB allows 511; the expiry index and
/// list item suffixes need the rest.
pub const MAX_KEY_LEN: usize = 480;

/// The full key of one record in the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey(String);

impl RecordKey {
    /// Renders `spec.key_pieces` with `params` (one per placeholder, in
    /// order), under `scope` for a per-user type (which fails without one;
    /// a shared type ignores it).
    pub fn render(
        spec: &RecordSpec,
        scope: Option<&Scope>,
        params: &[&dyn Display],
    ) -> Result<Self> {
        Self::render_with(spec, &Escapes::of(spec.key_pieces), scope, params)
    }

    /// [`RecordKey::render`] with the template's escapes computed beforehand.
    pub(crate) fn render_with(
        spec: &RecordSpec,
        escapes: &Escapes,
        scope: Option<&Scope>,
        params: &[&dyn Display],
    ) -> Result<Self> {
        let mut out = String::with_capacity(spec.namespace.len() + spec.key.len() + 16);
        render_into(spec, escapes, scope, params, &mut out)?;
        check_len(spec, escapes, params, &out)?;
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

/// Fails if the rendered `key` is longer than [`MAX_KEY_LEN`].
#[inline]
pub(crate) fn check_len(
    spec: &RecordSpec,
    escapes: &Escapes,
    params: &[&dyn Display],
    key: &str,
) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(too_long(spec, escapes, params, key));
    }
    Ok(())
}

/// The error for `key` (rendered from `params`) being too long: it names the
/// field whose value takes the most bytes once escaped (the first of equals).
/// Only on the error path, so the values are rendered again to measure them.
#[cold]
fn too_long(spec: &RecordSpec, escapes: &Escapes, params: &[&dyn Display], key: &str) -> Error {
    let mut longest: Option<(&'static str, usize, usize)> = None;
    let fields = spec.key_pieces.iter().filter_map(|piece| match piece {
        KeyPiece::Field(name) => Some(*name),
        KeyPiece::Lit(_) => None,
    });
    for (value, field) in params.iter().zip(fields) {
        let raw = value.to_string();
        let mut escaped = String::with_capacity(raw.len());
        // Writing to a String cannot fail.
        let _ = escapes.writer(&mut escaped).write_str(&raw);
        if longest.is_none_or(|(_, _, len)| escaped.len() > len) {
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

/// The key of a read: on the stack while it fits (almost always), moved to
/// the heap by the first write that does not fit. Writes never fail.
pub(crate) enum ReadKey {
    Stack(arrayvec::ArrayString<STACK_KEY_LEN>),
    Heap(String),
}

impl ReadKey {
    /// The key as text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            ReadKey::Stack(key) => key,
            ReadKey::Heap(key) => key,
        }
    }
}

impl fmt::Write for ReadKey {
    #[inline(always)]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match self {
            ReadKey::Stack(key) => {
                if key.try_push_str(s).is_err() {
                    let mut heap = String::with_capacity(key.len() + s.len() + STACK_KEY_LEN);
                    heap.push_str(key);
                    heap.push_str(s);
                    *self = ReadKey::Heap(heap);
                }
            }
            ReadKey::Heap(key) => key.push_str(s),
        }
        Ok(())
    }
}

/// What the keys of `spec` start with under `scope`: the scope's prefix for
/// a per-user type (an error without a scope), nothing for a shared one.
#[inline]
pub(crate) fn scope_prefix<'a>(spec: &RecordSpec, scope: Option<&'a Scope>) -> Result<&'a str> {
    match (spec.scope, scope) {
        (Scoping::Shared, _) => Ok(""),
        (Scoping::User, Some(scope)) => Ok(scope.key_prefix()),
        (Scoping::User, None) => Err(Error::NoScope {
            type_name: spec.type_name,
        }),
    }
}

/// Writes the scope's prefix, `namespace:` and the key pieces rendered with
/// `params` to `out` (whose writes must not fail: a `String` or a [`ReadKey`]).
#[inline]
pub(crate) fn render_into(
    spec: &RecordSpec,
    escapes: &Escapes,
    scope: Option<&Scope>,
    params: &[&dyn Display],
    out: &mut impl fmt::Write,
) -> Result<()> {
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
    // Writes to `out` cannot fail (see above): their results are ignored.
    let _ = out.write_str(scope_prefix(spec, scope)?);
    let _ = out.write_str(spec.namespace);
    let _ = out.write_char(':');
    let mut params = params.iter();
    for piece in spec.key_pieces {
        match *piece {
            KeyPiece::Lit(lit) => {
                let _ = out.write_str(lit);
            }
            KeyPiece::Field(name) => {
                let Some(value) = params.next() else {
                    break;
                };
                let mut writer = escapes.writer(out);
                let _ = write!(writer, "{value}");
                if writer.written == 0 {
                    return Err(Error::EmptyKeyParam {
                        type_name: spec.type_name,
                        param: name,
                    });
                }
            }
        }
    }
    Ok(())
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

/// `namespace:` after the scope's prefix: what every key of the type under
/// `scope` starts with.
pub(crate) fn namespace_prefix(spec: &RecordSpec, scope: Option<&Scope>) -> Result<String> {
    let scope = scope_prefix(spec, scope)?;
    let mut out = String::with_capacity(scope.len() + spec.namespace.len() + spec.key.len() + 16);
    out.push_str(scope);
    out.push_str(spec.namespace);
    out.push(':');
    Ok(out)
}

/// The key prefix of the records under `scope` whose first placeholder
/// starts with `prefix`.
pub(crate) fn search_prefix(
    spec: &RecordSpec,
    scope: Option<&Scope>,
    prefix: &str,
) -> Result<String> {
    let mut out = namespace_prefix(spec, scope)?;
    for piece in spec.key_pieces {
        match *piece {
            KeyPiece::Lit(lit) => out.push_str(lit),
            KeyPiece::Field(_) => {
                // Writing to a String cannot fail.
                let _ = Escapes::of(spec.key_pieces)
                    .writer(&mut out)
                    .write_str(prefix);
                break;
            }
        }
    }
    Ok(out)
}

/// The first character of every literal that follows a placeholder: in a
/// value, each would end the value early.
fn followers(pieces: &[KeyPiece]) -> impl Iterator<Item = char> + '_ {
    pieces.windows(2).filter_map(|pair| match pair {
        [KeyPiece::Field(_), KeyPiece::Lit(lit)] => lit.chars().next(),
        _ => None,
    })
}

/// The characters escaped in the values of one template: `%`, `/`, control
/// characters and the template's followers. ASCII ones are a bit set, so the
/// common check (is any character of this value special?) is a shift per byte.
/// Built at compile time for each persisted type (a `const fn`).
#[derive(Clone, Copy)]
pub(crate) struct Escapes {
    /// Bit `b`: ASCII byte `b` is escaped.
    ascii: u128,
    /// The pieces, asked again for a non-ASCII character when `other_followers`.
    pieces: &'static [KeyPiece],
    /// Some follower is not ASCII.
    other_followers: bool,
}

impl Escapes {
    /// The escapes of the key template split into `pieces`.
    pub(crate) const fn of(pieces: &'static [KeyPiece]) -> Self {
        // Control characters, DEL, `%` and `/`.
        let mut ascii: u128 = (1 << 0x20) - 1;
        ascii |= 1 << 0x7f | 1 << b'%' | 1 << b'/';
        let mut other_followers = false;
        let mut i = 1;
        while i < pieces.len() {
            if let (KeyPiece::Field(_), KeyPiece::Lit(lit)) = (&pieces[i - 1], &pieces[i])
                && let Some(&first) = lit.as_bytes().first()
            {
                if first.is_ascii() {
                    ascii |= 1 << first;
                } else {
                    other_followers = true;
                }
            }
            i += 1;
        }
        Self {
            ascii,
            pieces,
            other_followers,
        }
    }

    #[inline]
    fn ascii_escaped(&self, b: u8) -> bool {
        self.ascii >> (b & 0x7f) & 1 == 1
    }

    fn contains(&self, c: char) -> bool {
        match u8::try_from(c).ok().filter(u8::is_ascii) {
            Some(b) => self.ascii_escaped(b),
            None => {
                c.is_control() || (self.other_followers && followers(self.pieces).any(|f| f == c))
            }
        }
    }

    /// Whether any character of `value` is escaped (one pass over ASCII text).
    #[inline]
    fn any_in(&self, value: &str) -> bool {
        for (i, b) in value.bytes().enumerate() {
            if !b.is_ascii() {
                // Every byte before is ASCII: `i` starts a character.
                return value[i..].chars().any(|c| self.contains(c));
            }
            if self.ascii_escaped(b) {
                return true;
            }
        }
        false
    }

    /// A writer that escapes what is written through it into `out`.
    fn writer<'o, W: fmt::Write + ?Sized>(&self, out: &'o mut W) -> EscapingWriter<'_, 'o, W> {
        EscapingWriter {
            escapes: self,
            out,
            written: 0,
        }
    }
}

/// Writes text to `out`, percent-escaping the characters of `escapes`
/// (character by character, so a value may come in any number of writes).
struct EscapingWriter<'e, 'o, W: ?Sized> {
    escapes: &'e Escapes,
    out: &'o mut W,
    /// Bytes of text received (before escaping).
    written: usize,
}

impl<W: fmt::Write + ?Sized> fmt::Write for EscapingWriter<'_, '_, W> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.written += s.len();
        // Most values need no escaping.
        if !self.escapes.any_in(s) {
            return self.out.write_str(s);
        }
        let mut buf = [0u8; 4];
        for c in s.chars() {
            if self.escapes.contains(c) {
                for b in c.encode_utf8(&mut buf).bytes() {
                    write!(self.out, "%{b:02X}")?;
                }
            } else {
                self.out.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Splits a stored key into its scope (unescaped) and the rest
/// (`namespace:key`); `None` for a shared key. A key that starts with `@`
/// but has no `/`, or whose escapes are broken, is returned whole as shared
/// (such a key was not written by a per-user type).
pub fn split_key(key: &str) -> (Option<String>, &str) {
    let Some(after_at) = key.strip_prefix('@') else {
        return (None, key);
    };
    let Some((escaped, rest)) = after_at.split_once('/') else {
        return (None, key);
    };
    match unescape(escaped) {
        Some(scope) => (Some(scope), rest),
        None => (None, key),
    }
}

/// Undoes the escaping of a scope value (`%XX` of one ASCII byte).
fn unescape(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let hex: String = chars.by_ref().take(2).collect();
        let byte = u8::from_str_radix(&hex, 16).ok().filter(u8::is_ascii)?;
        out.push(char::from(byte));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Kind;

    #[test]
    fn a_scope_ends_at_its_first_slash() {
        let scope = Scope::new("bob/x%y@z").unwrap();
        assert_eq!(scope.key_prefix(), "@bob%2Fx%25y@z/");
        let key = format!("{}note:a", scope.key_prefix());
        assert_eq!(split_key(&key), (Some("bob/x%y@z".to_owned()), "note:a"));
        assert_eq!(split_key("note:a"), (None, "note:a"));
        assert_eq!(split_key("@broken"), (None, "@broken"));
    }

    /// `template` split as `#[persisted]` splits it (a valid template).
    fn pieces(template: &'static str) -> &'static [KeyPiece] {
        let mut out = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            if let Some((name, after)) = rest.strip_prefix('{').and_then(|r| r.split_once('}')) {
                out.push(KeyPiece::Field(name));
                rest = after;
                continue;
            }
            let first = rest.chars().next().map_or(0, char::len_utf8);
            let end = rest[first..].find('{').map_or(rest.len(), |i| first + i);
            out.push(KeyPiece::Lit(&rest[..end]));
            rest = &rest[end..];
        }
        Vec::leak(out)
    }

    fn spec(key: &'static str, params: &'static [&'static str]) -> RecordSpec {
        RecordSpec {
            type_name: "T",
            namespace: "t",
            key,
            key_pieces: pieces(key),
            key_params: params,
            kind: Kind::Keyed,
            ttl: None,
            version: 1,
            doc: "",
            migrate: None,
            scope: crate::scope::Scoping::Shared,
        }
    }

    #[test]
    fn renders_and_escapes_delimiters() {
        let s = spec("progress/{book_id}", &["book_id"]);
        let k = RecordKey::render(&s, None, &[&"../x"]).unwrap();
        assert_eq!(k.as_str(), "t:progress/..%2Fx");
        let k = RecordKey::render(&s, None, &[&"100%"]).unwrap();
        assert_eq!(k.as_str(), "t:progress/100%25");
        let k = RecordKey::render(&s, None, &[&42u32]).unwrap();
        assert_eq!(k.as_str(), "t:progress/42");
        // Letters of the literal are not escaped: keys keep the values' order.
        let k = RecordKey::render(&s, None, &[&"emma"]).unwrap();
        assert_eq!(k.as_str(), "t:progress/emma");
    }

    #[test]
    fn adjacent_values_cannot_collide() {
        let s = spec("{a}-{b}", &["a", "b"]);
        let k1 = RecordKey::render(&s, None, &[&"x-y", &"z"]).unwrap();
        let k2 = RecordKey::render(&s, None, &[&"x", &"y-z"]).unwrap();
        assert_ne!(k1, k2);
        let s = spec("{a}.json", &["a"]);
        let k1 = RecordKey::render(&s, None, &[&"x.json"]).unwrap();
        assert_eq!(k1.as_str(), "t:x%2Ejson.json");
        // A literal may start with a character of several bytes.
        let s = spec("{a}é{b}", &["a", "b"]);
        let k = RecordKey::render(&s, None, &[&"xé", &"y"]).unwrap();
        assert_eq!(k.as_str(), "t:x%C3%A9éy");
    }

    #[test]
    fn empty_and_long_values_are_errors() {
        let s = spec("p/{id}", &["id"]);
        let err = RecordKey::render(&s, None, &[&""]).unwrap_err();
        assert!(err.to_string().contains("`id`"), "{err}");
        let long = "x".repeat(600);
        let err = RecordKey::render(&s, None, &[&long]).unwrap_err();
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
        let err = RecordKey::render(&s, None, &[]).unwrap_err();
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
        let err = RecordKey::render(&s, None, &[&"x".repeat(600)]).unwrap_err();
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
        assert!(RecordKey::render(&s, None, &[&"x".repeat(469)]).is_ok());
        let err = RecordKey::render(&s, None, &[&"x".repeat(470)]).unwrap_err();
        assert_eq!(left_in(&err.to_string()), 469, "{err}");
    }

    #[test]
    fn too_long_after_escaping_says_the_escaped_size() {
        let s = spec("p/{id}", &["id"]);
        // 200 bytes as given, each `/` stored as `%2F`.
        let err = RecordKey::render(&s, None, &[&"/".repeat(200)]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("field `id` is 600 bytes once escaped (200 bytes as given;"),
            "{message}"
        );
        assert_eq!(left_in(&message), 480 - "t:p/".len(), "{message}");
        // A value that fits before escaping but not after.
        let fits_raw = "/".repeat(160);
        assert!(4 + fits_raw.len() <= MAX_KEY_LEN);
        let err = RecordKey::render(&s, None, &[&fits_raw]).unwrap_err();
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
        let err = RecordKey::render(&s, None, &[&a, &b, &"z"]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("field `b` is 500 bytes"), "{message}");
        // "t:" + a + "-" + "/" + c = 2 + 10 + 1 + 1 + 1.
        assert_eq!(left_in(&message), 480 - 15, "{message}");
        let fits = "y".repeat(465);
        assert!(RecordKey::render(&s, None, &[&a, &fits, &"z"]).is_ok());
        // The escaped size decides: 100 `-` in `a` (300 bytes) outweigh 250 plain bytes in `b`.
        let err =
            RecordKey::render(&s, None, &[&"-".repeat(100), &"y".repeat(250), &"z"]).unwrap_err();
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
        let err =
            RecordKey::render(&s, None, &[&"y".repeat(300), &"y".repeat(300), &"z"]).unwrap_err();
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
            let mut out = ReadKey::Stack(arrayvec::ArrayString::new());
            let escapes = Escapes::of(s.key_pieces);
            render_into(&s, &escapes, None, &[&long, &"b", &"c"], &mut out).unwrap();
            assert!(matches!(out, ReadKey::Heap(_)), "moved to the heap");
            check_len(&s, &escapes, &[&long, &"b", &"c"], out.as_str()).unwrap_err()
        };
        assert_eq!(
            stack_err.to_string(),
            RecordKey::render(&s, None, &[&long, &"b", &"c"])
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
        let k = RecordKey::render(&s, None, &[&"al/ice", &"7"]).unwrap();
        assert!(
            k.as_str()
                .starts_with(&search_prefix(&s, None, "al/i").unwrap())
        );
        assert_eq!(search_prefix(&s, None, "").unwrap(), "t:notes/");
    }

    #[test]
    fn escaped_characters_are_exactly_the_documented_ones() {
        for key in ["{a}", "x/{a}-{b}.json", "{a}é{b}~"] {
            let pieces = pieces(key);
            let followers: String = followers(pieces).collect();
            let escapes = Escapes::of(pieces);
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

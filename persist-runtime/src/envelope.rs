//! The value envelope: what is stored around each value.
//!
//! Stored as JSON, `d` last: `{"v":1,"c":<created ms>,"u":<updated ms>,"e":<expires ms>,"t":<ttl ms>,"d":<value>}`
//! (`e` is absent when the record does not expire; `t` is the record's own
//! time to live when a write chose one over its type's, `0` for never, and
//! absent when the type's applies). Times are milliseconds since the Unix epoch.

use std::io::Write as _;
use std::time::SystemTime;

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::clock::to_system_time;
use crate::error::{Error, Result};

/// Everything stored about a record but its value, as stored (times in
/// milliseconds since the Unix epoch): what [`admin`](crate::admin) shows of
/// raw records. More fields come with later stored formats (see FORMAT.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Header {
    /// The schema version the record was written with (the type's `version`).
    pub version: u32,
    /// When the record was created (kept across writes until it expires).
    pub created_ms: u64,
    /// When the record was last written.
    pub updated_ms: u64,
    /// When the record expires, if it does.
    pub expires_ms: Option<u64>,
    /// The record's own time to live in ms, chosen by the write that saved
    /// it ([`Ttl::Never`](crate::Ttl::Never) is `0`); `None`: its type's.
    /// Later updates re-arm it.
    pub ttl_ms: Option<u64>,
}

impl Header {
    pub(crate) fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_ms.is_some_and(|e| e <= now_ms)
    }

    pub(crate) fn meta(&self) -> Meta {
        Meta {
            version: self.version,
            created_at: to_system_time(self.created_ms),
            updated_at: to_system_time(self.updated_ms),
            expires_at: self.expires_ms.map(to_system_time),
        }
    }
}

/// What the store knows about a record besides its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Schema version the record was written with.
    pub version: u32,
    /// When the record was first written.
    pub created_at: SystemTime,
    /// When the record was last written.
    pub updated_at: SystemTime,
    /// When the record expires, if it has a time to live.
    pub expires_at: Option<SystemTime>,
}

/// A value together with its [`Meta`].
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<T> {
    /// The value.
    pub value: T,
    /// Its timestamps and version.
    pub meta: Meta,
}

#[derive(Deserialize)]
struct Full<T> {
    v: u32,
    c: u64,
    u: u64,
    #[serde(default)]
    e: Option<u64>,
    #[serde(default)]
    t: Option<u64>,
    d: T,
}

/// Encodes an envelope around `data`, which is already JSON.
pub(crate) fn encode(header: &Header, data: &[u8]) -> Vec<u8> {
    let mut out = head(header, data.len() + 80);
    out.extend_from_slice(b",\"d\":");
    out.extend_from_slice(data);
    out.push(b'}');
    out
}

/// The head of a sealed envelope (see [`crate::crypt`]): the header, then
/// the id of the key that sealed the value, `{"v":..,"k":"<id>"` (ids are
/// plain ASCII, nothing to escape), in a buffer with room for `more`.
pub(crate) fn sealed_head(header: &Header, key_id: &str, more: usize) -> Vec<u8> {
    let mut out = head(header, 120 + more);
    let _ = write!(out, ",\"k\":\"{key_id}\"");
    out
}

/// `{"v":..,"c":..,"u":..[,"e":..][,"t":..]`, in a buffer of `capacity`.
fn head(header: &Header, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "{{\"v\":{},\"c\":{},\"u\":{}",
        header.version, header.created_ms, header.updated_ms
    );
    if let Some(e) = header.expires_ms {
        let _ = write!(out, ",\"e\":{e}");
    }
    if let Some(t) = header.ttl_ms {
        let _ = write!(out, ",\"t\":{t}");
    }
    out
}

/// Decodes the header only. The value is not looked at when the envelope has
/// the exact form [`encode`] writes (use [`check`] to validate a whole
/// envelope).
pub(crate) fn decode_header(key: &str, bytes: &[u8]) -> Result<Header> {
    match split(bytes) {
        Some((header, _)) => Ok(header),
        None => check(key, bytes),
    }
}

/// A sealed envelope, in parts (see [`crate::crypt`]).
pub(crate) struct Sealed<'b> {
    pub header: Header,
    /// The id of the key that sealed it.
    pub key_id: &'b str,
    /// Every byte before the header's `}`: what the seal is bound to.
    pub head: &'b [u8],
    /// What follows the `}` and the NUL byte: scheme, salt, nonce,
    /// ciphertext, tag.
    pub sealed: &'b [u8],
}

/// Splits a sealed envelope (the exact form [`sealed_head`] starts, then
/// `}`, a NUL byte and the sealed bytes); `None` for anything else.
#[inline]
pub(crate) fn split_sealed(bytes: &[u8]) -> Option<Sealed<'_>> {
    // A plain envelope is JSON text, which never holds a NUL byte; a sealed
    // one always does (after its header): most reads stop here.
    if !bytes.contains(&0) {
        return None;
    }
    let Some((header, rest)) = split_head(bytes) else {
        return split_sealed_slow(bytes);
    };
    let after_k = rest.strip_prefix(b",\"k\":\"")?;
    let id_len = after_k.iter().position(|&b| b == b'"')?;
    let key_id = std::str::from_utf8(&after_k[..id_len]).ok()?;
    let rest = &after_k[id_len + 1..];
    let head = &bytes[..bytes.len() - rest.len()];
    let sealed = rest.strip_prefix(b"}\0")?;
    Some(Sealed {
        header,
        key_id,
        head,
        sealed,
    })
}

/// [`split_sealed`] for heads the fast path leaves to a JSON parser
/// (numbers of 20 digits: an expiry of `u64::MAX`, say). The head holds
/// no string but the key id (no `}` in it), so its first `}` ends it.
fn split_sealed_slow(bytes: &[u8]) -> Option<Sealed<'_>> {
    const K: &[u8] = b",\"k\":\"";
    let end = bytes.iter().position(|&b| b == b'}')?;
    let (head, sealed) = (&bytes[..end], bytes[end + 1..].strip_prefix(b"\0")?);
    let id_at = head.windows(K.len()).rposition(|w| w == K)? + K.len();
    let key_id = std::str::from_utf8(head.get(id_at..head.len().checked_sub(1)?)?).ok()?;
    if !head.ends_with(b"\"") || key_id.contains('"') {
        return None;
    }
    // The head as a whole envelope with an empty value (`k` is ignored).
    let mut object = head.to_vec();
    object.extend_from_slice(b",\"d\":0}");
    let full: Full<IgnoredAny> = serde_json::from_slice(&object).ok()?;
    Some(Sealed {
        header: header_of(&full),
        key_id,
        head,
        sealed,
    })
}

/// Decodes the header and checks that the whole envelope is well-formed JSON.
pub(crate) fn check(key: &str, bytes: &[u8]) -> Result<Header> {
    if let Some(sealed) = split_sealed(bytes) {
        return Ok(sealed.header);
    }
    let full: Full<IgnoredAny> = serde_json::from_slice(bytes).map_err(|e| Error::Decode {
        key: key.to_owned(),
        type_name: "mcp-persist envelope",
        reason: e.to_string(),
    })?;
    Ok(header_of(&full))
}

/// Decodes a whole envelope as `T`.
pub(crate) fn decode<T: DeserializeOwned>(
    key: &str,
    type_name: &'static str,
    bytes: &[u8],
) -> Result<(Header, T)> {
    // Fast path: the header is read without a JSON parser, the value alone by serde.
    if let Some((header, value)) = split(bytes)
        && let Ok(value) = serde_json::from_slice::<T>(value)
    {
        return Ok((header, value));
    }
    // Any other form, and every error: the JSON parser on the whole envelope.
    match serde_json::from_slice::<Full<T>>(bytes) {
        Ok(full) => Ok((header_of(&full), full.d)),
        Err(e) => {
            // Tell a broken envelope from a value of another shape.
            check(key, bytes)?;
            Err(Error::Decode {
                key: key.to_owned(),
                type_name,
                reason: e.to_string(),
            })
        }
    }
}

/// Splits an envelope of the exact form [`encode`] writes into its header and
/// the bytes of its value, without a JSON parser. `None` for any other form
/// (whitespace, another field order, numbers out of range), which the JSON
/// path then reads.
#[inline]
pub(crate) fn split(bytes: &[u8]) -> Option<(Header, &[u8])> {
    let (header, rest) = split_head(bytes)?;
    let value = rest.strip_prefix(b",\"d\":")?.strip_suffix(b"}")?;
    Some((header, value))
}

/// The header at the start of an envelope of the written form, and what
/// follows it.
#[inline]
fn split_head(bytes: &[u8]) -> Option<(Header, &[u8])> {
    let mut rest = bytes.strip_prefix(b"{\"v\":")?;
    let version = u32::try_from(take_number(&mut rest)?).ok()?;
    rest = rest.strip_prefix(b",\"c\":")?;
    let created_ms = take_number(&mut rest)?;
    rest = rest.strip_prefix(b",\"u\":")?;
    let updated_ms = take_number(&mut rest)?;
    let expires_ms = match rest.strip_prefix(b",\"e\":") {
        Some(after) => {
            rest = after;
            Some(take_number(&mut rest)?)
        }
        None => None,
    };
    let ttl_ms = match rest.strip_prefix(b",\"t\":") {
        Some(after) => {
            rest = after;
            Some(take_number(&mut rest)?)
        }
        None => None,
    };
    let header = Header {
        version,
        created_ms,
        updated_ms,
        expires_ms,
        ttl_ms,
    };
    Some((header, rest))
}

/// Takes a JSON unsigned integer (no sign, no leading zero). Numbers of 20
/// digits (which may not fit a `u64`) are left to the JSON path.
///
/// Eight digits at a time while eight bytes follow (a timestamp's 13 digits
/// are one word and five bytes), converted in a register without a
/// dependent multiplication per digit.
#[inline]
fn take_number(rest: &mut &[u8]) -> Option<u64> {
    let bytes = *rest;
    let mut n = 0u64;
    let mut i = 0;
    while let Some(word) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(word.try_into().ok()?);
        if !all_digits(word) {
            break;
        }
        n = n
            .checked_mul(100_000_000)?
            .checked_add(eight_digits(word))?;
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
        i += 1;
    }
    if i == 0 || i > 19 || (i > 1 && bytes[0] == b'0') {
        return None;
    }
    *rest = &bytes[i..];
    Some(n)
}

/// Whether the eight bytes of `word` are all ASCII digits.
#[inline]
fn all_digits(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Each byte in 0x30..=0x39: its high nibble is 3 and adding 6 keeps it so.
    (word & (0xF0 * ONES)) == 0x30 * ONES
        && (word.wrapping_add(0x06 * ONES) & (0xF0 * ONES)) == 0x30 * ONES
}

/// The value of eight ASCII digits, the first in the lowest byte.
#[inline]
fn eight_digits(word: u64) -> u64 {
    let v = word - 0x3030_3030_3030_3030;
    // Pairs, then quadruples, then the whole: three multiplications.
    let v = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v * 10_000 + (v >> 32)) & 0xFFFF_FFFF
}

fn header_of<T>(full: &Full<T>) -> Header {
    Header {
        version: full.v,
        created_ms: full.c,
        updated_ms: full.u,
        expires_ms: full.e,
        ttl_ms: full.t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_written() {
        for n in [
            0u64,
            7,
            42,
            1_790_000_000_000,
            12_345_678,
            123_456_789,
            u64::MAX / 10,
        ] {
            let text = format!("{n},");
            let mut rest = text.as_bytes();
            assert_eq!(take_number(&mut rest), Some(n), "{n}");
            assert_eq!(rest, b",");
        }
        for bad in [
            "",
            "x",
            "01",
            "00000000",
            "18446744073709551616",
            "99999999999999999999",
        ] {
            let mut rest = bad.as_bytes();
            assert_eq!(take_number(&mut rest), None, "{bad:?}");
        }
        // 19 digits that fit, and the largest u64 (20 digits: the JSON path).
        let mut rest = &b"9999999999999999999}"[..];
        assert_eq!(take_number(&mut rest), Some(9_999_999_999_999_999_999));
        let mut rest = &b"18446744073709551615"[..];
        assert_eq!(take_number(&mut rest), None);
    }

    #[test]
    fn round_trip() {
        let h = Header {
            version: 2,
            created_ms: 10,
            updated_ms: 20,
            expires_ms: Some(30),
            ttl_ms: None,
        };
        let bytes = encode(&h, br#"{"a":1}"#);
        let (h2, v): (Header, serde_json::Value) = decode("k", "V", &bytes).unwrap();
        assert_eq!(h, h2);
        assert_eq!(v["a"], 1);
        let no_expiry = Header {
            expires_ms: None,
            ..h
        };
        let bytes = encode(&no_expiry, b"5");
        assert_eq!(decode_header("k", &bytes).unwrap(), no_expiry);
    }

    #[test]
    fn a_records_own_ttl_round_trips() {
        for ttl_ms in [Some(0), Some(1), Some(3_600_000), None] {
            let h = Header {
                version: 1,
                created_ms: 5,
                updated_ms: 6,
                expires_ms: Some(7),
                ttl_ms,
            };
            let bytes = encode(&h, b"[1]");
            assert!(
                split(&bytes).is_some(),
                "the written form takes the fast path"
            );
            assert_eq!(decode_header("k", &bytes).unwrap(), h);
            assert_eq!(check("k", &bytes).unwrap(), h);
        }
    }

    #[test]
    fn decode_errors_name_key_and_type() {
        let bytes = encode(
            &Header {
                version: 1,
                created_ms: 0,
                updated_ms: 0,
                expires_ms: None,
                ttl_ms: None,
            },
            b"\"text\"",
        );
        let err = decode::<u32>("ns:k", "Counter", &bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("ns:k") && err.contains("Counter"), "{err}");
        let err = decode::<u32>("ns:k", "Counter", b"garbage")
            .unwrap_err()
            .to_string();
        assert!(err.contains("envelope"), "{err}");
    }

    #[test]
    fn other_forms_decode_like_the_written_one() {
        let h = Header {
            version: 3,
            created_ms: 1,
            updated_ms: 2,
            expires_ms: Some(40),
            ttl_ms: None,
        };
        let canonical = encode(&h, br#"{"a":[1,2]}"#);
        assert!(split(&canonical).is_some());
        for other in [
            r#"{ "v": 3, "c": 1, "u": 2, "e": 40, "d": {"a":[1,2]} }"#,
            r#"{"d":{"a":[1,2]},"e":40,"u":2,"c":1,"v":3}"#,
            r#"{"v":3,"c":1,"u":2,"e":40,"d":{"a":[1,2]}}   "#,
        ] {
            assert!(split(other.as_bytes()).is_none(), "{other}");
            let (h2, v): (Header, serde_json::Value) = decode("k", "V", other.as_bytes()).unwrap();
            assert_eq!((h2, v["a"][1].as_u64()), (h, Some(2)), "{other}");
            assert_eq!(decode_header("k", other.as_bytes()).unwrap(), h);
        }
    }

    #[test]
    fn numbers_of_every_length() {
        for n in [
            0,
            7,
            10,
            1234,
            98_765,
            1_700_000_000_123,
            u64::MAX / 10,
            u64::MAX,
        ] {
            let h = Header {
                version: 1,
                created_ms: n,
                updated_ms: n,
                expires_ms: Some(n),
                ttl_ms: None,
            };
            let bytes = encode(&h, b"1");
            assert_eq!(decode::<u8>("k", "V", &bytes).unwrap(), (h, 1), "{n}");
            assert_eq!(decode_header("k", &bytes).unwrap(), h, "{n}");
            // 20 digits go through the JSON path, shorter ones do not.
            assert_eq!(split(&bytes).is_some(), n.to_string().len() < 20, "{n}");
        }
    }

    #[test]
    fn the_fast_path_refuses_what_json_refuses() {
        for bad in [
            r#"{"v":01,"c":1,"u":2,"d":1}"#,
            r#"{"v":1,"c":-1,"u":2,"d":1}"#,
            r#"{"v":1,"c":1,"u":99999999999999999999999,"d":1}"#,
            r#"{"v":4294967296,"c":1,"u":2,"d":1}"#,
            r#"{"v":1,"c":1,"u":2,"d":}"#,
            r#"{"v":1,"c":1,"u":2,"d":1},"x":{}"#,
            r#"{"v":1,"c":1,"u":2,"d":1"#,
        ] {
            assert!(
                decode::<serde_json::Value>("k", "V", bad.as_bytes()).is_err(),
                "{bad}"
            );
            assert!(check("k", bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_broken_value_under_a_good_header() {
        let bytes = br#"{"v":1,"c":1,"u":2,"d":{"a":}"#;
        // Reading the header alone does not look at the value ...
        assert_eq!(decode_header("k", bytes).unwrap().updated_ms, 2);
        // ... checking the envelope and decoding the value do.
        let err = check("k", bytes).unwrap_err().to_string();
        assert!(err.contains("envelope"), "{err}");
        let err = decode::<serde_json::Value>("k", "V", bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("envelope"), "{err}");
    }
}

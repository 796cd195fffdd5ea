//! The value envelope: what is stored around each value.
//!
//! Stored as JSON, `d` last: `{"v":1,"c":<created ms>,"u":<updated ms>,"e":<expires ms>,"d":<value>}`
//! (`e` is absent when the record does not expire). Times are milliseconds
//! since the Unix epoch.

use std::io::Write as _;
use std::time::SystemTime;

use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::clock::to_system_time;
use crate::error::{Error, Result};

/// Everything stored about a record but its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub version: u32,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub expires_ms: Option<u64>,
}

impl Header {
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_ms.is_some_and(|e| e <= now_ms)
    }

    pub fn meta(&self) -> Meta {
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
    d: T,
}

/// Encodes an envelope around `data`, which is already JSON.
pub(crate) fn encode(header: &Header, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 80);
    // Writing to a Vec cannot fail.
    let _ = write!(
        out,
        "{{\"v\":{},\"c\":{},\"u\":{}",
        header.version, header.created_ms, header.updated_ms
    );
    if let Some(e) = header.expires_ms {
        let _ = write!(out, ",\"e\":{e}");
    }
    out.extend_from_slice(b",\"d\":");
    out.extend_from_slice(data);
    out.push(b'}');
    out
}

/// Decodes the header only (the value is skipped, not kept).
pub(crate) fn decode_header(key: &str, bytes: &[u8]) -> Result<Header> {
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
    match serde_json::from_slice::<Full<T>>(bytes) {
        Ok(full) => Ok((header_of(&full), full.d)),
        Err(e) => {
            // Tell a broken envelope from a value of another shape.
            decode_header(key, bytes)?;
            Err(Error::Decode {
                key: key.to_owned(),
                type_name,
                reason: e.to_string(),
            })
        }
    }
}

fn header_of<T>(full: &Full<T>) -> Header {
    Header {
        version: full.v,
        created_ms: full.c,
        updated_ms: full.u,
        expires_ms: full.e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = Header {
            version: 2,
            created_ms: 10,
            updated_ms: 20,
            expires_ms: Some(30),
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
    fn decode_errors_name_key_and_type() {
        let bytes = encode(
            &Header {
                version: 1,
                created_ms: 0,
                updated_ms: 0,
                expires_ms: None,
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
}

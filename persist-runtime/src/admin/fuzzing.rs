//! The envelope codec, reachable (feature `fuzzing`) for the fuzz targets in
//! `fuzz/` and their regression tests (`tests/e2e/tests/fuzz_seeds.rs`),
//! which live outside this crate. Not public API: it may change in any release.

use crate::envelope::{self, Header};
use crate::error::Result;

/// A header of these fields ([`Header`] is `#[non_exhaustive]`).
pub fn header(
    version: u32,
    created_ms: u64,
    updated_ms: u64,
    expires_ms: Option<u64>,
    ttl_ms: Option<u64>,
) -> Header {
    Header {
        version,
        created_ms,
        updated_ms,
        expires_ms,
        ttl_ms,
    }
}

/// `envelope::encode`.
pub fn encode(header: Header, data: &[u8]) -> Vec<u8> {
    envelope::encode(&header, data)
}

/// `envelope::split_sealed`: the header and key id of a sealed envelope.
pub fn split_sealed(bytes: &[u8]) -> Option<(Header, String)> {
    envelope::split_sealed(bytes).map(|s| (s.header, s.key_id.to_owned()))
}

/// The keyring of the fuzz targets: one fixed key, id `fuzz`.
fn ring() -> &'static crate::Keyring {
    static RING: std::sync::OnceLock<crate::Keyring> = std::sync::OnceLock::new();
    RING.get_or_init(|| {
        let key = crate::EncryptionKey::new("fuzz", [7; 32]).expect("a valid id");
        crate::Keyring::new(key, []).expect("one key")
    })
}

/// `crypt::seal` at `key` with the fuzz key.
pub fn seal(key: &[u8], header: Header, data: &[u8]) -> Result<Vec<u8>> {
    crate::crypt::seal(ring(), key, &header, data)
}

/// `crypt::open` at `key` with the fuzz key: the plain envelope.
pub fn open(key: &[u8], bytes: &[u8]) -> Result<Vec<u8>> {
    crate::crypt::open(Some(ring()), key, bytes).map(|plain| plain.into_owned())
}

/// `envelope::split`: the header and value bytes of the exact written form.
pub fn split(bytes: &[u8]) -> Option<(Header, &[u8])> {
    envelope::split(bytes)
}

/// `envelope::decode_header`.
pub fn decode_header(bytes: &[u8]) -> Result<Header> {
    envelope::decode_header("fuzz", bytes)
}

/// `envelope::check`.
pub fn check(bytes: &[u8]) -> Result<Header> {
    envelope::check("fuzz", bytes)
}

/// `envelope::decode` as a JSON value.
pub fn decode_value(bytes: &[u8]) -> Result<(Header, serde_json::Value)> {
    envelope::decode::<serde_json::Value>("fuzz", "Value", bytes)
}

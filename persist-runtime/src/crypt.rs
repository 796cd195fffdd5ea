//! Encryption at rest: each record's value sealed with XChaCha20-Poly1305.
//!
//! A store opened with a [`Keyring`] stores every value it writes sealed:
//!
//! ```text
//! {"v":1,"c":<created>,"u":<updated>[,"e":<expires>][,"t":<ttl>],"k":"<key id>","x":"<base64 of nonce ++ ciphertext>"}
//! ```
//!
//! - **In clear**: the schema version, the timestamps, the expiry and the
//!   id of the key (so expiry, sweeps, `keys` and `stats` work without the
//!   key), and the record's key (it is the storage key). **Never in clear**:
//!   the value.
//! - **Bound to its place**: the associated data of each seal is the
//!   record's full stored key and every byte of the header above, so a
//!   record copied or swapped to another key, a changed version or expiry,
//!   or a flipped bit fails to open ([`Error::Decrypt`]), never reads as
//!   something else.
//! - **A random 24-byte nonce per write** (XChaCha20's extended nonce makes
//!   random nonces safe for any number of writes under one key).
//! - **Rotation**: a keyring holds the current key (writes) and older ones
//!   (reads only); `mcp-persist rekey` re-seals every record under the
//!   current key in batches while servers run ([`crate::admin::Admin::rekey`]).
//!
//! Keys are 32 random bytes with an id, written as `id:base64` lines; the
//! first line of a key file is the current key. `mcp-persist keygen` makes
//! one.

use std::borrow::Cow;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, AeadInPlace, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::envelope::{self, Header};
use crate::error::{Error, Result};

/// The environment variable naming a key file, used when the code gives no keyring.
pub const KEY_FILE_ENV_VAR: &str = "MCP_PERSIST_KEY_FILE";

/// Bytes of an XChaCha20 nonce.
const NONCE_LEN: usize = 24;

/// One key: 32 bytes and the id records name it by.
#[derive(Clone)]
pub struct EncryptionKey {
    id: String,
    cipher: XChaCha20Poly1305,
    bytes: [u8; 32],
}

impl std::fmt::Debug for EncryptionKey {
    /// The id only: a key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Ids are 1 to 32 of `A-Z a-z 0-9 - _ .`: they are stored in every record.
fn check_id(id: &str) -> Result<()> {
    let ok = (1..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidKey {
            origin: "a key id".into(),
            reason: format!("{id:?} is not 1 to 32 of A-Z a-z 0-9 - _ ."),
        })
    }
}

impl EncryptionKey {
    /// A key of these 32 bytes, named `id`.
    pub fn new(id: &str, bytes: [u8; 32]) -> Result<Self> {
        check_id(id)?;
        Ok(Self {
            id: id.to_owned(),
            cipher: XChaCha20Poly1305::new(&bytes.into()),
            bytes,
        })
    }

    /// A new random key (from the operating system's generator), named `id`.
    ///
    /// ```
    /// let key = persist_runtime::EncryptionKey::generate("2026-12").unwrap();
    /// assert!(key.to_line().starts_with("2026-12:"));
    /// ```
    pub fn generate(id: &str) -> Result<Self> {
        let bytes: [u8; 32] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
        Self::new(id, bytes)
    }

    /// The key's id, as records name it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key as a key-file line: `id:base64`.
    pub fn to_line(&self) -> String {
        format!("{}:{}", self.id, BASE64.encode(self.bytes))
    }

    /// Reads an `id:base64` line.
    fn parse_line(line: &str, origin: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidKey {
            origin: origin.to_owned(),
            reason,
        };
        let (id, encoded) = line
            .split_once(':')
            .ok_or_else(|| bad("a line is not `id:base64-of-32-bytes`".into()))?;
        let bytes = BASE64
            .decode(encoded.trim())
            .map_err(|e| bad(format!("key {id:?} is not base64 ({e})")))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| bad(format!("key {id:?} has {} bytes, not 32", b.len())))?;
        Self::new(id.trim(), bytes).map_err(|e| bad(e.to_string()))
    }
}

/// The keys of a store: the current one seals every write; all of them open
/// what they sealed.
///
/// ```
/// use persist_runtime::{EncryptionKey, Keyring};
///
/// let new = EncryptionKey::generate("k2").unwrap();
/// let old = EncryptionKey::generate("k1").unwrap();
/// let ring = Keyring::parse(&format!("{}\n{}\n", new.to_line(), old.to_line()), "test").unwrap();
/// assert_eq!(ring.current().id(), "k2");
/// assert_eq!(ring.ids(), ["k2", "k1"]);
/// ```
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<EncryptionKey>,
}

impl Keyring {
    /// A keyring whose current key is `current`, opening also `older` ones.
    pub fn new(
        current: EncryptionKey,
        older: impl IntoIterator<Item = EncryptionKey>,
    ) -> Result<Self> {
        let mut keys = vec![current];
        for key in older {
            if keys.iter().any(|k| k.id == key.id) {
                return Err(Error::InvalidKey {
                    origin: "a keyring".into(),
                    reason: format!("two keys have the id {:?}", key.id),
                });
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// Reads `id:base64` lines (`#` comments and blank lines skipped); the
    /// first key is the current one. `origin` names the text in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let mut keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| EncryptionKey::parse_line(line, origin));
        let current = keys.next().ok_or_else(|| Error::InvalidKey {
            origin: origin.to_owned(),
            reason: "no key in it".into(),
        })??;
        let older = keys.collect::<Result<Vec<_>>>()?;
        Self::new(current, older).map_err(|e| Error::InvalidKey {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Reads a key file, refused unless only its owner can read it (Unix).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|source| Error::Io {
                    path: path.to_owned(),
                    source,
                })?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(Error::InvalidKey {
                    origin,
                    reason: format!(
                        "readable by others (mode {:o}): `chmod 600` it, a key file is a secret",
                        mode & 0o777
                    ),
                });
            }
        }
        Self::parse(&text, &origin)
    }

    /// The keyring of `MCP_PERSIST_KEY_FILE`, if it is set (and not empty).
    pub fn from_env() -> Result<Option<Self>> {
        match std::env::var_os(KEY_FILE_ENV_VAR).filter(|v| !v.is_empty()) {
            Some(path) => Self::from_file(path).map(Some),
            None => Ok(None),
        }
    }

    /// The key that seals writes.
    pub fn current(&self) -> &EncryptionKey {
        &self.keys[0]
    }

    /// Every key id, the current one first.
    pub fn ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    fn key(&self, id: &str) -> Option<&EncryptionKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// The associated data of a seal: the stored key, a 0 byte, the header bytes.
fn associated(key: &[u8], header: &[u8]) -> Vec<u8> {
    [key, &[0], header].concat()
}

/// Seals `data` (the value's JSON) under the current key of `ring`: the
/// envelope stored at `key`.
pub(crate) fn seal(ring: &Keyring, key: &[u8], header: &Header, data: &[u8]) -> Vec<u8> {
    let current = ring.current();
    let head = envelope::sealed_head(header, &current.id);
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let aad = associated(key, &head);
    // Sealing fails only for messages over 256 GiB, far beyond any record.
    let sealed = current
        .cipher
        .encrypt(
            &nonce,
            Payload {
                msg: data,
                aad: &aad,
            },
        )
        .unwrap_or_default();
    let mut raw = Vec::with_capacity(NONCE_LEN + sealed.len());
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&sealed);
    let mut out = head;
    out.extend_from_slice(b",\"x\":\"");
    out.extend_from_slice(BASE64.encode(raw).as_bytes());
    out.extend_from_slice(b"\"}");
    out
}

/// The plain envelope of what is stored at `key`: the bytes themselves when
/// they are not sealed, else the value opened with `ring`.
pub(crate) fn open<'b>(
    ring: Option<&Keyring>,
    key: &[u8],
    bytes: &'b [u8],
) -> Result<Cow<'b, [u8]>> {
    // A sealed envelope ends with `"}`; most plain ones do not: no parse.
    let sealed = bytes
        .ends_with(b"\"}")
        .then(|| envelope::split_sealed(bytes));
    let Some(Some(sealed)) = sealed else {
        return Ok(Cow::Borrowed(bytes));
    };
    let shown = || String::from_utf8_lossy(key).into_owned();
    let fail = |reason: String| Error::Decrypt {
        key: shown(),
        key_id: sealed.key_id.to_owned(),
        reason,
    };
    let ring = ring.ok_or_else(|| {
        fail(format!(
            "the record is encrypted, and this store was opened without keys (give them with \
             StoreBuilder::encryption or {KEY_FILE_ENV_VAR})"
        ))
    })?;
    let with = ring.key(sealed.key_id).ok_or_else(|| {
        fail(format!(
            "no key with this id among the store's keys ({}); the bytes are kept as they are",
            ring.ids().join(", ")
        ))
    })?;
    let mut raw = BASE64
        .decode(sealed.sealed)
        .map_err(|e| fail(format!("the sealed value is not base64 ({e})")))?;
    if raw.len() < NONCE_LEN {
        return Err(fail("the sealed value is too short".into()));
    }
    let nonce = *XNonce::from_slice(&raw[..NONCE_LEN]);
    let mut data = raw.split_off(NONCE_LEN);
    let aad = associated(key, sealed.head);
    with.cipher
        .decrypt_in_place(&nonce, &aad, &mut data)
        .map_err(|_| {
            fail(
                "it does not open with this key: the key is wrong, or the record was altered or \
                 moved from another key; the bytes are kept as they are"
                    .into(),
            )
        })?;
    // The plain envelope: the header bytes as stored (without the key id),
    // then the value.
    let header = &sealed.head[..sealed.head.len() - sealed.key_id.len() - 7];
    let mut plain = Vec::with_capacity(header.len() + data.len() + 6);
    plain.extend_from_slice(header);
    plain.extend_from_slice(b",\"d\":");
    plain.extend_from_slice(&data);
    plain.push(b'}');
    Ok(Cow::Owned(plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            version: 2,
            created_ms: 10,
            updated_ms: 20,
            expires_ms: Some(30),
            ttl_ms: None,
        }
    }

    fn ring(id: &str) -> Keyring {
        Keyring::new(EncryptionKey::generate(id).unwrap(), []).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_at_its_key_with_its_header_and_key() {
        let ring = ring("a");
        let sealed = seal(&ring, b"ns:one", &header(), br#"{"secret":"plum"}"#);
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("plum"), "{text}");
        assert!(
            text.starts_with(r#"{"v":2,"c":10,"u":20,"e":30,"k":"a","x":""#),
            "{text}"
        );
        let opened = open(Some(&ring), b"ns:one", &sealed).unwrap();
        assert_eq!(
            &*opened,
            envelope::encode(&header(), br#"{"secret":"plum"}"#).as_slice()
        );
        // Moved to another key, or its expiry changed in clear: refused.
        assert!(matches!(
            open(Some(&ring), b"ns:two", &sealed),
            Err(Error::Decrypt { .. })
        ));
        let later = String::from_utf8_lossy(&sealed).replace(r#""e":30"#, r#""e":99"#);
        assert!(matches!(
            open(Some(&ring), b"ns:one", later.as_bytes()),
            Err(Error::Decrypt { .. })
        ));
        // Another key with the same id, or none at all: refused, naming the id.
        let err = open(Some(&self::ring("a")), b"ns:one", &sealed).unwrap_err();
        assert!(err.to_string().contains("\"a\""), "{err}");
        let err = open(None, b"ns:one", &sealed).unwrap_err();
        assert!(err.to_string().contains(KEY_FILE_ENV_VAR), "{err}");
        // Plain envelopes pass through untouched.
        let plain = envelope::encode(&header(), b"1");
        assert!(matches!(
            open(Some(&ring), b"k", &plain),
            Ok(Cow::Borrowed(_))
        ));
    }

    /// Found by the envelope fuzz target's seeds: numbers of 20 digits
    /// (an expiry of `u64::MAX`) are beyond the header's fast path.
    #[test]
    fn a_header_of_the_largest_numbers_seals_and_opens() {
        let ring = ring("a");
        let header = Header {
            version: u32::MAX,
            created_ms: u64::MAX - 1,
            updated_ms: u64::MAX,
            expires_ms: Some(u64::MAX),
            ttl_ms: Some(u64::MAX),
        };
        let sealed = seal(&ring, b"ns:k", &header, b"[1]");
        assert_eq!(envelope::decode_header("ns:k", &sealed).unwrap(), header);
        let opened = open(Some(&ring), b"ns:k", &sealed).unwrap();
        assert_eq!(&*opened, envelope::encode(&header, b"[1]").as_slice());
    }

    #[test]
    fn key_files_are_checked() {
        let key = EncryptionKey::generate("k1").unwrap();
        assert!(!format!("{key:?}").contains(&key.to_line()[3..]));
        for (text, needle) in [
            ("", "no key"),
            ("k1", "id:base64"),
            ("k1:!!!", "base64"),
            ("k1:AAAA", "3 bytes"),
            ("a b:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "A-Z"),
        ] {
            let err = Keyring::parse(text, "test").unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
        let twice = format!("{}\n{}", key.to_line(), key.to_line());
        assert!(
            Keyring::parse(&twice, "t")
                .unwrap_err()
                .to_string()
                .contains("two keys")
        );
    }
}

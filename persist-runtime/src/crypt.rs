//! Encryption at rest: [`Keyring`] and [`EncryptionKey`]; sealing and
//! opening values.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};
use ring::rand::{SecureRandom, SystemRandom};

use crate::envelope::{self, Header};
use crate::error::{Error, Result};
use crate::owner_only;

/// The environment variable naming a key file, used when the code gives no keyring.
pub const KEY_FILE_ENV_VAR: &str = "MCP_PERSIST_KEY_FILE";

/// How many subkeys (one per writing process) a reader keeps per key; past
/// that the cache starts over (a `rekey` leaves one).
pub(crate) const SUBKEY_CACHE: usize = 4096;

/// The scheme byte: AES-256-GCM under an HKDF-SHA256 subkey.
const SCHEME: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// What sealing adds after the header's `}`: NUL, scheme, salt, nonce, tag.
const OVERHEAD: usize = 2 + SALT_LEN + NONCE_LEN + TAG_LEN;
/// The HKDF info string: subkeys of this scheme and no other use.
const INFO: &[u8] = b"mcp-persist seal v1 aes-256-gcm";

/// Fills `out` from the operating system's generator.
fn random(out: &mut [u8]) -> Result<()> {
    SystemRandom::new()
        .fill(out)
        .map_err(|_| Error::InvalidKey {
            origin: "the operating system's random generator".into(),
            reason: "it gave no bytes".into(),
        })
}

/// The subkey of `key` for `salt`.
fn subkey(key: &[u8; 32], salt: &[u8; SALT_LEN]) -> Result<LessSafeKey> {
    Salt::new(HKDF_SHA256, salt)
        .extract(key)
        .expand(&[INFO], &AES_256_GCM)
        .map(|okm| LessSafeKey::new(UnboundKey::from(okm)))
        // HKDF-SHA256 gives up to 8160 bytes; a subkey is 32.
        .map_err(|_| Error::InvalidKey {
            origin: "HKDF".into(),
            reason: "no subkey derived".into(),
        })
}

/// This process's subkey of one key: its salt, the subkey, the next nonce.
struct Sealer {
    salt: [u8; SALT_LEN],
    key: LessSafeKey,
    next: AtomicU64,
}

/// What every clone of an [`EncryptionKey`] shares.
struct KeyState {
    sealer: Sealer,
    /// Subkeys by salt, for opening.
    openers: RwLock<HashMap<[u8; SALT_LEN], LessSafeKey>>,
}

/// One key: 32 bytes and the id records name it by.
///
/// Clones share this process's subkey and nonce counter (see [`Keyring`]).
#[derive(Clone)]
pub struct EncryptionKey {
    id: String,
    bytes: [u8; 32],
    state: Arc<KeyState>,
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
        let mut salt = [0; SALT_LEN];
        random(&mut salt)?;
        let sealer = Sealer {
            salt,
            key: subkey(&bytes, &salt)?,
            next: AtomicU64::new(0),
        };
        let openers = HashMap::from([(salt, sealer.key.clone())]);
        Ok(Self {
            id: id.to_owned(),
            bytes,
            state: Arc::new(KeyState {
                sealer,
                openers: RwLock::new(openers),
            }),
        })
    }

    /// A new random key (from the operating system's generator), named `id`.
    ///
    /// ```
    /// let key = persist_runtime::EncryptionKey::generate("2026-12").unwrap();
    /// assert!(key.to_line().starts_with("2026-12:"));
    /// ```
    pub fn generate(id: &str) -> Result<Self> {
        let mut bytes = [0; 32];
        random(&mut bytes)?;
        Self::new(id, bytes)
    }

    /// Runs `f` with the subkey of `salt`, derived once and kept once it
    /// opened something (forged salts do not fill the cache).
    fn with_subkey<R>(
        &self,
        salt: &[u8; SALT_LEN],
        f: impl FnOnce(&LessSafeKey) -> Option<R>,
    ) -> Result<Option<R>> {
        // A poisoned lock held only a map of derived keys: still usable.
        let known = self.state.openers.read().unwrap_or_else(|e| e.into_inner());
        if let Some(subkey) = known.get(salt) {
            return Ok(f(subkey));
        }
        drop(known);
        let subkey = subkey(&self.bytes, salt)?;
        let out = f(&subkey);
        if out.is_some() {
            let mut known = self
                .state
                .openers
                .write()
                .unwrap_or_else(|e| e.into_inner());
            if known.len() >= SUBKEY_CACHE {
                known.clear();
            }
            known.insert(*salt, subkey);
        }
        Ok(out)
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

/// Encryption at rest: each record's value sealed with AES-256-GCM.
///
/// A store opened with a [`Keyring`] stores every value it writes sealed:
///
/// ```text
/// {"v":1,"c":<created>,"u":<updated>[,"e":<expires>][,"t":<ttl>],"k":"<key id>"} 0x00 0x01 <salt:16> <nonce:12> <ciphertext> <tag:16>
/// ```
///
/// - **In clear**: the schema version, the timestamps, the expiry and the
///   id of the key (so expiry, sweeps, `keys` and `stats` work without the
///   key), and the record's key (it is the storage key). **Never in clear**:
///   the value. The header is a JSON object; the NUL byte after it (never
///   in JSON text) tells a sealed record from a plain one, the next byte
///   names the scheme (1).
/// - **Bound to its place**: the associated data of each seal is the
///   record's full stored key and every byte of the header before its `}`,
///   so a record copied or swapped to another key, a changed version or
///   expiry, or a flipped bit fails to open ([`Error::Decrypt`]), never
///   reads as something else.
/// - **Nonces never repeat**: each process seals under a subkey of its own,
///   HKDF-SHA256 of the key and a random 16-byte salt drawn when the key is
///   loaded, with a counter as nonce. Two processes share a subkey only if
///   they draw the same 128-bit salt; a counter never repeats within one.
///   (A process that `fork`s without `exec` after loading a key would share
///   its salt and counter with the child: load keys after forking.)
///   (Random 96-bit nonces under one key would be unsafe past about 2^32
///   writes, a month of a busy server.) Readers keep the subkeys of the
///   salts they meet (up to 4096 of them per key), so opening costs
///   one AES-GCM pass, hardware-accelerated where the CPU has AES-NI.
/// - **Rotation**: a keyring holds the current key (writes) and older ones
///   (reads only); `mcp-persist rekey` re-seals every record under the
///   current key in batches while servers run ([`crate::admin::Admin::rekey`]).
/// - **Exports** write the sealed part as base64 (`"k":"<id>","x":"<base64>"`
///   in the envelope), so an export is JSON text and holds no value in clear.
///
/// Keys are 32 random bytes with an id, written as `id:base64` lines; the
/// first line of a key file is the current key. `mcp-persist keygen` makes
/// one.
///
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

    /// Reads a key file. On Unix it is refused, before anything is read,
    /// unless it is a regular file (not a symbolic link) of this user's that
    /// nobody else can read or write (`chmod 600`): a key file is a secret.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = owner_only::read_to_string(path, "the key file", |reason| Error::InvalidKey {
            origin: origin.clone(),
            reason,
        })?;
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

/// The associated data of a seal: the stored key, a 0 byte, the header
/// bytes before its `}`.
fn associated(key: &[u8], head: &[u8]) -> Vec<u8> {
    [key, &[0], head].concat()
}

/// Seals `data` (the value's JSON) under the current key of `ring`: the
/// envelope stored at `key`.
pub(crate) fn seal(ring: &Keyring, key: &[u8], header: &Header, data: &[u8]) -> Result<Vec<u8>> {
    let current = ring.current();
    let sealer = &current.state.sealer;
    let mut out = envelope::sealed_head(header, &current.id, data.len() + OVERHEAD);
    let aad = associated(key, &out);
    let mut nonce = [0; NONCE_LEN];
    nonce[4..].copy_from_slice(&sealer.next.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    out.extend_from_slice(&[b'}', 0, SCHEME]);
    out.extend_from_slice(&sealer.salt);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(data);
    let tag = sealer
        .key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad),
            &mut out[start..],
        )
        // AES-GCM seals up to 64 GiB at once, far beyond any record.
        .map_err(|_| Error::Encode {
            type_name: "a sealed record",
            reason: format!("{} bytes are too many to seal at once", data.len()),
        })?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// The plain envelope of what is stored at `key`: the bytes themselves when
/// they are not sealed, else the value opened with `ring`.
pub(crate) fn open<'b>(
    ring: Option<&Keyring>,
    key: &[u8],
    bytes: &'b [u8],
) -> Result<Cow<'b, [u8]>> {
    let Some(sealed) = envelope::split_sealed(bytes) else {
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
    let Some((&SCHEME, rest)) = sealed.sealed.split_first() else {
        return Err(fail(format!(
            "it is sealed by a scheme this build does not know (byte {:?}); the bytes are kept \
             as they are",
            sealed.sealed.first()
        )));
    };
    if rest.len() < SALT_LEN + NONCE_LEN + TAG_LEN {
        return Err(fail("the sealed value is too short".into()));
    }
    let (salt, rest) = rest.split_at(SALT_LEN);
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let (salt, nonce): ([u8; SALT_LEN], [u8; NONCE_LEN]) = match (salt.try_into(), nonce.try_into())
    {
        (Ok(salt), Ok(nonce)) => (salt, nonce),
        _ => return Err(fail("the sealed value is too short".into())),
    };
    // The plain envelope, decrypted in place: the header bytes as stored
    // (without the key id), `,"d":`, the value, `}`.
    let header = &sealed.head[..sealed.head.len() - sealed.key_id.len() - 7];
    let mut plain = Vec::with_capacity(header.len() + ciphertext.len() + 6);
    plain.extend_from_slice(header);
    plain.extend_from_slice(b",\"d\":");
    let start = plain.len();
    plain.extend_from_slice(ciphertext);
    let aad = associated(key, sealed.head);
    let opened = with
        .with_subkey(&salt, |subkey| {
            subkey
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(&aad),
                    &mut plain[start..],
                )
                .map(|data| data.len())
                .ok()
        })?
        .ok_or_else(|| {
            fail(
                "it does not open with this key: the key is wrong, or the record was altered or \
                 moved from another key; the bytes are kept as they are"
                    .into(),
            )
        })?;
    plain.truncate(start + opened);
    plain.push(b'}');
    Ok(Cow::Owned(plain))
}

/// The sealed part of a stored record as an export writes it (base64).
pub(crate) fn export_sealed(sealed: &[u8]) -> String {
    BASE64.encode(sealed)
}

/// The sealed part of a stored record from an export's base64.
pub(crate) fn import_sealed(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text).ok()
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
        let sealed = seal(&ring, b"ns:one", &header(), br#"{"secret":"plum"}"#).unwrap();
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("plum"), "{text}");
        assert!(
            sealed.starts_with(b"{\"v\":2,\"c\":10,\"u\":20,\"e\":30,\"k\":\"a\"}\0\x01"),
            "{text}"
        );
        assert_eq!(
            sealed.len(),
            r#"{"v":2,"c":10,"u":20,"e":30,"k":"a"}"#.len() + OVERHEAD + 17
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
        let mut later = sealed.clone();
        later[25] = b'9'; // "e":30 -> "e":90
        assert!(matches!(
            open(Some(&ring), b"ns:one", &later),
            Err(Error::Decrypt { .. })
        ));
        // Any flipped bit after the header.
        for at in [40, 60, sealed.len() - 1] {
            let mut flipped = sealed.clone();
            flipped[at] ^= 4;
            assert!(
                open(Some(&ring), b"ns:one", &flipped).is_err(),
                "bit at {at}"
            );
        }
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
        let sealed = seal(&ring, b"ns:k", &header, b"[1]").unwrap();
        assert_eq!(envelope::decode_header("ns:k", &sealed).unwrap(), header);
        let opened = open(Some(&ring), b"ns:k", &sealed).unwrap();
        assert_eq!(&*opened, envelope::encode(&header, b"[1]").as_slice());
    }

    /// Each seal takes the next nonce of this process's subkey; another
    /// process (another load of the same key) seals under another salt, and
    /// each opens what the other sealed.
    #[test]
    fn nonces_never_repeat_and_every_load_of_a_key_opens_every_seal() {
        let bytes = [9; 32];
        let here = Keyring::new(EncryptionKey::new("k", bytes).unwrap(), []).unwrap();
        let there = Keyring::new(EncryptionKey::new("k", bytes).unwrap(), []).unwrap();
        let parts = |sealed: &[u8]| {
            let at = sealed.iter().position(|&b| b == 0).unwrap() + 2;
            (
                sealed[at..at + SALT_LEN].to_vec(),
                sealed[at + SALT_LEN..at + SALT_LEN + NONCE_LEN].to_vec(),
            )
        };
        let a = seal(&here, b"k", &header(), b"1").unwrap();
        let b = seal(&here, b"k", &header(), b"1").unwrap();
        let c = seal(&there, b"k", &header(), b"1").unwrap();
        let ((salt_a, nonce_a), (salt_b, nonce_b), (salt_c, _)) = (parts(&a), parts(&b), parts(&c));
        assert_eq!(salt_a, salt_b);
        assert_ne!(nonce_a, nonce_b);
        assert_ne!(a, b);
        assert_ne!(salt_a, salt_c);
        let plain = envelope::encode(&header(), b"1");
        for sealed in [&a, &b, &c] {
            assert_eq!(&*open(Some(&here), b"k", sealed).unwrap(), plain.as_slice());
            assert_eq!(
                &*open(Some(&there), b"k", sealed).unwrap(),
                plain.as_slice()
            );
        }
    }

    #[test]
    fn an_unknown_scheme_or_a_cut_record_is_refused_by_name() {
        let ring = ring("a");
        let sealed = seal(&ring, b"k", &header(), b"1").unwrap();
        let at = sealed.iter().position(|&b| b == 0).unwrap() + 1;
        let mut other = sealed.clone();
        other[at] = 2;
        let err = open(Some(&ring), b"k", &other).unwrap_err().to_string();
        assert!(err.contains("scheme"), "{err}");
        let err = open(Some(&ring), b"k", &sealed[..at + 20])
            .unwrap_err()
            .to_string();
        assert!(err.contains("too short"), "{err}");
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

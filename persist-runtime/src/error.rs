//! The one error type of the runtime.

use std::path::PathBuf;

/// Everything that can go wrong in `mcp-persist`.
///
/// Every variant names what was wrong (the key, the type, the path) so that
/// the message alone is enough to act on. A failed operation never alters
/// what is stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store could not be opened at `path`.
    #[error("cannot open the store at {path}: {reason}")]
    Open {
        /// The directory the store was to be opened in.
        path: PathBuf,
        /// What went wrong, in words.
        reason: String,
    },

    /// No data directory could be found for the application and
    /// `MCP_PERSIST_DIR` is not set.
    #[error(
        "no data directory for application {app:?}: the platform has no home directory; \
         set MCP_PERSIST_DIR or use Store::open_at"
    )]
    NoDataDir {
        /// The application name given to `Store::open`.
        app: String,
    },

    /// The application name given to `Store::open` cannot name a directory.
    #[error(
        "invalid application name {app:?}: use 1 to 64 letters, digits, '-', '_' or '.', \
         not starting with '.'"
    )]
    InvalidAppName {
        /// The rejected name.
        app: String,
    },

    /// A setting (an environment variable) holds a value it cannot take.
    #[error("{name}={value:?} is not a valid setting: expected {expected}")]
    InvalidSetting {
        /// The setting, e.g. `MCP_PERSIST_DURABILITY`.
        name: &'static str,
        /// What it holds.
        value: String,
        /// What it may hold.
        expected: &'static str,
    },

    /// A key parameter is empty.
    #[error(
        "key parameter `{param}` of {type_name} is empty: every placeholder of the key needs a value"
    )]
    EmptyKeyParam {
        /// The Rust type whose key was being built.
        type_name: &'static str,
        /// The placeholder (field) name.
        param: &'static str,
    },

    /// The key, once built, is longer than the store accepts. Names the key
    /// field whose value made it too long (the longest one, once escaped) and
    /// how many bytes are left for that field.
    #[error(
        "key of {type_name} too long: {}(limit {max} bytes for the whole stored key); \
         the key starts with {key_start:?}",
        key_too_long_detail(.field, *.value_len, *.escaped_len, *.len, *.max)
    )]
    KeyTooLong {
        /// The Rust type whose key was being built.
        type_name: &'static str,
        /// The key field with the longest value (escaped), `None` when the
        /// key has no field (a singleton, a list's item keys): then the
        /// namespace and template alone are too long.
        field: Option<&'static str>,
        /// Bytes of that field's value as given (0 without a field).
        value_len: usize,
        /// Bytes of that field's value once escaped, as stored in the key
        /// (0 without a field).
        escaped_len: usize,
        /// Length of the full key in bytes (namespace included).
        len: usize,
        /// The limit in bytes.
        max: usize,
        /// The first characters of the key.
        key_start: String,
    },

    /// The number of key parameters does not match the key template.
    #[error("{type_name} has key {template:?} with {expected} placeholder(s), got {got} value(s)")]
    KeyArity {
        /// The Rust type whose key was being built.
        type_name: &'static str,
        /// The key template.
        template: &'static str,
        /// The number of placeholders in the template.
        expected: usize,
        /// The number of values given.
        got: usize,
    },

    /// A partial update (merge patch) would make the record invalid; nothing was written.
    #[error("the update does not fit the record: {reason}; nothing was changed")]
    InvalidPatch {
        /// What is wrong, naming the field.
        reason: String,
    },

    /// A listing cursor that does not belong to this type.
    #[error(
        "invalid cursor {cursor:?} for {type_name}: pass back the next_cursor of a previous page"
    )]
    InvalidCursor {
        /// The Rust type being listed.
        type_name: &'static str,
        /// The rejected cursor.
        cursor: String,
    },

    /// An `update` closure changed a field that is part of the record's key.
    #[error(
        "update of {type_name} at {key:?} changed the record's key to {new_key:?}; \
         key fields cannot change in an update: delete and save instead"
    )]
    KeyChanged {
        /// The Rust type.
        type_name: &'static str,
        /// The key of the record being updated.
        key: String,
        /// The key the updated value would have.
        new_key: String,
    },

    /// A stored value could not be decoded as the requested type.
    /// The stored bytes are left as they are.
    #[error(
        "stored value at {key:?} does not decode as {type_name}: {reason} (the stored value is kept unchanged)"
    )]
    Decode {
        /// The full key of the record.
        key: String,
        /// The Rust type it was decoded as.
        type_name: &'static str,
        /// Why decoding failed.
        reason: String,
    },

    /// A value could not be encoded to JSON.
    #[error("cannot encode {type_name} as JSON: {reason}")]
    Encode {
        /// The Rust type.
        type_name: &'static str,
        /// Why encoding failed.
        reason: String,
    },

    /// A stored record was written by a newer schema version than this code
    /// knows. It is left untouched.
    #[error(
        "record at {key:?} has schema version {stored}, newer than version {supported} that this \
         build of {type_name} knows; it is left untouched (upgrade the server to read it)"
    )]
    NewerVersion {
        /// The full key of the record.
        key: String,
        /// The Rust type.
        type_name: &'static str,
        /// The version found in the store.
        stored: u32,
        /// The newest version this code knows.
        supported: u32,
    },

    /// A record written by an older schema version could not be migrated.
    /// It is left untouched.
    #[error(
        "record at {key:?} (schema version {from}) could not be migrated to version {to} of \
         {type_name}: {reason} (the stored value is kept unchanged)"
    )]
    Migration {
        /// The full key of the record.
        key: String,
        /// The Rust type.
        type_name: &'static str,
        /// The stored version.
        from: u32,
        /// The version of this code.
        to: u32,
        /// Why the migration failed.
        reason: String,
    },

    /// The map could not grow any further (`max_map_size` reached).
    #[error(
        "the store is full: {needed} needed, map limited to {max_map_size} bytes (raise StoreBuilder::max_map_size)"
    )]
    StoreFull {
        /// What was asked for, in words.
        needed: String,
        /// The configured ceiling.
        max_map_size: usize,
    },

    /// A write was started from inside another write's closure (an `update`
    /// closure, a migration): it would wait for itself.
    #[error(
        "a write was started from inside an update closure: it would wait for itself; \
         return the value from the closure and write after it"
    )]
    WriteInsideWrite,

    /// A write could not start within the store's write timeout
    /// ([`StoreBuilder::write_timeout`](crate::StoreBuilder::write_timeout)):
    /// another process holds the store's write lock (a server on the same
    /// store that is stopped, suspended or stuck), or earlier writes of this
    /// process are still running. The write was not applied and never will be.
    #[error(
        "the store at {path} is busy: the write could not start within {} s because another \
         process holds the store's write lock (a stopped or suspended server on the same store?) \
         or earlier writes are still running; it was not applied, retry later",
        waited.as_secs_f32()
    )]
    Busy {
        /// Directory of the store.
        path: PathBuf,
        /// How long the write waited.
        waited: std::time::Duration,
    },

    /// Every reader slot of the store is taken.
    #[error(
        "the store at {path} has no free reader slot (all {max_readers} are taken by concurrent \
         reads of every process on it): lower the number of concurrent readers, or raise \
         StoreBuilder::max_readers in every process (it applies when the store's lock.mdb is \
         created: stop every process on the store and delete lock.mdb, never data.mdb)"
    )]
    ReadersFull {
        /// Directory of the store.
        path: PathBuf,
        /// The number of slots.
        max_readers: u32,
    },

    /// The store's writer thread is gone (it panicked or the store is shutting down).
    #[error("the store's writer is no longer running: {0}")]
    WriterGone(String),

    /// The commit of the batch this write belonged to failed; nothing of it was written.
    #[error("the write could not be committed at {path}: {reason}; nothing was written")]
    BatchFailed {
        /// Directory of the store.
        path: PathBuf,
        /// Why the batch failed.
        reason: String,
    },

    /// Code run inside a write (an `update` closure) panicked; nothing was written.
    #[error("a write panicked and was rolled back, nothing was written: {0}")]
    Panicked(String),

    /// Serving MCP failed (the transport broke or the handshake failed).
    #[error("MCP service error: {0}")]
    Serve(String),

    /// A scope value that cannot name a user.
    #[error(
        "invalid scope {scope:?}: {reason}; a scope is 1 to 128 bytes of text without control characters"
    )]
    InvalidScope {
        /// The rejected value (its start).
        scope: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A record of a per-user type was reached with no user: the type says
    /// `scope = "user"` and the call carried no [`Scope`](crate::Scope).
    #[error(
        "`{type_name}` records are kept per user (scope = \"user\") and this call names no user: \
         pass store.scoped(&scope) to its accessors; tools need a request that carries an \
         identity (HTTP with a ScopeResolver, or stdio's local scope)"
    )]
    NoScope {
        /// The Rust type.
        type_name: &'static str,
    },

    /// A list of bearer tokens that cannot be used (HTTP serving's
    /// `BearerTokens`): a malformed line, a token given to two users, a file
    /// other users can read.
    #[error("bearer tokens from {origin}: {reason}")]
    Tokens {
        /// Where the tokens came from (a file, an environment variable).
        origin: String,
        /// What is wrong, never a token itself.
        reason: String,
    },

    /// A raw key (`namespace:key`) that cannot be stored.
    #[error("invalid key {key:?}: a full key is `namespace:key`, 1 to 480 bytes")]
    InvalidRawKey {
        /// The rejected key (its start).
        key: String,
    },

    /// A line of an import file is invalid; nothing was imported.
    #[error("import line {line}: {reason}; nothing was imported")]
    Import {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// A record sealed at rest (see [`Keyring`](crate::Keyring)) could not be opened:
    /// no keys, no key with its id, or it does not open with that key (the
    /// key is wrong, or the bytes were altered or moved). Nothing was changed.
    #[error("cannot decrypt the record at {key:?} (sealed with key {key_id:?}): {reason}")]
    Decrypt {
        /// The record's stored key.
        key: String,
        /// The id of the key that sealed it.
        key_id: String,
        /// Why, and what to do.
        reason: String,
    },

    /// A store opened without keys refused to write a value in clear into a
    /// store that encrypts (one that holds records sealed with `key_id`).
    /// Nothing was written. Mixing sealed and clear values is explicit:
    /// `mcp-persist rekey` encrypts a plain store; the way back is an
    /// `export --decrypted` imported into a new store.
    #[error(
        "this store is encrypted (its records are sealed with key {key_id:?}) and was opened \
         without keys: it will not write the value of {key:?} in clear beside them (give the \
         keys with StoreBuilder::encryption or MCP_PERSIST_KEY_FILE); nothing was written"
    )]
    KeysRequired {
        /// The record's stored key.
        key: String,
        /// The key the store's records are sealed with (the last one marked).
        key_id: String,
    },

    /// An encryption key, a keyring or a key file is unusable.
    #[error("encryption keys from {origin}: {reason}")]
    InvalidKey {
        /// Where the key came from (a file, a setting).
        origin: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The Redis server of a [`Store::connect`](crate::Store::connect) store
    /// refused or failed an operation, or could not be reached within the
    /// store's network timeout. A write that fails so was not acknowledged
    /// by Redis; the store reconnects by itself on its next operation.
    #[error("redis at {url}: {reason}")]
    Backend {
        /// The server's URL, without its password.
        url: String,
        /// What went wrong, in words.
        reason: String,
    },

    /// A write kept losing its optimistic transaction (WATCH/MULTI on Redis)
    /// to concurrent writers of the same records until the store's write
    /// timeout: it was not applied.
    #[error(
        "redis at {url}: the write lost {attempts} optimistic transactions in a row to \
         concurrent writers of the same records within {} s; it was not applied, retry later",
        waited.as_secs_f32()
    )]
    Contended {
        /// The server's URL, without its password.
        url: String,
        /// How many times the write ran.
        attempts: u32,
        /// How long it tried.
        waited: std::time::Duration,
    },

    /// What was asked needs the other storage engine (a backup of a Redis
    /// store is Redis's own, for example), or a feature this build lacks.
    #[error("{0}")]
    Unsupported(String),

    /// An error from LMDB.
    #[error("storage error at {path}: {source}")]
    Lmdb {
        /// Directory of the store.
        path: PathBuf,
        /// The underlying error (opaque: its message says what LMDB said).
        #[source]
        source: LmdbError,
    },

    /// A filesystem error.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether this is LMDB's "map full", which the writer recovers from by growing the map.
    pub(crate) fn is_map_full(&self) -> bool {
        matches!(
            self,
            Error::Lmdb {
                source: LmdbError(heed::Error::Mdb(heed::MdbError::MapFull)),
                ..
            }
        )
    }
}

/// What LMDB reported, behind [`Error::Lmdb`]: its message and its
/// [`source`](std::error::Error::source) chain say what happened. Opaque, so
/// that the storage engine's own crate is not part of this crate's API.
#[derive(Debug)]
pub struct LmdbError(pub(crate) heed::Error);

impl std::fmt::Display for LmdbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LmdbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// The middle of the [`Error::KeyTooLong`] message: what is too long and
/// how many bytes are left for the field.
fn key_too_long_detail(
    field: &Option<&'static str>,
    value_len: usize,
    escaped_len: usize,
    len: usize,
    max: usize,
) -> String {
    let Some(field) = field else {
        return format!(
            "the namespace and key template alone make {len} bytes, with no field to shorten \
             (list items add 17 bytes); shorten the namespace or the key template "
        );
    };
    let size = if escaped_len == value_len {
        format!("{value_len} bytes")
    } else {
        format!(
            "{escaped_len} bytes once escaped ({value_len} bytes as given; `%`, `/`, control \
             characters and the characters that end the value are stored as %XX, 3 bytes per byte)"
        )
    };
    let left = max.saturating_sub(len.saturating_sub(escaped_len));
    format!(
        "field `{field}` is {size}; with the namespace and the rest of the key, {left} bytes \
         are left for it "
    )
}

/// The result type of the runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Runtime of [`mcp-persist`](https://docs.rs/mcp-persist): the LMDB [`Store`],
//! the value envelope, TTL and the writer thread.
//!
//! Users depend on the `mcp-persist` facade, which re-exports this crate and
//! the `#[persisted]` macro. Every generated accessor returns an [operation](op):
//! awaited, or run with `.blocking()`. Type-agnostic access (the command
//! line's and operators' API) is behind [`Store::admin`]; what the generated
//! code calls lives in the hidden `__private` module and is not public API.

#![warn(missing_docs)]

mod accessors;
pub mod admin;
mod clock;
mod crypt;
mod envelope;
mod error;
mod key;
mod list;
pub mod op;
mod owner_only;
mod patch;
mod persisted;
mod place;
mod records;
mod scope;
mod spec;
mod store;
pub mod tools;
mod watch;

pub use clock::{Clock, ManualClock, SystemClock};
pub use crypt::{EncryptionKey, Keyring};
pub use envelope::{Meta, Stored};
pub use error::{Error, LmdbError, Result};
pub use key::RecordKey;
pub use persisted::Persisted;
pub use place::ScopedStore;
pub use records::{ListOptions, Page, Ttl};
pub use scope::Scope;
pub use spec::Migration;
pub use store::{Durability, Store, StoreBuilder, resolve_dir};
pub use watch::{Change, ChangeKind, Watched, Watcher};

/// What a deployment sets and what the store holds to: the environment
/// variables read when the code does not choose, and the limits.
pub mod settings {
    pub use crate::crypt::KEY_FILE_ENV_VAR;
    pub use crate::key::MAX_KEY_LEN;
    pub use crate::scope::LOCAL_SCOPE_ENV_VAR;
    pub use crate::store::{DEFAULT_CHANGE_LOG, DIR_ENV_VAR, DURABILITY_ENV_VAR, URL_ENV_VAR};
}

/// rmcp, for what [`serve_resources!`] expands to. Not public API.
#[doc(hidden)]
pub use rmcp as __rmcp;

/// What the code `#[persisted]` generates names (through the facade's own
/// `__private`). Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::key::KeyPart;
    pub use crate::persisted::Sealed;
    pub use crate::tools::routes::{ToolSet, router};
    pub use crate::tools::tool_op::ToolOp;

    pub use crate::place::Place;
    pub use crate::records::key_of;
    pub use crate::scope::Scoping;
    pub use crate::spec::{KeyPiece, Kind, RecordSpec};
    pub use crate::tools::resources::{ServedResources, served};

    /// The generic code behind every generated accessor.
    pub mod accessors {
        pub use crate::accessors::*;
    }
}

//! Runtime of [`mcp-persist`](https://docs.rs/mcp-persist): the LMDB [`Store`],
//! the value envelope, TTL and the writer thread.
//!
//! Users depend on the `mcp-persist` facade, which re-exports this crate and
//! the `#[persisted]` macro. Type-agnostic access (the command line's and
//! operators' API) is behind [`Store::admin`]; what the generated code calls
//! lives in the hidden `__private` module and is not public API.

#![warn(missing_docs)]

pub mod admin;
mod clock;
mod envelope;
mod error;
mod key;
mod list;
mod records;
mod spec;
mod store;
pub mod tools;

pub use clock::{Clock, ManualClock, SystemClock};
pub use envelope::{Meta, Stored};
pub use error::{Error, Result};
pub use key::{MAX_KEY_LEN, RecordKey};
pub use records::{ListOptions, Page, Ttl};
pub use spec::{Kind, Migration, Persisted, RecordSpec};
pub use store::{DIR_ENV_VAR, DURABILITY_ENV_VAR, Durability, Store, StoreBuilder, resolve_dir};

/// What the code `#[persisted]` generates names (through the facade's own
/// `__private`). Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::key::KeyPart;
    pub use crate::spec::Sealed;
    pub use crate::tools::routes::{ToolOp, ToolSet, router};

    /// The generic code behind the accessors of singletons and keyed records.
    pub mod records {
        pub use crate::records::*;
    }

    /// The generic code behind the accessors of lists.
    pub mod list {
        pub use crate::list::*;
    }
}

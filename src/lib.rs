//! # mcp-persist
//!
//! Declare the state an MCP server must remember as plain structs; get typed,
//! durable, expiring storage for it on an embedded LMDB store.
//!
//! ```
//! use mcp_persist::{persisted, Store, Ttl};
//!
//! /// Reading progress for one book.
//! #[persisted(key = "progress/{book_id}", ttl = "30d")]
//! #[derive(Debug, Clone, PartialEq)]
//! struct Progress {
//!     book_id: String,
//!     page: u32,
//! }
//!
//! # fn main() -> Result<(), mcp_persist::Error> {
//! let store = Store::memory()?; // Store::open("my-app") in a real server
//! // Every accessor returns an operation: `.await` it, or run it with `.blocking()`.
//! Progress { book_id: "dune".into(), page: 12 }.save(&store).blocking()?;
//! Progress::update(&store, "dune", |p| p.page += 1).blocking()?;
//! // A save can choose its own lifetime, overriding the type's `ttl`.
//! Progress { book_id: "emma".into(), page: 1 }.save(&store).ttl(Ttl::Never).blocking()?;
//! assert_eq!(Progress::load(&store, "dune").blocking()?.map(|p| p.page), Some(13));
//! # Ok(()) }
//! ```
//!
//! See the README for the attribute's options and the generated accessors.
//!
//! [`Store::admin`] (module [`admin`]) is the other door: type-agnostic
//! access to raw records, export/import, backup, statistics and checks, for
//! the `mcp-persist` command line and operators. It bypasses the types (no
//! decoding, migration or expiry of a record as its type would do); a
//! server's own code does not need it.

pub use persist_macros::persisted;
pub use persist_runtime::{
    Change, ChangeKind, Clock, Durability, EncryptionKey, Error, Keyring, ListOptions, LmdbError,
    ManualClock, Meta, Migration, Page, Persisted, RecordKey, Result, Scope, ScopedStore, Store,
    StoreBuilder, Stored, SystemClock, Ttl, Watched, Watcher, resolve_dir,
};
pub use persist_runtime::{admin, op, serve_resources, settings, tools};
/// The rmcp crate the generated tools are built for (3.11).
pub use rmcp;
/// The serde_json crate whose `Value` a [`Migration`] takes and returns.
pub use serde_json;

/// What generated code names. Not public API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use persist_runtime::__private::{
        KeyPart, KeyPiece, Kind, Place, RecordSpec, Scoping, Sealed, ToolOp, ToolSet, accessors,
        key_of, router,
    };
    pub use schemars;
    pub use serde;
    pub use serde_json;
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

//! Runtime of [`mcp-persist`](https://docs.rs/mcp-persist): the LMDB [`Store`],
//! the value envelope, TTL and the writer thread.
//!
//! Users depend on the `mcp-persist` facade, which re-exports this crate and
//! the `#[persisted]` macro. Every generated accessor returns an [operation](op)
//! built by a generic function of `accessors`.

#![warn(missing_docs)]

#[doc(hidden)]
pub mod accessors;
pub mod admin;
mod clock;
mod envelope;
mod error;
mod key;
pub mod list;
pub mod op;
pub mod records;
mod spec;
mod store;
pub mod tools;

pub use clock::{Clock, ManualClock, SystemClock};
pub use envelope::{Meta, Stored};
pub use error::{Error, Result};
pub use key::{KeyPart, MAX_KEY_LEN, RecordKey};
pub use records::{ListOptions, Page, Ttl};
pub use spec::{KeyPiece, Kind, Migration, Persisted, RecordSpec};
pub use store::{DIR_ENV_VAR, DURABILITY_ENV_VAR, Durability, Store, StoreBuilder, resolve_dir};

//! One function per subcommand, grouped by what they work on, and the
//! [`Context`] they share.

mod encryption;
mod erase;
mod records;
mod transfer;
mod whole_store;

pub use encryption::{keygen, rekey};
pub use erase::erase;
pub use records::{delete, get, keys, set};
pub use transfer::{export, import};
pub use whole_store::{backup, check, path, stats, sweep};

use persist_runtime::{Scope, Store};

use crate::args::Select;
use crate::failure::Failure;
use crate::location;
use crate::output::Out;

/// What every subcommand is given: the selected store, the user of
/// `--scope` and where output goes.
pub struct Context<'a> {
    /// The store's selection (and keys) from the command line.
    pub select: &'a Select,
    /// The user of `--scope`, if given.
    pub scope: Option<Scope>,
    /// Where results go.
    pub out: &'a Out,
}

impl Context<'_> {
    /// Opens the selected store (never creating one).
    fn open(&self) -> Result<Store, Failure> {
        location::open(self.select)
    }

    /// What stored keys start with under `--scope` (the user's prefix),
    /// else nothing: added to keys as given, taken off keys as shown.
    fn user_prefix(&self) -> &str {
        self.scope.as_ref().map_or("", Scope::key_prefix)
    }

    /// `key` as given on the command line, as stored.
    fn stored(&self, key: &str) -> String {
        format!("{}{key}", self.user_prefix())
    }

    /// ` of user "alice"` under `--scope`, else nothing: for messages.
    fn of(&self) -> String {
        self.scope
            .as_ref()
            .map_or(String::new(), |s| format!(" of user {:?}", s.as_str()))
    }
}

/// Milliseconds since the epoch, now.
fn now_ms() -> u64 {
    use persist_runtime::Clock;
    persist_runtime::SystemClock.now_ms()
}

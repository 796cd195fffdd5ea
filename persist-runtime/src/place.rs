//! Where an accessor works: a [`Store`] seen as one user's ([`ScopedStore`]),
//! and the (store, scope) pair generated code passes down ([`Place`]).

use std::fmt;

use crate::scope::Scope;
use crate::store::Store;

/// A [`Store`] seen as one user's: what the accessors of a per-user type
/// (`scope = "user"`) take. From [`Store::scoped`]; cheap to clone.
///
/// ```
/// use persist_runtime::{Scope, Store};
/// let store = Store::memory()?;
/// let alice = store.scoped(&Scope::new("alice")?);
/// assert_eq!(alice.scope().as_str(), "alice");
/// // A per-user type's accessors take `&alice`; `T::load(&alice, ..)`
/// // reaches alice's records only.
/// # Ok::<(), persist_runtime::Error>(())
/// ```
#[derive(Clone)]
pub struct ScopedStore {
    store: Store,
    scope: Scope,
}

impl ScopedStore {
    /// The whole store (shared types' accessors take this).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whose records this handle reaches.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

impl fmt::Debug for ScopedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedStore")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// This store as `scope`'s: pass it to the accessors of per-user types.
    pub fn scoped(&self, scope: &Scope) -> ScopedStore {
        ScopedStore {
            store: self.clone(),
            scope: scope.clone(),
        }
    }
}

/// Where an accessor works: the store, and the scope for a per-user type.
/// Generated code converts a `&Store` or a `&ScopedStore` into it. Not
/// public API.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Place<'s> {
    pub(crate) store: &'s Store,
    pub(crate) scope: Option<&'s Scope>,
}

impl<'s> Place<'s> {
    /// `store` under `scope` (`None`: shared records only).
    pub(crate) fn new(store: &'s Store, scope: Option<&'s Scope>) -> Self {
        Self { store, scope }
    }
}

impl<'s> From<&'s Store> for Place<'s> {
    fn from(store: &'s Store) -> Self {
        Self { store, scope: None }
    }
}

impl<'s> From<&'s ScopedStore> for Place<'s> {
    fn from(scoped: &'s ScopedStore) -> Self {
        Self {
            store: &scoped.store,
            scope: Some(&scoped.scope),
        }
    }
}

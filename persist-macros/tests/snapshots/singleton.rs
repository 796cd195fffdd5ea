// The expansion of `singleton`: see src/snapshots.rs (UPDATE_SNAPSHOTS=1 regenerates it).
#[derive(
    ::mcp_persist::__private::serde::Serialize,
    ::mcp_persist::__private::serde::Deserialize
)]
#[serde(crate = "::mcp_persist::__private::serde")]
/// User preferences.
#[derive(Debug, Default)]
pub struct Preferences {
    pub sort_order: String,
    pub show_metadata: bool,
}
impl ::mcp_persist::Persisted for Preferences {
    const SPEC: ::mcp_persist::__private::RecordSpec = ::mcp_persist::__private::RecordSpec {
        type_name: "Preferences",
        namespace: "preferences",
        key: "preferences",
        key_pieces: &[::mcp_persist::__private::KeyPiece::Lit("preferences")],
        key_params: &[],
        kind: ::mcp_persist::__private::Kind::Singleton,
        ttl: ::core::option::Option::None,
        version: 1u32,
        doc: "User preferences.",
        migrate: ::core::option::Option::None,
        scope: ::mcp_persist::__private::Scoping::Shared,
    };
    fn record_key(
        &self,
        scope: ::core::option::Option<&::mcp_persist::Scope>,
    ) -> ::mcp_persist::Result<::mcp_persist::RecordKey> {
        ::mcp_persist::__private::key_of::<Self>(scope, &[])
    }
}
impl ::mcp_persist::__private::Sealed for Preferences {}
#[allow(dead_code)]
impl Preferences {
    ///Loads the record, if stored and not expired. `.await` it, or run it with `.blocking()`.
    pub fn load(
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::op::Read<'_, ::core::option::Option<Self>> {
        ::mcp_persist::__private::accessors::load::<Self>(store.into(), &[])
    }
    ///Loads the record with its metadata (timestamps, expiry, version). `.await` it, or run it with `.blocking()`.
    pub fn load_with_meta(
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::op::Read<
        '_,
        ::core::option::Option<::mcp_persist::Stored<Self>>,
    > {
        ::mcp_persist::__private::accessors::load_with_meta::<Self>(store.into(), &[])
    }
    ///Whether the record is stored and not expired. `.await` it, or run it with `.blocking()`.
    pub fn exists(store: &::mcp_persist::Store) -> ::mcp_persist::op::Read<'_, bool> {
        ::mcp_persist::__private::accessors::exists::<Self>(store.into(), &[])
    }
    /// Saves this value at its key, with the type's `ttl` unless the
    /// operation's `.ttl(..)` chooses another. `.await` it, or run it with
    /// `.blocking()`; either returns once the write is durable.
    pub fn save<'s>(
        &'s self,
        store: &'s ::mcp_persist::Store,
    ) -> ::mcp_persist::op::Save<'s, Self> {
        ::mcp_persist::__private::accessors::save::<Self>(store.into(), self)
    }
    ///Atomically applies `f` to the record and stores the result (one write transaction: no lost updates between threads or processes). Returns the new value, or `None` if there is no record (nothing is written). `.await` it, or run it with `.blocking()`.
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`). A read of the store inside `f` (through a `Store` clone it captured, say, loading another record) sees the last committed state: not the writes that ran before it in the same batch of writes, nor this update's own change; read what you need before calling, or keep values that must change together in one record.
    pub fn update<F>(
        store: &::mcp_persist::Store,
        f: F,
    ) -> ::mcp_persist::op::Write<'_, ::core::option::Option<Self>>
    where
        F: FnMut(&mut Self) + Send + 'static,
    {
        ::mcp_persist::__private::accessors::update::<Self, F>(store.into(), &[], f)
    }
    /// Like `update`, but starts from `initial` when no record is stored at
    /// `initial`'s key; `f` is applied in both cases. Returns the stored value.
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`). A read of the store inside `f` (through a `Store` clone it captured, say, loading another record) sees the last committed state: not the writes that ran before it in the same batch of writes, nor this update's own change; read what you need before calling, or keep values that must change together in one record.
    pub fn update_or_insert<'s, F>(
        store: &'s ::mcp_persist::Store,
        initial: &Self,
        f: F,
    ) -> ::mcp_persist::op::Write<'s, Self>
    where
        F: FnMut(&mut Self) + Send + 'static,
    {
        ::mcp_persist::__private::accessors::update_or_insert::<
            Self,
            F,
        >(store.into(), initial, f)
    }
    ///Deletes the record. Returns whether a live record was deleted. `.await` it, or run it with `.blocking()`.
    pub fn delete(store: &::mcp_persist::Store) -> ::mcp_persist::op::Write<'_, bool> {
        ::mcp_persist::__private::accessors::delete::<Self>(store.into(), &[])
    }
    /// Loads the record, or the type's default if none is stored.
    /// `.await` it, or run it with `.blocking()`.
    pub fn load_or_default(
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::op::Read<'_, Self>
    where
        for<'a> Self: ::core::default::Default,
    {
        ::mcp_persist::__private::accessors::load_or_default::<Self>(store.into(), &[])
    }
    /// Like `update`, starting from the type's default when no record
    /// is stored. Returns the stored value.
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`). A read of the store inside `f` (through a `Store` clone it captured, say, loading another record) sees the last committed state: not the writes that ran before it in the same batch of writes, nor this update's own change; read what you need before calling, or keep values that must change together in one record.
    pub fn update_or_default<F>(
        store: &::mcp_persist::Store,
        f: F,
    ) -> ::mcp_persist::op::Write<'_, Self>
    where
        F: FnMut(&mut Self) + Send + 'static,
        for<'a> Self: ::core::default::Default,
    {
        ::mcp_persist::__private::accessors::update_or_default::<
            Self,
            F,
        >(store.into(), f)
    }
    /// Watches every change (put, delete, expiry) of this type's records,
    /// by any process on the store, from now on (see `Store::watch`).
    pub fn watch(
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::Result<::mcp_persist::Watcher> {
        ::mcp_persist::__private::accessors::watch::<Self>(store.into())
    }
}

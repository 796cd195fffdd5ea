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
    const SPEC: ::mcp_persist::RecordSpec = ::mcp_persist::RecordSpec {
        type_name: "Preferences",
        namespace: "preferences",
        key: "preferences",
        key_params: &[],
        kind: ::mcp_persist::Kind::Singleton,
        ttl: ::core::option::Option::None,
        version: 1u32,
        doc: "User preferences.",
        migrate: ::core::option::Option::None,
    };
    fn record_key(&self) -> ::mcp_persist::Result<::mcp_persist::RecordKey> {
        ::mcp_persist::__private::records::key_of::<Self>(&[])
    }
}
impl ::mcp_persist::__private::Sealed for Preferences {}
#[allow(dead_code)]
impl Preferences {
    ///Loads the record, if stored and not expired.
    pub fn load(
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::Result<::core::option::Option<Self>> {
        ::mcp_persist::__private::records::load::<Self>(store, &[])
    }
    ///Loads the record with its metadata (timestamps, expiry, version).
    pub fn load_with_meta(
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::Result<::core::option::Option<::mcp_persist::Stored<Self>>> {
        ::mcp_persist::__private::records::load_stored::<
            Self,
        >(store, &::mcp_persist::__private::records::key_of::<Self>(&[])?)
    }
    ///Whether the record is stored and not expired.
    pub fn exists(store: &::mcp_persist::Store) -> ::mcp_persist::Result<bool> {
        ::mcp_persist::__private::records::exists::<Self>(store, &[])
    }
    /// Saves this value at its key (with the type's `ttl`, if any). The
    /// future resolves once the write is durable.
    pub fn save<'s>(
        &self,
        store: &'s ::mcp_persist::Store,
    ) -> impl ::core::future::Future<
        Output = ::mcp_persist::Result<()>,
    > + Send + use<'s> {
        ::mcp_persist::__private::records::save::<
            Self,
        >(store, self, ::mcp_persist::Ttl::Default)
    }
    /// Blocking version of `save`.
    pub fn save_blocking(
        &self,
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::Result<()> {
        ::mcp_persist::__private::records::save_blocking::<
            Self,
        >(store, self, ::mcp_persist::Ttl::Default)
    }
    /// Saves this value with a time to live that overrides the type's `ttl`.
    pub fn save_with_ttl<'s>(
        &self,
        store: &'s ::mcp_persist::Store,
        ttl: ::mcp_persist::Ttl,
    ) -> impl ::core::future::Future<
        Output = ::mcp_persist::Result<()>,
    > + Send + use<'s> {
        ::mcp_persist::__private::records::save::<Self>(store, self, ttl)
    }
    /// Blocking version of `save_with_ttl`.
    pub fn save_with_ttl_blocking(
        &self,
        store: &::mcp_persist::Store,
        ttl: ::mcp_persist::Ttl,
    ) -> ::mcp_persist::Result<()> {
        ::mcp_persist::__private::records::save_blocking::<Self>(store, self, ttl)
    }
    ///Atomically applies `f` to the record and stores the result (one write transaction: no lost updates between threads or processes). Returns the new value, or `None` if there is no record (nothing is written).
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`).
    pub fn update<'s, F>(
        store: &'s ::mcp_persist::Store,
        f: F,
    ) -> impl ::core::future::Future<
        Output = ::mcp_persist::Result<::core::option::Option<Self>>,
    > + Send + use<'s, F>
    where
        F: FnMut(&mut Self) + Send + 'static,
    {
        ::mcp_persist::__private::records::update::<Self, F>(store, &[], f)
    }
    /// Blocking version of `update`.
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`).
    pub fn update_blocking<F>(
        store: &::mcp_persist::Store,
        f: F,
    ) -> ::mcp_persist::Result<::core::option::Option<Self>>
    where
        F: FnMut(&mut Self) + Send + 'static,
    {
        ::mcp_persist::__private::records::update_blocking::<Self, F>(store, &[], f)
    }
    /// Like `update`, but starts from `initial` when no record is stored at
    /// `initial`'s key; `f` is applied in both cases. Returns the stored value.
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`).
    pub fn update_or_insert<'s, F>(
        store: &'s ::mcp_persist::Store,
        initial: &Self,
        f: F,
    ) -> impl ::core::future::Future<
        Output = ::mcp_persist::Result<Self>,
    > + Send + use<'s, F>
    where
        F: FnMut(&mut Self) + Send + 'static,
    {
        ::mcp_persist::__private::records::update_or_insert::<Self, F>(store, initial, f)
    }
    /// Blocking version of `update_or_insert`.
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`).
    pub fn update_or_insert_blocking<F>(
        store: &::mcp_persist::Store,
        initial: &Self,
        f: F,
    ) -> ::mcp_persist::Result<Self>
    where
        F: FnMut(&mut Self) + Send + 'static,
    {
        ::mcp_persist::__private::records::update_or_insert_blocking::<
            Self,
            F,
        >(store, initial, f)
    }
    ///Deletes the record. Returns whether a live record was deleted.
    pub fn delete<'s>(
        store: &'s ::mcp_persist::Store,
    ) -> impl ::core::future::Future<
        Output = ::mcp_persist::Result<bool>,
    > + Send + use<'s> {
        ::mcp_persist::__private::records::delete::<Self>(store, &[])
    }
    /// Blocking version of `delete`.
    pub fn delete_blocking(store: &::mcp_persist::Store) -> ::mcp_persist::Result<bool> {
        ::mcp_persist::__private::records::delete_blocking::<Self>(store, &[])
    }
    /// Loads the record, or the type's default if none is stored.
    pub fn load_or_default(store: &::mcp_persist::Store) -> ::mcp_persist::Result<Self>
    where
        for<'a> Self: ::core::default::Default,
    {
        ::core::result::Result::Ok(Self::load(store)?.unwrap_or_default())
    }
    /// Like `update`, starting from the type's default when no record
    /// is stored. Returns the stored value.
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`).
    pub fn update_or_default<'s, F>(
        store: &'s ::mcp_persist::Store,
        f: F,
    ) -> impl ::core::future::Future<
        Output = ::mcp_persist::Result<Self>,
    > + Send + use<'s, F>
    where
        F: FnMut(&mut Self) + Send + 'static,
        for<'a> Self: ::core::default::Default,
    {
        ::mcp_persist::__private::records::update_or_insert::<
            Self,
            F,
        >(store, &Self::default(), f)
    }
    /// Blocking version of `update_or_default`.
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`).
    pub fn update_or_default_blocking<F>(
        store: &::mcp_persist::Store,
        f: F,
    ) -> ::mcp_persist::Result<Self>
    where
        F: FnMut(&mut Self) + Send + 'static,
        for<'a> Self: ::core::default::Default,
    {
        ::mcp_persist::__private::records::update_or_insert_blocking::<
            Self,
            F,
        >(store, &Self::default(), f)
    }
}

// The expansion of `keyed_tools`: see src/snapshots.rs (UPDATE_SNAPSHOTS=1 regenerates it).
#[derive(
    ::mcp_persist::__private::schemars::JsonSchema,
    ::mcp_persist::__private::serde::Serialize,
    ::mcp_persist::__private::serde::Deserialize
)]
#[serde(crate = "::mcp_persist::__private::serde")]
#[schemars(crate = "::mcp_persist::__private::schemars")]
/// Reading progress of one user in one book.
#[derive(Debug, Clone)]
pub struct Progress {
    pub user: String,
    pub book_id: u32,
    pub page: u32,
}
impl ::mcp_persist::Persisted for Progress {
    const SPEC: ::mcp_persist::RecordSpec = ::mcp_persist::RecordSpec {
        type_name: "Progress",
        namespace: "progress",
        key: "progress/{user}/{book_id}",
        key_params: &["user", "book_id"],
        kind: ::mcp_persist::Kind::Keyed,
        ttl: ::core::option::Option::Some(::core::time::Duration::from_secs(2592000u64)),
        version: 1u32,
        doc: "Reading progress of one user in one book.",
        migrate: ::core::option::Option::None,
    };
    fn record_key(&self) -> ::mcp_persist::Result<::mcp_persist::RecordKey> {
        ::mcp_persist::__private::records::key_of::<
            Self,
        >(
            &[
                ::mcp_persist::__private::KeyPart::as_key_part(&self.user),
                ::mcp_persist::__private::KeyPart::as_key_part(&self.book_id),
            ],
        )
    }
}
impl ::mcp_persist::__private::Sealed for Progress {}
#[allow(dead_code)]
impl Progress {
    ///Loads the record with key fields `user`, `book_id`, if stored and not expired.
    pub fn load(
        store: &::mcp_persist::Store,
        user: impl ::core::fmt::Display,
        book_id: impl ::core::fmt::Display,
    ) -> ::mcp_persist::Result<::core::option::Option<Self>> {
        ::mcp_persist::__private::records::load::<Self>(store, &[&user, &book_id])
    }
    ///Loads the record with key fields `user`, `book_id` with its metadata (timestamps, expiry, version).
    pub fn load_with_meta(
        store: &::mcp_persist::Store,
        user: impl ::core::fmt::Display,
        book_id: impl ::core::fmt::Display,
    ) -> ::mcp_persist::Result<::core::option::Option<::mcp_persist::Stored<Self>>> {
        ::mcp_persist::__private::records::load_stored::<
            Self,
        >(store, &::mcp_persist::__private::records::key_of::<Self>(&[&user, &book_id])?)
    }
    ///Whether the record with key fields `user`, `book_id` is stored and not expired.
    pub fn exists(
        store: &::mcp_persist::Store,
        user: impl ::core::fmt::Display,
        book_id: impl ::core::fmt::Display,
    ) -> ::mcp_persist::Result<bool> {
        ::mcp_persist::__private::records::exists::<Self>(store, &[&user, &book_id])
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
    ///Atomically applies `f` to the record with key fields `user`, `book_id` and stores the result (one write transaction: no lost updates between threads or processes). Returns the new value, or `None` if there is no record (nothing is written).
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`).
    pub fn update<'s, K0: ::core::fmt::Display, K1: ::core::fmt::Display, F>(
        store: &'s ::mcp_persist::Store,
        user: K0,
        book_id: K1,
        f: F,
    ) -> impl ::core::future::Future<
        Output = ::mcp_persist::Result<::core::option::Option<Self>>,
    > + Send + use<'s, K0, K1, F>
    where
        F: FnMut(&mut Self) + Send + 'static,
    {
        ::mcp_persist::__private::records::update::<
            Self,
            F,
        >(store, &[&user, &book_id], f)
    }
    /// Blocking version of `update`.
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`).
    pub fn update_blocking<F>(
        store: &::mcp_persist::Store,
        user: impl ::core::fmt::Display,
        book_id: impl ::core::fmt::Display,
        f: F,
    ) -> ::mcp_persist::Result<::core::option::Option<Self>>
    where
        F: FnMut(&mut Self) + Send + 'static,
    {
        ::mcp_persist::__private::records::update_blocking::<
            Self,
            F,
        >(store, &[&user, &book_id], f)
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
    ///Deletes the record with key fields `user`, `book_id`. Returns whether a live record was deleted.
    pub fn delete<'s, K0: ::core::fmt::Display, K1: ::core::fmt::Display>(
        store: &'s ::mcp_persist::Store,
        user: K0,
        book_id: K1,
    ) -> impl ::core::future::Future<
        Output = ::mcp_persist::Result<bool>,
    > + Send + use<'s, K0, K1> {
        ::mcp_persist::__private::records::delete::<Self>(store, &[&user, &book_id])
    }
    /// Blocking version of `delete`.
    pub fn delete_blocking(
        store: &::mcp_persist::Store,
        user: impl ::core::fmt::Display,
        book_id: impl ::core::fmt::Display,
    ) -> ::mcp_persist::Result<bool> {
        ::mcp_persist::__private::records::delete_blocking::<
            Self,
        >(store, &[&user, &book_id])
    }
    /// Every stored, unexpired record of this type, in key order.
    pub fn list(
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::Result<::std::vec::Vec<Self>> {
        ::mcp_persist::__private::records::list_all::<Self>(store)
    }
    /// One page of records in key order, filtered by a prefix of the
    /// first key field, with their metadata and a cursor for the next page.
    pub fn list_page(
        store: &::mcp_persist::Store,
        options: &::mcp_persist::ListOptions,
    ) -> ::mcp_persist::Result<::mcp_persist::Page<Self>> {
        ::mcp_persist::__private::records::list::<Self>(store, options)
    }
    /// The MCP tools of this type, to merge into a server's router with `+`.
    /// The routes capture `store`; see `tools_with` for the limits they enforce.
    pub fn tools<S: ::core::marker::Send + ::core::marker::Sync + 'static>(
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::rmcp::handler::server::router::tool::ToolRouter<S> {
        Self::tools_with(store, ::mcp_persist::tools::ToolConfig::default())
    }
    /// The MCP tools of this type, with the given limits.
    pub fn tools_with<S: ::core::marker::Send + ::core::marker::Sync + 'static>(
        store: &::mcp_persist::Store,
        config: ::mcp_persist::tools::ToolConfig,
    ) -> ::mcp_persist::rmcp::handler::server::router::tool::ToolRouter<S> {
        ::mcp_persist::__private::router::<
            Self,
            S,
        >(
            store,
            &::mcp_persist::__private::ToolSet {
                name: "progress",
                prefix: "",
                ops: &[],
            },
            config,
        )
    }
}

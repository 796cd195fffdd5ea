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
    const SPEC: ::mcp_persist::__private::RecordSpec = ::mcp_persist::__private::RecordSpec {
        type_name: "Progress",
        namespace: "progress",
        key: "progress/{user}/{book_id}",
        key_pieces: &[
            ::mcp_persist::__private::KeyPiece::Lit("progress/"),
            ::mcp_persist::__private::KeyPiece::Field("user"),
            ::mcp_persist::__private::KeyPiece::Lit("/"),
            ::mcp_persist::__private::KeyPiece::Field("book_id"),
        ],
        key_params: &["user", "book_id"],
        kind: ::mcp_persist::__private::Kind::Keyed,
        ttl: ::core::option::Option::Some(::core::time::Duration::from_secs(2592000u64)),
        version: 1u32,
        doc: "Reading progress of one user in one book.",
        migrate: ::core::option::Option::None,
        scope: ::mcp_persist::__private::Scoping::Shared,
    };
    fn record_key(
        &self,
        scope: ::core::option::Option<&::mcp_persist::Scope>,
    ) -> ::mcp_persist::Result<::mcp_persist::RecordKey> {
        ::mcp_persist::__private::key_of::<
            Self,
        >(
            scope,
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
    ///Loads the record with key fields `user`, `book_id`, if stored and not expired. `.await` it, or run it with `.blocking()`.
    pub fn load(
        store: &::mcp_persist::Store,
        user: impl ::core::fmt::Display,
        book_id: impl ::core::fmt::Display,
    ) -> ::mcp_persist::op::Read<'_, ::core::option::Option<Self>> {
        ::mcp_persist::__private::accessors::load::<
            Self,
        >(store.into(), &[&user, &book_id])
    }
    ///Loads the record with key fields `user`, `book_id` with its metadata (timestamps, expiry, version). `.await` it, or run it with `.blocking()`.
    pub fn load_with_meta(
        store: &::mcp_persist::Store,
        user: impl ::core::fmt::Display,
        book_id: impl ::core::fmt::Display,
    ) -> ::mcp_persist::op::Read<
        '_,
        ::core::option::Option<::mcp_persist::Stored<Self>>,
    > {
        ::mcp_persist::__private::accessors::load_with_meta::<
            Self,
        >(store.into(), &[&user, &book_id])
    }
    ///Whether the record with key fields `user`, `book_id` is stored and not expired. `.await` it, or run it with `.blocking()`.
    pub fn exists(
        store: &::mcp_persist::Store,
        user: impl ::core::fmt::Display,
        book_id: impl ::core::fmt::Display,
    ) -> ::mcp_persist::op::Read<'_, bool> {
        ::mcp_persist::__private::accessors::exists::<
            Self,
        >(store.into(), &[&user, &book_id])
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
    ///Atomically applies `f` to the record with key fields `user`, `book_id` and stores the result (one write transaction: no lost updates between threads or processes). Returns the new value, or `None` if there is no record (nothing is written). `.await` it, or run it with `.blocking()`.
    ///
    ///`f` may run more than once for one call (the write is tried again after the store's map grew) and runs while the store's writes wait for it: keep it quick and free of side effects, and make it compute the same change from the same value. The record keeps its own expiry policy, re-armed from this write (see `Ttl`). A read of the store inside `f` (through a `Store` clone it captured, say, loading another record) sees the last committed state: not the writes that ran before it in the same batch of writes, nor this update's own change; read what you need before calling, or keep values that must change together in one record.
    pub fn update<F>(
        store: &::mcp_persist::Store,
        user: impl ::core::fmt::Display,
        book_id: impl ::core::fmt::Display,
        f: F,
    ) -> ::mcp_persist::op::Write<'_, ::core::option::Option<Self>>
    where
        F: FnMut(&mut Self) + Send + 'static,
    {
        ::mcp_persist::__private::accessors::update::<
            Self,
            F,
        >(store.into(), &[&user, &book_id], f)
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
    ///Deletes the record with key fields `user`, `book_id`. Returns whether a live record was deleted. `.await` it, or run it with `.blocking()`.
    pub fn delete(
        store: &::mcp_persist::Store,
        user: impl ::core::fmt::Display,
        book_id: impl ::core::fmt::Display,
    ) -> ::mcp_persist::op::Write<'_, bool> {
        ::mcp_persist::__private::accessors::delete::<
            Self,
        >(store.into(), &[&user, &book_id])
    }
    /// Every stored, unexpired record of this type, in key order.
    /// `.await` it, or run it with `.blocking()`.
    pub fn list(
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::op::Read<'_, ::std::vec::Vec<Self>> {
        ::mcp_persist::__private::accessors::list::<Self>(store.into())
    }
    /// One page of records in key order, filtered by a prefix of the
    /// first key field, with their metadata and a cursor for the next
    /// page. `.await` it, or run it with `.blocking()`.
    pub fn list_page(
        store: &::mcp_persist::Store,
        options: ::mcp_persist::ListOptions,
    ) -> ::mcp_persist::op::Read<'_, ::mcp_persist::Page<Self>> {
        ::mcp_persist::__private::accessors::list_page::<Self>(store.into(), options)
    }
    /// Watches every change (put, delete, expiry) of this type's records,
    /// by any process on the store, from now on (see `Store::watch`).
    pub fn watch(
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::Result<::mcp_persist::Watcher> {
        ::mcp_persist::__private::accessors::watch::<Self>(store.into())
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

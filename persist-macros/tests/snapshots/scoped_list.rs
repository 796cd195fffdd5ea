// The expansion of `scoped_list`: see src/snapshots.rs (UPDATE_SNAPSHOTS=1 regenerates it).
#[derive(
    ::mcp_persist::__private::schemars::JsonSchema,
    ::mcp_persist::__private::serde::Serialize,
    ::mcp_persist::__private::serde::Deserialize
)]
#[serde(crate = "::mcp_persist::__private::serde")]
#[schemars(crate = "::mcp_persist::__private::schemars")]
/// What one user looked at.
struct Visit {
    page: String,
}
impl ::mcp_persist::Persisted for Visit {
    const SPEC: ::mcp_persist::__private::RecordSpec = ::mcp_persist::__private::RecordSpec {
        type_name: "Visit",
        namespace: "visit",
        key: "history",
        key_pieces: &[::mcp_persist::__private::KeyPiece::Lit("history")],
        key_params: &[],
        kind: ::mcp_persist::__private::Kind::List {
            max_len: ::core::option::Option::Some(100usize),
        },
        ttl: ::core::option::Option::None,
        version: 1u32,
        doc: "What one user looked at.",
        migrate: ::core::option::Option::None,
        scope: ::mcp_persist::__private::Scoping::User,
    };
    fn record_key(
        &self,
        scope: ::core::option::Option<&::mcp_persist::Scope>,
    ) -> ::mcp_persist::Result<::mcp_persist::RecordKey> {
        ::mcp_persist::__private::key_of::<Self>(scope, &[])
    }
}
impl ::mcp_persist::__private::Sealed for Visit {}
#[allow(dead_code)]
impl Visit {
    /// Adds this value as the newest item, dropping the oldest beyond
    /// `max_len`, atomically; with the type's `ttl` unless the operation's
    /// `.ttl(..)` chooses another. `.await` it, or run it with
    /// `.blocking()`; either returns once the write is durable.
    fn push<'s>(
        &'s self,
        store: &'s ::mcp_persist::ScopedStore,
    ) -> ::mcp_persist::op::Save<'s, Self> {
        ::mcp_persist::__private::accessors::save::<Self>(store.into(), self)
    }
    /// Up to `limit` items, newest first (expired items are skipped).
    /// `.await` it, or run it with `.blocking()`.
    fn recent(
        store: &::mcp_persist::ScopedStore,
        limit: usize,
    ) -> ::mcp_persist::op::Read<'_, ::std::vec::Vec<Self>> {
        ::mcp_persist::__private::accessors::recent::<Self>(store.into(), limit)
    }
    /// Up to `limit` items, newest first, with their metadata.
    /// `.await` it, or run it with `.blocking()`.
    fn recent_with_meta(
        store: &::mcp_persist::ScopedStore,
        limit: usize,
    ) -> ::mcp_persist::op::Read<'_, ::std::vec::Vec<::mcp_persist::Stored<Self>>> {
        ::mcp_persist::__private::accessors::recent_with_meta::<
            Self,
        >(store.into(), limit)
    }
    /// Deletes every item; returns how many live items there were.
    /// `.await` it, or run it with `.blocking()`.
    fn clear(store: &::mcp_persist::ScopedStore) -> ::mcp_persist::op::Write<'_, usize> {
        ::mcp_persist::__private::accessors::clear::<Self>(store.into())
    }
    /// Watches every change (put, delete, expiry) of this type's records,
    /// by any process on the store, from now on (see `Store::watch`).
    fn watch(
        store: &::mcp_persist::ScopedStore,
    ) -> ::mcp_persist::Result<::mcp_persist::Watcher> {
        ::mcp_persist::__private::accessors::watch::<Self>(store.into())
    }
    /// The MCP tools of this type, to merge into a server's router with `+`.
    /// The routes capture `store`; see `tools_with` for the limits they enforce.
    fn tools<S: ::core::marker::Send + ::core::marker::Sync + 'static>(
        store: &::mcp_persist::Store,
    ) -> ::mcp_persist::rmcp::handler::server::router::tool::ToolRouter<S> {
        Self::tools_with(store, ::mcp_persist::tools::ToolConfig::default())
    }
    /// The MCP tools of this type, with the given limits.
    fn tools_with<S: ::core::marker::Send + ::core::marker::Sync + 'static>(
        store: &::mcp_persist::Store,
        config: ::mcp_persist::tools::ToolConfig,
    ) -> ::mcp_persist::rmcp::handler::server::router::tool::ToolRouter<S> {
        ::mcp_persist::__private::router::<
            Self,
            S,
        >(
            store,
            &::mcp_persist::__private::ToolSet {
                name: "visit",
                prefix: "",
                ops: &[],
            },
            config,
        )
    }
}

// The expansion of `list`: see src/snapshots.rs (UPDATE_SNAPSHOTS=1 regenerates it).
#[derive(
    ::mcp_persist::__private::serde::Serialize,
    ::mcp_persist::__private::serde::Deserialize
)]
#[serde(crate = "::mcp_persist::__private::serde")]
/// A search, newest first.
#[derive(Debug)]
struct Search {
    query: String,
}
impl ::mcp_persist::Persisted for Search {
    const SPEC: ::mcp_persist::RecordSpec = ::mcp_persist::RecordSpec {
        type_name: "Search",
        namespace: "search",
        key: "searches",
        key_params: &[],
        kind: ::mcp_persist::Kind::List {
            max_len: ::core::option::Option::Some(5usize),
        },
        ttl: ::core::option::Option::Some(::core::time::Duration::from_secs(3600u64)),
        version: 1u32,
        doc: "A search, newest first.",
        migrate: ::core::option::Option::None,
    };
    fn record_key(&self) -> ::mcp_persist::Result<::mcp_persist::RecordKey> {
        ::mcp_persist::__private::records::key_of::<Self>(&[])
    }
}
impl ::mcp_persist::__private::Sealed for Search {}
#[allow(dead_code)]
impl Search {
    /// Adds this value as the newest item, dropping the oldest beyond
    /// `max_len`, atomically. The future resolves once the write is durable.
    fn push<'s>(
        &self,
        store: &'s ::mcp_persist::Store,
    ) -> impl ::core::future::Future<
        Output = ::mcp_persist::Result<()>,
    > + Send + use<'s> {
        ::mcp_persist::__private::list::push::<
            Self,
        >(store, self, ::mcp_persist::Ttl::Default)
    }
    /// Blocking version of `push`.
    fn push_blocking(&self, store: &::mcp_persist::Store) -> ::mcp_persist::Result<()> {
        ::mcp_persist::__private::list::push_blocking::<
            Self,
        >(store, self, ::mcp_persist::Ttl::Default)
    }
    /// Up to `limit` items, newest first (expired items are skipped).
    fn recent(
        store: &::mcp_persist::Store,
        limit: usize,
    ) -> ::mcp_persist::Result<::std::vec::Vec<Self>> {
        ::mcp_persist::__private::list::recent::<Self>(store, limit)
    }
    /// Up to `limit` items, newest first, with their metadata.
    fn recent_with_meta(
        store: &::mcp_persist::Store,
        limit: usize,
    ) -> ::mcp_persist::Result<::std::vec::Vec<::mcp_persist::Stored<Self>>> {
        ::mcp_persist::__private::list::recent_stored::<Self>(store, limit)
    }
    /// Deletes every item; returns how many live items there were.
    fn clear<'s>(
        store: &'s ::mcp_persist::Store,
    ) -> impl ::core::future::Future<
        Output = ::mcp_persist::Result<usize>,
    > + Send + use<'s> {
        ::mcp_persist::__private::list::clear::<Self>(store)
    }
    /// Blocking version of `clear`.
    fn clear_blocking(store: &::mcp_persist::Store) -> ::mcp_persist::Result<usize> {
        ::mcp_persist::__private::list::clear_blocking::<Self>(store)
    }
}

//! MCP resources of persisted types: [`Resources`], its subscriptions and
//! their notifications.

mod hub;
mod uri;

use std::ops::{Add, ControlFlow};
use std::sync::Arc;

use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, MetaObject, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
    SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer};
use serde_json::{Value, json};

use super::caller_scope;
use crate::envelope::{self, Meta};
use crate::error::{Error, Result};
use crate::key;
use crate::persisted::Persisted;
use crate::records;
use crate::scope::Scope;
use crate::spec::{Kind, RecordSpec};
use crate::store::{KeyRange, Order, Store};

pub use uri::SCHEME;

/// Records per `resources/list` page.
pub const PAGE_SIZE: usize = 100;

/// The mime type of every record.
const JSON: &str = "application/json";

/// Reads the record at a stored key through its type: value as JSON, meta.
type ReadFn = fn(&Store, &str) -> Result<Option<(Value, Meta)>>;

fn read_as<T: Persisted>(store: &Store, key: &str) -> Result<Option<(Value, Meta)>> {
    let Some(stored) = records::load_stored_at::<T>(store, key)? else {
        return Ok(None);
    };
    let value = serde_json::to_value(&stored.value).map_err(|e| Error::Encode {
        type_name: T::SPEC.type_name,
        reason: e.to_string(),
    })?;
    Ok(Some((value, stored.meta)))
}

/// One persisted type's records, as resources.
#[derive(Clone, Copy)]
struct Entry {
    spec: &'static RecordSpec,
    read: ReadFn,
}

impl Entry {
    /// What the keys of this type start with for `scope` (`None`: a
    /// per-user type and no scope: nothing to show).
    fn prefix(&self, scope: Option<&Scope>) -> Option<String> {
        key::namespace_prefix(self.spec, scope).ok()
    }

    /// A one-line description: the type's doc comment, else its name.
    fn description(&self) -> String {
        let doc = self.spec.doc.trim();
        if doc.is_empty() {
            format!("{} records", self.spec.type_name)
        } else {
            doc.to_owned()
        }
    }
}

/// Persisted records as MCP resources, with subscriptions fed by the
/// store's change feed ([`Store::watch`](crate::Store::watch)).
///
/// `#[persisted(..., resources)]` generates `T::resources(&store)`, a
/// [`Resources`] set; sets merge with `+`. A server serves them by handing
/// its resource requests to the set:
/// [`ToolServer::with_resources`](crate::tools::ToolServer::with_resources)
/// does it all; a server of your
/// own delegates its `ServerHandler` methods with
/// [`serve_resources!`](crate::serve_resources) and advertises the
/// capability (`enable_resources().enable_resources_subscribe()
/// .enable_resources_list_changed()`: [`serve_stdio`](super::serve_stdio)
/// refuses to start a server that generated resources and does not).
///
/// - **URIs**: `persist://{namespace}/{key}` (the key as stored after
///   `namespace:`, percent-encoded); keyed types also get a resource
///   template (`persist://progress/progress/{book_id}`). No scope in a URI:
///   each caller lists, reads and subscribes to its own scope's records
///   only (a per-user type's records need a caller with a scope).
/// - **Reads** give the value as JSON (`application/json`), read through
///   the type (migrations apply), with the record's metadata in `_meta`
///   under `mcp-persist/record` (version, created, updated, expires).
/// - **Lists** are paginated (100 a page), in key order, expired records
///   left out.
/// - **Subscriptions**, both lifecycles: `resources/subscribe` /
///   `unsubscribe` with `notifications/resources/updated` (sessions opened
///   with `initialize`), and `subscriptions/listen` (2026-07-28). Either
///   way `notifications/resources/list_changed` follows a record of the
///   caller's scope appearing or disappearing (legacy sessions get it once
///   they listed or subscribed). Notifications come from the change feed,
///   so a write by another process on the same store reaches a subscriber.
///
/// The resources of one or more persisted types on one store, and their
/// subscriptions. Cheap to clone (a server is cloned per session): clones
/// share the subscriptions.
///
/// ```ignore
/// // As examples/quickstart.rs and examples/notes_http.rs do (compiled there).
/// use mcp_persist::{Store, persisted};
///
/// /// A note.
/// #[persisted(key = "notes/{title}", resources)]
/// struct Note { title: String, text: String }
///
/// /// The user's settings.
/// #[persisted(key = "settings", resources)]
/// struct Settings { theme: String }
///
/// # fn main() -> mcp_persist::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open_at(dir.path())?;
/// let resources = Note::resources(&store) + Settings::resources(&store);
/// assert_eq!(resources.templates().resource_templates.len(), 1); // notes/{title}
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Resources {
    store: Store,
    entries: Vec<Entry>,
    hub: Arc<hub::Hub>,
}

impl std::fmt::Debug for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resources")
            .field(
                "namespaces",
                &self
                    .entries
                    .iter()
                    .map(|e| e.spec.namespace)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Add for Resources {
    type Output = Resources;

    /// Both sets (on the first one's store; a type in both is kept once).
    fn add(mut self, other: Resources) -> Resources {
        for entry in other.entries {
            if !self
                .entries
                .iter()
                .any(|e| e.spec.namespace == entry.spec.namespace)
            {
                self.entries.push(entry);
            }
        }
        self.entries.sort_by_key(|e| e.spec.namespace);
        self
    }
}

impl Resources {
    /// The records of `T` on `store` (what `#[persisted(..., resources)]`
    /// generates as `T::resources(&store)`).
    pub fn of<T: Persisted>(store: &Store) -> Self {
        super::note_resources(T::SPEC.namespace);
        Self {
            store: store.clone(),
            entries: vec![Entry {
                spec: &T::SPEC,
                read: read_as::<T>,
            }],
            hub: hub::Hub::new(store.clone()),
        }
    }

    /// `resources/templates/list`: one template per keyed type.
    pub fn templates(&self) -> ListResourceTemplatesResult {
        ListResourceTemplatesResult::with_all_items(
            self.entries
                .iter()
                .filter(|e| e.spec.kind == Kind::Keyed)
                .map(|e| {
                    ResourceTemplate::new(uri::template(e.spec), e.spec.type_name)
                        .with_description(e.description())
                        .with_mime_type(JSON)
                })
                .collect(),
        )
    }

    /// `resources/list`: the caller's records, [`PAGE_SIZE`] a page.
    pub async fn list(
        &self,
        request: Option<PaginatedRequestParams>,
        context: &RequestContext<RoleServer>,
    ) -> std::result::Result<ListResourcesResult, ErrorData> {
        let scope = caller_scope(&context.extensions);
        self.hub
            .note_lister(context, self.list_prefixes(scope.as_ref()))
            .await;
        let cursor = request.and_then(|r| r.cursor);
        let this = self.clone();
        crate::op::read_with(&self.store, move |_| {
            this.page(scope.as_ref(), cursor.as_deref())
        })
        .await
        .map_err(|e| to_error_data(&e))
    }

    /// One page of the records visible to `scope` after `cursor` (the
    /// stored key of the last record of the page before).
    fn page(&self, scope: Option<&Scope>, cursor: Option<&str>) -> Result<ListResourcesResult> {
        let mut resources = Vec::new();
        let mut last_key = String::new();
        let mut full = false;
        let mut started = cursor.is_none();
        let now = self.store.now_ms();
        for entry in &self.entries {
            let Some(prefix) = entry.prefix(scope) else {
                continue;
            };
            let after = match cursor {
                Some(c) if !started && c.starts_with(&prefix) => {
                    started = true;
                    Some(c)
                }
                _ if !started => continue,
                _ => None,
            };
            let range = KeyRange {
                prefix: prefix.as_bytes(),
                after: after.map(str::as_bytes),
            };
            self.store.scan_stored(range, Order::Forward, |k, v| {
                let key = String::from_utf8_lossy(k);
                let live = envelope::decode_header(&key, v).is_ok_and(|h| !h.is_expired(now));
                if !live {
                    return Ok(ControlFlow::Continue(()));
                }
                if resources.len() == PAGE_SIZE {
                    full = true;
                    return Ok(ControlFlow::Break(()));
                }
                let name = &key[prefix.len()..];
                resources.push(
                    Resource::new(uri::of(entry.spec.namespace, name), name)
                        .with_title(format!("{} {name}", entry.spec.type_name))
                        .with_description(entry.description())
                        .with_mime_type(JSON)
                        .with_size(v.len() as u64),
                );
                last_key = key.into_owned();
                Ok(ControlFlow::Continue(()))
            })?;
            if full {
                break;
            }
        }
        if !started {
            return Err(Error::InvalidCursor {
                type_name: "resources",
                cursor: cursor.unwrap_or_default().to_owned(),
            });
        }
        let mut result = ListResourcesResult::with_all_items(resources);
        result.next_cursor = full.then_some(last_key);
        Ok(result)
    }

    /// `resources/read`: the record's value as JSON, its metadata in `_meta`.
    pub async fn read(
        &self,
        request: ReadResourceRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> std::result::Result<ReadResourceResult, ErrorData> {
        let scope = caller_scope(&context.extensions);
        let (entry, key) = self.locate(&request.uri, scope.as_ref())?;
        let read = entry.read;
        match crate::op::read_with(&self.store, move |store| read(store, &key)).await {
            Ok(Some((value, meta))) => {
                let text = value.to_string();
                let contents = ResourceContents::text(text, request.uri)
                    .with_mime_type(JSON)
                    .with_meta(meta_object(&meta));
                Ok(ReadResourceResult::new(vec![contents]))
            }
            Ok(None) => Err(ErrorData::resource_not_found(
                format!("no record at {}", request.uri),
                None,
            )),
            Err(err) => Err(to_error_data(&err)),
        }
    }

    /// `resources/subscribe` (sessions opened with `initialize`): updates of
    /// the record reach this session as `notifications/resources/updated`.
    pub async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> std::result::Result<(), ErrorData> {
        let scope = caller_scope(&context.extensions);
        let (_, key) = self.locate(&request.uri, scope.as_ref())?;
        self.hub
            .subscribe(
                context,
                key,
                request.uri,
                self.list_prefixes(scope.as_ref()),
            )
            .await
            .map_err(|e| to_error_data(&e))
    }

    /// `resources/unsubscribe`.
    pub fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> std::result::Result<(), ErrorData> {
        let scope = caller_scope(&context.extensions);
        let (_, key) = self.locate(&request.uri, scope.as_ref())?;
        self.hub.unsubscribe(context, &key);
        Ok(())
    }

    /// What a `subscriptions/listen` may have of `requested`: the record
    /// URIs of this set, and list changes.
    pub fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        // The feed runs before the client is told it listens (an embedded
        // store's start is a read in memory; a server's waits for listen).
        if self.store.url().is_none()
            && let Err(err) = self.hub.ensure_feed_now()
        {
            tracing::warn!(%err, "resource notifications: no change feed");
        }
        let mut accepted = SubscriptionFilter::default();
        accepted.resources_list_changed = requested.resources_list_changed;
        accepted.resource_subscriptions = requested.resource_subscriptions.as_ref().map(|uris| {
            uris.iter()
                .filter(|u| uri::parse(u).is_some_and(|(ns, _)| self.entry(ns).is_some()))
                .cloned()
                .collect()
        });
        Some(accepted)
    }

    /// `subscriptions/listen` (protocol 2026-07-28): sends the accepted
    /// URIs' updates and list changes until the client cancels.
    pub async fn listen(&self, context: SubscriptionContext) -> std::result::Result<(), ErrorData> {
        let scope = caller_scope(&context.request_context().extensions);
        let accepted = context.accepted().clone();
        if accepted
            .resource_subscriptions
            .as_ref()
            .is_some_and(|uris| uris.len() > hub::MAX_SUBSCRIBED)
        {
            return Err(ErrorData::invalid_params(
                format!(
                    "one listen may subscribe to {} resources at most",
                    hub::MAX_SUBSCRIBED
                ),
                None,
            ));
        }
        let mut keys = Vec::new();
        for uri in accepted.resource_subscriptions.iter().flatten() {
            let (_, key) = self.locate(uri, scope.as_ref())?;
            keys.push((key, uri.clone()));
        }
        let lists = if accepted.resources_list_changed == Some(true) {
            self.list_prefixes(scope.as_ref())
        } else {
            Vec::new()
        };
        self.hub
            .listen(context, keys, lists)
            .await
            .map_err(|e| to_error_data(&e))
    }

    /// The set's entry for `namespace`.
    fn entry(&self, namespace: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.spec.namespace == namespace)
    }

    /// The entry and stored key a URI names for `scope`.
    fn locate(
        &self,
        uri: &str,
        scope: Option<&Scope>,
    ) -> std::result::Result<(&Entry, String), ErrorData> {
        let (namespace, key) = uri::parse(uri).ok_or_else(|| {
            ErrorData::invalid_params(
                format!("{uri:?} is not a record URI ({SCHEME}namespace/key)"),
                None,
            )
        })?;
        let entry = self.entry(namespace).ok_or_else(|| {
            ErrorData::resource_not_found(
                format!("{uri}: no persisted type with namespace {namespace:?} is served"),
                None,
            )
        })?;
        let prefix = key::namespace_prefix(entry.spec, scope).map_err(|e| to_error_data(&e))?;
        Ok((entry, format!("{prefix}{key}")))
    }

    /// The key prefixes whose records `scope` sees (for list changes).
    fn list_prefixes(&self, scope: Option<&Scope>) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|e| e.prefix(scope))
            .collect()
    }
}

/// The record's metadata as the `_meta` of its contents.
fn meta_object(meta: &Meta) -> MetaObject {
    let time = |t: std::time::SystemTime| humantime::format_rfc3339_millis(t).to_string();
    let record = json!({
        "version": meta.version,
        "createdAt": time(meta.created_at),
        "updatedAt": time(meta.updated_at),
        "expiresAt": meta.expires_at.map(time),
    });
    let mut object = serde_json::Map::new();
    object.insert("mcp-persist/record".into(), record);
    MetaObject(object)
}

/// A store error as the MCP error a client gets.
fn to_error_data(err: &Error) -> ErrorData {
    match err {
        Error::NoScope { .. } | Error::InvalidCursor { .. } => {
            ErrorData::invalid_params(err.to_string(), None)
        }
        Error::Unsupported(_) => ErrorData::invalid_request(err.to_string(), None),
        _ => {
            tracing::error!(%err, "a resource request failed in the store");
            ErrorData::internal_error(err.to_string(), None)
        }
    }
}

/// Serves a [`Resources`] field of your server from its `ServerHandler`
/// impl: `list_resources`, `list_resource_templates`, `read_resource`,
/// `subscribe`, `unsubscribe` (sessions opened with `initialize`),
/// `accepted_subscription_filter` and `listen` (protocol 2026-07-28).
/// The field is a `Resources`, or an `Option<Resources>` (no resources
/// while it is `None`). Advertise them in `get_info` too:
/// `ServerCapabilities::builder().enable_tools().enable_resources()
/// .enable_resources_subscribe().enable_resources_list_changed()`.
///
/// ```
/// use persist_runtime::tools::Resources;
/// use rmcp::model::{ServerCapabilities, ServerConfig};
/// use rmcp::ServerHandler;
///
/// #[derive(Clone)]
/// struct Server {
///     resources: Resources,
/// }
///
/// impl ServerHandler for Server {
///     persist_runtime::serve_resources!(resources); // mcp_persist::serve_resources! in an app
///
///     fn get_info(&self) -> ServerConfig {
///         ServerConfig::new(
///             ServerCapabilities::builder()
///                 .enable_resources()
///                 .enable_resources_subscribe()
///                 .enable_resources_list_changed()
///                 .build(),
///         )
///     }
/// }
/// ```
#[macro_export]
macro_rules! serve_resources {
    ($field:ident) => {
        async fn list_resources(
            &self,
            request: ::core::option::Option<$crate::__rmcp::model::PaginatedRequestParams>,
            context: $crate::__rmcp::service::RequestContext<$crate::__rmcp::RoleServer>,
        ) -> ::core::result::Result<
            $crate::__rmcp::model::ListResourcesResult,
            $crate::__rmcp::ErrorData,
        > {
            $crate::__private::served(&self.$field)?
                .list(request, &context)
                .await
        }

        async fn list_resource_templates(
            &self,
            _request: ::core::option::Option<$crate::__rmcp::model::PaginatedRequestParams>,
            _context: $crate::__rmcp::service::RequestContext<$crate::__rmcp::RoleServer>,
        ) -> ::core::result::Result<
            $crate::__rmcp::model::ListResourceTemplatesResult,
            $crate::__rmcp::ErrorData,
        > {
            ::core::result::Result::Ok($crate::__private::served(&self.$field)?.templates())
        }

        async fn read_resource(
            &self,
            request: $crate::__rmcp::model::ReadResourceRequestParams,
            context: $crate::__rmcp::service::RequestContext<$crate::__rmcp::RoleServer>,
        ) -> ::core::result::Result<
            $crate::__rmcp::model::ReadResourceResponse,
            $crate::__rmcp::ErrorData,
        > {
            $crate::__private::served(&self.$field)?
                .read(request, &context)
                .await
                .map(::core::convert::Into::into)
        }

        #[allow(deprecated)]
        async fn subscribe(
            &self,
            request: $crate::__rmcp::model::SubscribeRequestParams,
            context: $crate::__rmcp::service::RequestContext<$crate::__rmcp::RoleServer>,
        ) -> ::core::result::Result<(), $crate::__rmcp::ErrorData> {
            $crate::__private::served(&self.$field)?
                .subscribe(request, &context)
                .await
        }

        #[allow(deprecated)]
        async fn unsubscribe(
            &self,
            request: $crate::__rmcp::model::UnsubscribeRequestParams,
            context: $crate::__rmcp::service::RequestContext<$crate::__rmcp::RoleServer>,
        ) -> ::core::result::Result<(), $crate::__rmcp::ErrorData> {
            $crate::__private::served(&self.$field)?.unsubscribe(request, &context)
        }

        fn accepted_subscription_filter(
            &self,
            requested: &$crate::__rmcp::model::SubscriptionFilter,
        ) -> ::core::option::Option<$crate::__rmcp::model::SubscriptionFilter> {
            $crate::__private::served(&self.$field)
                .ok()?
                .accepted_subscription_filter(requested)
        }

        async fn listen(
            &self,
            context: $crate::__rmcp::service::SubscriptionContext,
        ) -> ::core::result::Result<(), $crate::__rmcp::ErrorData> {
            match $crate::__private::served(&self.$field) {
                ::core::result::Result::Ok(resources) => resources.listen(context).await,
                ::core::result::Result::Err(_) => {
                    context.cancelled().await;
                    ::core::result::Result::Ok(())
                }
            }
        }
    };
}

/// What [`serve_resources!`] serves: a [`Resources`], or an
/// `Option<Resources>`. Not public API.
#[doc(hidden)]
pub trait ServedResources {
    /// The resources served, if any.
    fn served(&self) -> Option<&Resources>;
}

impl ServedResources for Resources {
    fn served(&self) -> Option<&Resources> {
        Some(self)
    }
}

impl ServedResources for Option<Resources> {
    fn served(&self) -> Option<&Resources> {
        self.as_ref()
    }
}

/// The resources of a [`serve_resources!`] field, or the error of a
/// resource request to a server that serves none. Not public API.
#[doc(hidden)]
pub fn served(field: &impl ServedResources) -> std::result::Result<&Resources, ErrorData> {
    field.served().ok_or_else(|| {
        ErrorData::new(
            rmcp::model::ErrorCode::METHOD_NOT_FOUND,
            "this server serves no resources",
            None,
        )
    })
}

//! Who is calling: the scope a request carries, for the generated tools and
//! for a server's own.

use rmcp::ErrorData;
use rmcp::handler::server::common::{AsRequestContext, FromContextPart};
use rmcp::model::Extensions;

use crate::Scope;

/// The scope of the user a request comes from, or `None` when it carries no
/// identity.
///
/// Where it comes from: stdio serving ([`serve_stdio`](super::serve_stdio))
/// puts the local scope on every request; HTTP serving ([`http`](super::http))
/// puts the scope its resolver gave on the HTTP request, which rmcp hands to
/// the tool with the request's `http::request::Parts`. The generated tools of
/// per-user types use this; a server's own tool can too, from the
/// `RequestContext`'s (or a tool's `Extensions` parameter's) extensions, or
/// more simply by taking a [`Scope`] parameter (see its `FromContextPart`
/// impl).
///
/// ```
/// use persist_runtime::{Scope, tools::caller_scope};
/// use rmcp::{RoleServer, service::RequestContext};
///
/// // In a hand-written `call_tool`, or a #[tool] taking the RequestContext:
/// fn whose(context: &RequestContext<RoleServer>) -> Option<Scope> {
///     caller_scope(&context.extensions)
/// }
/// ```
pub fn caller_scope(extensions: &Extensions) -> Option<Scope> {
    if let Some(scope) = extensions.get::<Scope>() {
        return Some(scope.clone());
    }
    #[cfg(feature = "http")]
    if let Some(parts) = extensions.get::<http::request::Parts>() {
        return parts.extensions.get::<Scope>().cloned();
    }
    None
}

/// A `#[tool]` of your own takes the caller's scope as a parameter
/// (`async fn bump(&self, scope: Scope, ...)`). A request without one is
/// refused with an `invalid_request` error that says so, before the tool
/// runs: never a fallback to shared state.
impl<C: AsRequestContext> FromContextPart<C> for Scope {
    fn from_context_part(context: &mut C) -> Result<Self, ErrorData> {
        caller_scope(&context.as_request_context().extensions).ok_or_else(|| {
            ErrorData::invalid_request(
                "this tool keeps per-user state and the request carries no user: serve it with \
                 serve_stdio or tools::http, or put a Scope in the request's extensions",
                None,
            )
        })
    }
}

//! The door of the HTTP server: a request reaches MCP only at the endpoint's
//! path and with a user its resolver named.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use rmcp::ServerHandler;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use super::metadata::ProtectedResource;
use super::resolve::{Denied, ScopeResolver};

/// What every connection's requests go through.
pub(super) struct Gate<S> {
    pub(super) mcp: StreamableHttpService<S, LocalSessionManager>,
    pub(super) resolver: Arc<dyn ScopeResolver>,
    pub(super) path: Arc<str>,
    pub(super) resource: Option<ProtectedResource>,
}

/// A response body, as rmcp's service gives them.
pub(super) type Body = BoxBody<Bytes, Infallible>;

impl<S: ServerHandler + Send + 'static> Gate<S> {
    /// Answers one request from `peer`.
    pub(super) async fn handle(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Body> {
        if let Some(resource) = &self.resource
            && resource.serves(request.uri().path())
        {
            return metadata(resource, request.method());
        }
        if request.uri().path() != &*self.path {
            return plain(
                StatusCode::NOT_FOUND,
                format!("not found: the MCP endpoint is {}", self.path),
            );
        }
        let (mut head, body) = request.into_parts();
        match self.resolver.resolve(&head).await {
            Ok(scope) => {
                tracing::debug!(%peer, %scope, method = %head.method, "request");
                head.extensions.insert(scope);
                let delete = head.method == Method::DELETE;
                let mut response = self.mcp.handle(Request::from_parts(head, body)).await;
                // rmcp ends a session with `202 Accepted`; the Python SDK
                // takes only 200 or 204 as done (and warns on every close).
                // The session is ended either way: say so with 204.
                if delete && response.status() == StatusCode::ACCEPTED {
                    *response.status_mut() = StatusCode::NO_CONTENT;
                }
                response
            }
            Err(denied) => {
                tracing::info!(%peer, reason = denied.reason(), "refused a request: 401");
                unauthorized(&denied, self.resource.as_ref())
            }
        }
    }
}

/// The RFC 9728 metadata document, to any `GET`.
fn metadata(resource: &ProtectedResource, method: &Method) -> Response<Body> {
    if method != Method::GET {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "GET only".into());
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    json(StatusCode::OK, resource.document())
}

/// `401` with a Bearer challenge (RFC 6750 §3; with `resource_metadata`,
/// RFC 9728 §5.1, when the server names its authorization servers) and the
/// reason as JSON.
fn unauthorized(denied: &Denied, resource: Option<&ProtectedResource>) -> Response<Body> {
    let mut challenge = "Bearer realm=\"mcp\"".to_owned();
    if let Some(resource) = resource {
        challenge += &format!(", resource_metadata=\"{}\"", resource.metadata_url());
    }
    if denied.credentials_given() {
        challenge += &format!(
            ", error=\"invalid_token\", error_description=\"{}\"",
            quoted(denied.reason())
        );
    }
    let body = serde_json::json!({ "error": "unauthorized", "error_description": denied.reason() });
    let mut response = json(StatusCode::UNAUTHORIZED, body.to_string());
    // A challenge that is not a valid header value (a resolver's reason with
    // control characters) falls back to the bare one.
    let value = HeaderValue::from_str(&challenge)
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer realm=\"mcp\""));
    response.headers_mut().insert(WWW_AUTHENTICATE, value);
    response
}

/// `text` fit for a quoted-string: `"` and `\` dropped.
fn quoted(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, '"' | '\\')).collect()
}

/// A response of `status` with the JSON `text` as its body.
fn json(status: StatusCode, text: String) -> Response<Body> {
    let mut response = plain(status, text);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A response of `status` with `text` as its body.
fn plain(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(text)).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

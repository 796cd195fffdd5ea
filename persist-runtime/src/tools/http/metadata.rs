//! [`ProtectedResource`]: the OAuth 2.0 Protected Resource Metadata
//! (RFC 9728) with which MCP clients find where to get a token.

use http::Uri;
use serde_json::json;

use crate::error::{Error, Result};

/// The well-known path of RFC 9728 metadata.
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// What an MCP client needs to obtain a token for this server by OAuth: the
/// server's resource identifier and the authorization servers that issue
/// its tokens (RFC 9728, required by MCP's authorization spec).
///
/// With it, [`HttpServer`](super::HttpServer) serves the metadata document,
/// without authentication, at `/.well-known/oauth-protected-resource` plus
/// the resource's path (and at the bare well-known path), and every `401`
/// names it in `WWW-Authenticate: Bearer resource_metadata="..."`: a client
/// such as the MCP Inspector or Claude then runs the OAuth flow against the
/// authorization server and comes back with a token, which the server's
/// [`ScopeResolver`](super::ScopeResolver) verifies (signature, audience =
/// this resource, expiry) and maps to a user.
///
/// ```
/// use persist_runtime::tools::http::ProtectedResource;
/// let resource = ProtectedResource::new("https://notes.example.com/mcp", ["https://auth.example.com"])?
///     .scopes(["notes"]);
/// assert_eq!(
///     resource.metadata_url(),
///     "https://notes.example.com/.well-known/oauth-protected-resource/mcp"
/// );
/// # Ok::<(), persist_runtime::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProtectedResource {
    resource: String,
    authorization_servers: Vec<String>,
    scopes: Vec<String>,
    origin: String,
    /// The well-known path followed by the resource's path: what `serves`
    /// compares every request's path with, made once.
    metadata_path: String,
}

impl ProtectedResource {
    /// `resource` is this server's MCP endpoint as clients reach it (an
    /// absolute `https` URL, `http` only for loopback development, without
    /// query or fragment); `authorization_servers` the issuers of its tokens
    /// (at least one).
    pub fn new(
        resource: &str,
        authorization_servers: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self> {
        let refuse = |expected: &'static str| Error::InvalidSetting {
            name: "ProtectedResource",
            value: resource.to_owned(),
            expected,
        };
        let uri: Uri = resource
            .parse()
            .map_err(|_| refuse("an absolute URL, e.g. https://mcp.example.com/mcp"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(refuse("an absolute URL, e.g. https://mcp.example.com/mcp"));
        };
        let loopback = matches!(authority.host(), "localhost" | "127.0.0.1" | "[::1]");
        if !(scheme == "https" || scheme == "http" && loopback) {
            return Err(refuse("an https URL (http only for localhost)"));
        }
        if uri.query().is_some() || resource.contains('#') {
            return Err(refuse("a URL without query or fragment (RFC 9728)"));
        }
        let authorization_servers: Vec<String> =
            authorization_servers.into_iter().map(Into::into).collect();
        if authorization_servers.is_empty() {
            return Err(refuse("at least one authorization server"));
        }
        let metadata_path = format!("{WELL_KNOWN}{}", uri.path().trim_end_matches('/'));
        Ok(Self {
            resource: resource.to_owned(),
            authorization_servers,
            scopes: Vec::new(),
            origin: format!("{scheme}://{authority}"),
            metadata_path,
        })
    }

    /// The OAuth scopes clients may ask for (`scopes_supported`).
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Where the metadata document is served (RFC 9728 §3.1: the well-known
    /// path inserted before the resource's path).
    pub fn metadata_url(&self) -> String {
        format!("{}{}", self.origin, self.metadata_path)
    }

    /// Whether a request for `path` asks for the metadata document.
    pub(super) fn serves(&self, path: &str) -> bool {
        path == WELL_KNOWN || path == self.metadata_path
    }

    /// The metadata document.
    pub(super) fn document(&self) -> String {
        let mut document = json!({
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            "bearer_methods_supported": ["header"],
        });
        if !self.scopes.is_empty() {
            document["scopes_supported"] = json!(self.scopes);
        }
        document.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_that_clients_cannot_use_are_refused() {
        for bad in [
            "notes.example.com/mcp",
            "/mcp",
            "http://notes.example.com/mcp",
            "https://notes.example.com/mcp?x=1",
            "https://notes.example.com/mcp#f",
            "ftp://notes.example.com/mcp",
        ] {
            let err = ProtectedResource::new(bad, ["https://auth.example.com"]).map(|_| ());
            assert!(err.is_err(), "{bad}");
        }
        let none: [&str; 0] = [];
        assert!(ProtectedResource::new("https://a.example/mcp", none).is_err());
        assert!(
            ProtectedResource::new("http://127.0.0.1:8080/mcp", ["http://127.0.0.1:9000"]).is_ok()
        );
    }

    #[test]
    fn the_document_and_its_paths_follow_rfc_9728() {
        let resource = ProtectedResource::new("https://a.example/mcp/", ["https://auth.example"])
            .expect("valid")
            .scopes(["notes"]);
        assert!(resource.serves("/.well-known/oauth-protected-resource/mcp"));
        assert!(resource.serves("/.well-known/oauth-protected-resource"));
        assert!(!resource.serves("/mcp"));
        let document: serde_json::Value = serde_json::from_str(&resource.document()).expect("JSON");
        assert_eq!(
            document,
            json!({
                "resource": "https://a.example/mcp/",
                "authorization_servers": ["https://auth.example"],
                "bearer_methods_supported": ["header"],
                "scopes_supported": ["notes"],
            })
        );
    }
}

//! Who is calling, from an HTTP request: the [`ScopeResolver`] seam, its
//! refusal ([`Denied`]) and the resolver for servers behind an
//! authenticating proxy ([`TrustedHeader`]).

use std::future::Future;
use std::pin::Pin;

use http::HeaderName;
use http::request::Parts;

use crate::Scope;
use crate::error::{Error, Result};

/// The future a [`ScopeResolver`] returns.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = Result<Scope, Denied>> + Send + 'a>>;

/// Tells whose request an HTTP request is, before MCP sees it.
///
/// Called once per HTTP request with its head (method, URI, headers and
/// extensions, such as what an outer tower layer put there). `Ok(scope)`:
/// the request goes on to MCP and every per-user tool it calls reaches
/// `scope`'s records. `Err(denied)`: it is answered `401 Unauthorized` with
/// a `WWW-Authenticate: Bearer` challenge, and nothing is read or written.
///
/// Implemented by [`BearerTokens`](super::BearerTokens) (a static map of
/// tokens, for small deployments and examples), [`TrustedHeader`] (behind a
/// proxy that authenticates), and any
/// `Fn(&Parts) -> Result<Scope, Denied>`. A real deployment with OAuth or
/// JWTs implements it over its verifier: verify the token (signature,
/// audience, expiry) and return `Scope::new(subject)`.
///
/// ```
/// use persist_runtime::Scope;
/// use persist_runtime::tools::http::{Denied, Parts, ScopeResolver};
///
/// // Every request with an `X-Api-Key` of "k-alice" is alice's.
/// let resolver = |head: &Parts| match head.headers.get("x-api-key") {
///     Some(key) if key == "k-alice" => Scope::new("alice").map_err(|e| Denied::invalid(e.to_string())),
///     Some(_) => Err(Denied::invalid("unknown API key")),
///     None => Err(Denied::missing("send an X-Api-Key header")),
/// };
/// # fn takes(_: impl ScopeResolver) {}
/// takes(resolver);
/// ```
pub trait ScopeResolver: Send + Sync + 'static {
    /// The scope of the request whose head is `request`, or why it is refused.
    fn resolve<'a>(&'a self, request: &'a Parts) -> Resolving<'a>;
}

impl<F> ScopeResolver for F
where
    F: Fn(&Parts) -> Result<Scope, Denied> + Send + Sync + 'static,
{
    fn resolve<'a>(&'a self, request: &'a Parts) -> Resolving<'a> {
        let resolved = self(request);
        Box::pin(std::future::ready(resolved))
    }
}

/// Why a request was refused: answered `401` with a Bearer challenge
/// (RFC 6750) and the reason in the body and in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    reason: String,
    credentials_given: bool,
}

impl Denied {
    /// The request carries no credentials (no `Authorization` header, say).
    pub fn missing(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            credentials_given: false,
        }
    }

    /// The request carries credentials that do not name a user (an unknown,
    /// expired or malformed token). Challenged with `error="invalid_token"`.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            credentials_given: true,
        }
    }

    /// What was wrong, as the client is told. Never carries a secret.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Whether the request carried credentials (they were refused) or none.
    pub fn credentials_given(&self) -> bool {
        self.credentials_given
    }
}

/// The scope is the value of a header set by an authenticating proxy in
/// front of this server (e.g. `X-Forwarded-User` from oauth2-proxy, or a
/// gateway's `X-User-Id`).
///
/// Only safe when nothing but that proxy can reach the server (it listens on
/// loopback or a private network) and the proxy removes the header from what
/// clients send: whoever can set the header can be anyone.
#[derive(Debug, Clone)]
pub struct TrustedHeader {
    name: HeaderName,
}

impl TrustedHeader {
    /// Reads the scope from header `name` (case-insensitive).
    pub fn new(name: &str) -> Result<Self> {
        let name = HeaderName::try_from(name).map_err(|_| Error::InvalidSetting {
            name: "TrustedHeader",
            value: name.into(),
            expected: "an HTTP header name (letters, digits and `-`)",
        })?;
        Ok(Self { name })
    }
}

impl ScopeResolver for TrustedHeader {
    fn resolve<'a>(&'a self, request: &'a Parts) -> Resolving<'a> {
        let resolved = match request.headers.get(&self.name) {
            None => Err(Denied::missing(format!(
                "no {} header: the proxy in front of this server names the user",
                self.name
            ))),
            Some(value) => value
                .to_str()
                .map_err(|_| format!("the {} header is not visible ASCII", self.name))
                .and_then(|value| Scope::new(value).map_err(|err| err.to_string()))
                .map_err(Denied::invalid),
        };
        Box::pin(std::future::ready(resolved))
    }
}

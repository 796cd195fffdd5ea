//! Serving MCP over streamable HTTP to many users at once, each request's
//! user resolved from the request (feature `http`).
//!
//! ```no_run
//! # async fn run(server: persist_runtime::tools::ToolServer) -> persist_runtime::Result<()> {
//! use persist_runtime::tools::http::{BearerTokens, HttpServer};
//!
//! let tokens = BearerTokens::from_file("tokens".as_ref())?; // tokA=alice, one per line
//! HttpServer::new(server, tokens)
//!     .serve("127.0.0.1:8080".parse().expect("an address"))
//!     .await
//! # }
//! ```
//!
//! Every HTTP request goes through a [`ScopeResolver`] first: a request it
//! refuses is answered `401 Unauthorized` with a `WWW-Authenticate: Bearer`
//! challenge and never reaches MCP; a request it accepts carries the user's
//! [`Scope`](crate::Scope), and every per-user tool it calls reaches that
//! user's records only. The scope is resolved per request, not per session:
//! a session opened with one user's token cannot be used with another's to
//! reach the first user's records.
//!
//! Behind the door is rmcp's `StreamableHttpService`, serving both MCP
//! lifecycles (2026-07-28, and the legacy one that starts with
//! `initialize`). By default every request is answered on its own, with a
//! JSON body when the handler sends nothing before its answer: no session
//! state in the process, so any process serving the store can answer any
//! request, and HTTP clients can keep their connections. Legacy
//! `Mcp-Session-Id` sessions (an SSE stream per client, for servers that
//! push notifications outside a request) are one setting away:
//! `.config(|c| c.with_legacy_session_mode(true))`. `Host` is checked
//! (loopback names by default: set `allowed_hosts` through
//! [`HttpServer::config`] to serve other names).

mod gate;
mod metadata;
mod resolve;
mod tokens;

/// The head of an HTTP request (method, URI, headers, extensions): what a
/// [`ScopeResolver`] reads. Re-exported from the `http` crate.
pub use ::http::request::Parts;
pub use metadata::ProtectedResource;
pub use resolve::{Denied, Resolving, ScopeResolver, TrustedHeader};
pub use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
pub use tokens::BearerTokens;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rmcp::ServerHandler;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio::net::TcpListener;

use super::lifecycle::{Shutdown, check_served, server_name};
use crate::error::{Error, Result};
use gate::Gate;

/// How long a stop waits for open connections to finish their requests.
const DRAIN_WAIT: Duration = Duration::from_secs(2);
/// How long a failing `accept` (out of file descriptors) pauses the loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// An MCP server served over streamable HTTP: a clone of `server` answers
/// each session (legacy lifecycle) or request (stateless lifecycle).
pub struct HttpServer<S> {
    server: S,
    resolver: Arc<dyn ScopeResolver>,
    path: Arc<str>,
    resource: Option<ProtectedResource>,
    config: StreamableHttpServerConfig,
}

impl<S> std::fmt::Debug for HttpServer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("path", &self.path)
            .field("resource", &self.resource)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: ServerHandler + Clone + Send + Sync + 'static> HttpServer<S> {
    /// Serves `server` at `/mcp`, each request's user told by `resolver`,
    /// each request answered on its own (no legacy sessions, JSON answers:
    /// see the [module](self)).
    pub fn new(server: S, resolver: impl ScopeResolver) -> Self {
        Self {
            server,
            resolver: Arc::new(resolver),
            path: "/mcp".into(),
            resource: None,
            config: StreamableHttpServerConfig::default()
                .with_legacy_session_mode(false)
                .with_json_response(true),
        }
    }

    /// The endpoint's path (default `/mcp`); other paths are answered `404`.
    pub fn path(mut self, path: &str) -> Self {
        self.path = path.into();
        self
    }

    /// Serves `resource`'s OAuth metadata (RFC 9728) and names it in every
    /// `401`, so that OAuth-capable MCP clients find where to get a token:
    /// see [`ProtectedResource`]. For deployments whose resolver verifies
    /// OAuth access tokens; static tokens need none of it.
    pub fn protected_resource(mut self, resource: ProtectedResource) -> Self {
        self.resource = Some(resource);
        self
    }

    /// Changes rmcp's settings: allowed hosts and origins, legacy sessions,
    /// JSON responses, SSE keep-alive, the largest request body.
    pub fn config(
        mut self,
        change: impl FnOnce(StreamableHttpServerConfig) -> StreamableHttpServerConfig,
    ) -> Self {
        self.config = change(self.config);
        self
    }

    /// Listens on `addr` and serves until SIGTERM or Ctrl-C (SIGINT), then
    /// stops taking connections, ends open sessions and streams, and returns
    /// once open requests are answered (at most 2 s later). Logs
    /// `listening on http://ADDR/PATH` (with the port really bound, for
    /// port 0) on stderr when ready.
    pub async fn serve(self, addr: SocketAddr) -> Result<()> {
        let mut stop = Shutdown::listen();
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|err| Error::Serve(format!("cannot listen on {addr}: {err}")))?;
        self.serve_on(listener, async move {
            let signal = stop.wait().await;
            tracing::info!(signal, "shutting down");
        })
        .await
    }

    /// Serves on `listener` until `stop` completes (see [`serve`](Self::serve)):
    /// for a server that binds its own socket or stops on its own terms.
    pub async fn serve_on(
        self,
        listener: TcpListener,
        stop: impl Future<Output = ()> + Send,
    ) -> Result<()> {
        check_served(&self.server)?;
        let name = server_name(&self.server);
        let local = listener
            .local_addr()
            .map_err(|err| Error::Serve(format!("the listening socket has no address: {err}")))?;
        let cancel = self.config.cancellation_token.clone();
        let server = self.server;
        let mcp = StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(LocalSessionManager::default()),
            self.config,
        );
        let gate = Arc::new(Gate {
            mcp,
            resolver: self.resolver,
            path: self.path,
            resource: self.resource,
        });
        tracing::info!("{name}: listening on http://{local}{}", gate.path);
        let graceful = GracefulShutdown::new();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => serve_connection(&gate, &graceful, stream, peer),
                    Err(err) => {
                        tracing::warn!(%err, "cannot accept a connection; pausing {ACCEPT_BACKOFF:?}");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
                () = &mut stop => break,
            }
        }
        drop(listener);
        // Ends sessions and SSE streams, so that their connections can close.
        cancel.cancel();
        if tokio::time::timeout(DRAIN_WAIT, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after {DRAIN_WAIT:?}; leaving anyway");
        }
        Ok(())
    }
}

/// Serves one connection's HTTP/1.1 requests on a task of its own.
fn serve_connection<S: ServerHandler + Send + 'static>(
    gate: &Arc<Gate<S>>,
    graceful: &GracefulShutdown,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    // Small requests and answers: do not wait for more to fill a packet.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%err, "TCP_NODELAY not set");
    }
    let gate = Arc::clone(gate);
    let service = service_fn(move |request| {
        let gate = Arc::clone(&gate);
        async move { Ok::<_, std::convert::Infallible>(gate.handle(request, peer).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        // A timer makes hyper drop a client that sends headers too slowly (30 s).
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(%peer, %err, "connection ended with an error");
        }
    });
}

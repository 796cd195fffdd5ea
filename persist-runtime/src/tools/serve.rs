//! Serving over stdio until the client goes away or the process is told to stop.

use std::time::Duration;

use rmcp::{ServerHandler, ServiceExt};

use crate::error::{Error, Result};

/// Serves `server` over stdin/stdout until stdin closes (the client quit) or
/// the process gets SIGTERM or Ctrl-C, then returns, within a second.
///
/// The signal handlers are installed before anything else, so a stop that
/// arrives during the handshake is honoured too. Uses rmcp's non-blocking
/// pipe transport, so no read of stdin is left pending when it returns (a
/// pending blocking read would keep the process alive after `main` returns).
/// Log to stderr: stdout is the protocol.
///
/// Before serving, it checks that every tool generated in this process is
/// served by `server`, and refuses to start otherwise: a server whose
/// `ServerHandler` impl has `#[tool_handler]` without
/// `router = self.tool_router` would silently drop the generated tools.
pub async fn serve_stdio<S: ServerHandler>(server: S) -> Result<()> {
    let missing = super::unserved(|name| server.get_tool(name).is_some());
    if !missing.is_empty() {
        return Err(Error::Serve(format!(
            "generated tools are not served: {}. Serve the merged router: put \
             #[tool_handler(router = self.tool_router)] on the ServerHandler impl \
             (plain #[tool_handler] serves only Self::tool_router())",
            missing.join(", ")
        )));
    }
    let mut stop = Shutdown::listen();
    tracing::info!("serving MCP over stdio");
    let running = tokio::select! {
        running = server.serve(rmcp::transport::stdio_pipes()) => match running {
            Ok(running) => running,
            Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => {
                tracing::info!("the client closed stdin before connecting; shutting down");
                return Ok(());
            }
            Err(err) => return Err(Error::Serve(err.to_string())),
        },
        signal = stop.wait() => {
            tracing::info!(signal, "stopped before the client connected");
            return Ok(());
        }
    };
    let token = running.cancellation_token();
    let waiting = running.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        quit = &mut waiting => {
            let reason = quit.map_err(|e| Error::Serve(e.to_string()))?;
            tracing::info!(?reason, "client disconnected; shutting down");
        }
        signal = stop.wait() => {
            tracing::info!(signal, "shutting down");
            token.cancel();
            if tokio::time::timeout(Duration::from_millis(500), waiting).await.is_err() {
                tracing::warn!("the MCP service did not stop within 500 ms; leaving anyway");
            }
        }
    }
    Ok(())
}

/// SIGTERM and Ctrl-C, listened for from creation on.
struct Shutdown {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let term = signal(SignalKind::terminate())
                .inspect_err(|err| tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops the server"))
                .ok();
            Self { term }
        }
        #[cfg(not(unix))]
        Self {}
    }

    async fn wait(&mut self) -> &'static str {
        #[cfg(unix)]
        if let Some(term) = &mut self.term {
            return tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

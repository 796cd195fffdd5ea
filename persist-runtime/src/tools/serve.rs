//! Serving over stdio until the client goes away or the process is told to stop.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use rmcp::{ServerHandler, ServiceExt};

use super::lifecycle::{Shutdown, check_served, server_name};
use super::stdio::StdioTransport;
use crate::error::{Error, Result};

/// Serves `server` over stdin/stdout until stdin closes (the client quit) or
/// the process gets SIGTERM or Ctrl-C, then returns, within a second.
///
/// Whatever stdin is (a pipe, a socket, a file, a terminal), it is read on a
/// thread of its own that nothing waits for, so the process can always exit
/// when `main` returns. The signal handlers are installed before anything
/// else, so a stop that arrives during the handshake is honoured too.
///
/// Every line that is not a message the server can take gets a JSON-RPC
/// error answer instead of silence (which would leave the client waiting for
/// its own timeout): not JSON (invalid UTF-8, `NaN`, `1e999`) is `-32700`;
/// JSON that is not a request, nesting deeper than 512 levels, or a line over
/// 16 MiB (the lines after it are read as usual) is `-32600`; params that do
/// not fit a known method (`tools/call` with `arguments` an array) are
/// `-32602`. Each carries the request's `id` when it can still be read.
///
/// Per-user records (`scope = "user"`): the one client's scope is
/// [`Scope::local`](crate::Scope::local), `local` unless
/// `MCP_PERSIST_SCOPE` names another.
///
/// Log to stderr: stdout is the protocol ([`init_logging`](super::init_logging)
/// sets that up). Started by hand in a terminal, it says on stderr what it
/// is and how to connect a client to it.
///
/// Before serving, it checks that every tool generated in this process is
/// served by `server`, and refuses to start otherwise: a server whose
/// `ServerHandler` impl has `#[tool_handler]` without
/// `router = self.tool_router` would silently drop the generated tools. A
/// server that reports rmcp's default name ("rmcp") gets a warning.
pub async fn serve_stdio<S: ServerHandler>(server: S) -> Result<()> {
    check_served(&server)?;
    // Checked before anything starts: a bad MCP_PERSIST_SCOPE is an error,
    // never a fallback to another user's records.
    let scope = crate::Scope::local()?;
    let mut stop = Shutdown::listen();
    let name = server_name(&server);
    let (transport, output) = StdioTransport::spawn(std::io::stdin(), std::io::stdout(), scope)?;
    if std::io::stdin().is_terminal() {
        say_hello(&name);
    }
    tracing::info!("serving MCP over stdio");
    let served = serve(server, transport, &mut stop).await;
    output.finish(FLUSH_WAIT).await;
    served
}

/// How long a stop (SIGTERM, Ctrl-C) waits for the service to wind down.
const SERVICE_WAIT: Duration = Duration::from_millis(500);
/// How long leaving waits for stdout to take the last answers (a client that
/// does not read them must not keep the server alive).
const FLUSH_WAIT: Duration = Duration::from_millis(300);

async fn serve<S: ServerHandler>(
    server: S,
    transport: StdioTransport,
    stop: &mut Shutdown,
) -> Result<()> {
    let running = tokio::select! {
        running = server.serve(transport) => match running {
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
            if tokio::time::timeout(SERVICE_WAIT, waiting).await.is_err() {
                tracing::warn!("the MCP service did not stop within {SERVICE_WAIT:?}; leaving anyway");
            }
        }
    }
    Ok(())
}

/// One line on stderr for a person who started the server in a terminal.
fn say_hello(name: &str) {
    let program = std::env::args().next().unwrap_or_else(|| name.to_owned());
    // Written straight to stderr (logging may be off); a failed write is no reason to stop.
    let _ = writeln!(
        std::io::stderr(),
        "{name} is an MCP server: it speaks JSON-RPC on stdin/stdout and is meant to be started \
         by an MCP client. To try it: npx @modelcontextprotocol/inspector {program}  (Ctrl-C stops it)"
    );
}

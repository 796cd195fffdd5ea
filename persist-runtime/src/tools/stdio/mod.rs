//! Our own line-framed stdio transport for rmcp.
//!
//! rmcp's `stdio_pipes()` is non-blocking only when stdin and stdout are both
//! FIFOs; on a terminal, a socket pair or a file it falls back to tokio's
//! blocking stdin, whose pending read keeps the runtime (and so the process)
//! alive after the server stops. Its line reader also drops lines it cannot
//! parse, unanswered.
//!
//! Here stdin is read, and stdout written, by two plain threads of their own
//! (not tokio's blocking pool, which a runtime waits for at shutdown), so a
//! read that never returns holds nothing up: the process exits when `main`
//! returns, whatever stdin is. Every line that is not a message gets a
//! JSON-RPC error answer (see [`inbound`]).

mod inbound;
mod lines;
mod scan;

use std::borrow::Cow;
use std::io::{self, BufReader, Read, Write};
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, JsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::scope::Scope;
use inbound::{Inbound, MAX_LINE_BYTES};

/// Messages read ahead of the service, and lines queued for stdout.
const QUEUE: usize = 64;

/// The reader thread parses on its own stack: deep (but allowed) nesting
/// needs more than a default thread's 2 MiB.
const READER_STACK: usize = 32 * 1024 * 1024;

/// What the writer thread is asked to do.
enum Out {
    Line(Vec<u8>),
    /// Flush and stop: everything queued before it is written first.
    Finish,
}

/// The rmcp side of the transport: messages in, messages out.
pub(crate) struct StdioTransport {
    inbound: mpsc::Receiver<Box<ClientJsonRpcMessage>>,
    outbound: mpsc::Sender<Out>,
    /// The one client's scope, given to every request it sends.
    scope: Scope,
}

/// The serving side's hold on the writer thread, to let it finish.
pub(crate) struct Output {
    outbound: mpsc::Sender<Out>,
    finished: oneshot::Receiver<()>,
}

impl StdioTransport {
    /// Starts the reader thread on `input` and the writer thread on `output`.
    /// Every request read gets `scope` (the client's identity for per-user
    /// records).
    pub(crate) fn spawn(
        input: impl Read + Send + 'static,
        output: impl Write + Send + 'static,
        scope: Scope,
    ) -> Result<(Self, Output)> {
        let (inbound_tx, inbound) = mpsc::channel(QUEUE);
        let (outbound, outbound_rx) = mpsc::channel(QUEUE);
        let (finished_tx, finished) = oneshot::channel();
        let thread_error =
            |err: io::Error| Error::Serve(format!("cannot start a stdio thread: {err}"));
        std::thread::Builder::new()
            .name("mcp-stdout".into())
            .spawn(move || write_lines(output, outbound_rx, finished_tx))
            .map_err(thread_error)?;
        let replies = outbound.clone();
        std::thread::Builder::new()
            .name("mcp-stdin".into())
            .stack_size(READER_STACK)
            .spawn(move || read_lines(input, inbound_tx, replies))
            .map_err(thread_error)?;
        let output = Output {
            outbound: outbound.clone(),
            finished,
        };
        Ok((
            Self {
                inbound,
                outbound,
                scope,
            },
            output,
        ))
    }
}

impl Output {
    /// Writes out what is queued, waiting at most `limit` (a client that does
    /// not read stdout must not keep the server from exiting).
    pub(crate) async fn finish(self, limit: Duration) {
        let flushed = async {
            // An error means the writer has stopped already (stdout closed).
            let _ = self.outbound.send(Out::Finish).await;
            let _ = self.finished.await;
        };
        if tokio::time::timeout(limit, flushed).await.is_err() {
            tracing::warn!(
                ?limit,
                "stdout did not take the last answers in time (is the client reading?); leaving anyway"
            );
        }
    }
}

impl Transport<RoleServer> for StdioTransport {
    type Error = io::Error;

    fn name() -> Cow<'static, str> {
        "mcp-persist stdio".into()
    }

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static {
        let outbound = self.outbound.clone();
        let line = encode(&item);
        async move {
            outbound.send(Out::Line(line?)).await.map_err(|_| {
                io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "stdout is closed: the client went away",
                )
            })
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        let mut message = *self.inbound.recv().await?;
        if let JsonRpcMessage::Request(request) = &mut message {
            request.request.extensions_mut().insert(self.scope.clone());
        }
        Some(message)
    }

    async fn close(&mut self) -> io::Result<()> {
        // The writer is finished by `Output::finish`, after the service has
        // sent its last answers; the reader ends with stdin or the process.
        self.inbound.close();
        Ok(())
    }
}

fn encode(message: &ServerJsonRpcMessage) -> io::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(message).map_err(io::Error::other)?;
    line.push(b'\n');
    Ok(line)
}

/// The reader thread: lines from `input` until it ends or nobody listens.
fn read_lines(
    input: impl Read,
    inbound: mpsc::Sender<Box<ClientJsonRpcMessage>>,
    replies: mpsc::Sender<Out>,
) {
    let mut input = BufReader::with_capacity(64 * 1024, input);
    let mut line = Vec::new();
    loop {
        let got = match lines::read_line(&mut input, &mut line, MAX_LINE_BYTES) {
            Ok(got) => got,
            Err(err) => {
                tracing::warn!(%err, "cannot read stdin; taking it as closed");
                return;
            }
        };
        let fate = match got {
            lines::Line::Eof => {
                tracing::debug!("stdin closed");
                return;
            }
            lines::Line::TooLong => inbound::too_long(&line),
            lines::Line::Complete => inbound::classify(&line),
        };
        let delivered = match fate {
            Inbound::Message(message) => inbound.blocking_send(message).is_ok(),
            Inbound::Reply(reply) => {
                tracing::debug!(?reply, "answered a line that is not a message");
                match encode(&reply) {
                    Ok(bytes) => replies.blocking_send(Out::Line(bytes)).is_ok(),
                    Err(err) => {
                        tracing::error!(%err, "cannot encode an error answer");
                        true
                    }
                }
            }
            Inbound::Skip => true,
        };
        if !delivered {
            return;
        }
    }
}

/// The writer thread: queued lines to `output`, flushed whenever the queue
/// runs dry, until told to finish or `output` fails.
fn write_lines(
    mut output: impl Write,
    mut queue: mpsc::Receiver<Out>,
    finished: oneshot::Sender<()>,
) {
    while let Some(item) = queue.blocking_recv() {
        let Out::Line(line) = item else {
            if let Err(err) = output.flush() {
                tracing::debug!(%err, "cannot flush stdout at the end");
            }
            break;
        };
        let written = output.write_all(&line).and_then(|()| {
            if queue.is_empty() {
                output.flush()
            } else {
                Ok(())
            }
        });
        if let Err(err) = written {
            tracing::warn!(%err, "cannot write to stdout; the client is gone");
            break;
        }
    }
    let _ = finished.send(());
}
